package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leaseHookStore is a MemoryStore that runs hook once, after the first
// sync that asks for the probe lease, before its reply goes back.
type leaseHookStore struct {
	*MemoryStore
	hook func()
}

func (s *leaseHookStore) Sync(ctx context.Context, key string, req SyncRequest) (SyncReply, error) {
	rep, err := s.MemoryStore.Sync(ctx, key, req)
	if req.WantProbe && s.hook != nil {
		s.hook()
		s.hook = nil
	}
	return rep, err
}

// A limiter that asked for the probe lease for its waiter, which gave up
// while the lease was on its way, has no canary to send: it gives the
// lease back, and another limiter with a request probes at once, not when
// the lease expires.
func TestALeaseWhoseWaiterGaveUpIsGivenBackToOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore()
		m := NewMonitor()
		defer m.Stop()
		wctx, cancel := context.WithCancel(context.Background())
		gone := make(chan struct{})
		hooked := &leaseHookStore{MemoryStore: mem, hook: func() { cancel(); <-gone }}
		a := quotaLimiter(t, m, hooked, "a", 600, nil)
		b := quotaLimiter(t, m, mem, "b", 600, nil)
		tk, err := b.Acquire(context.Background())
		require.NoError(t, err)
		giveUp(t, tk, time.Second) // the quota pauses; the probe is due in a second
		synctest.Wait()
		go func() {
			defer close(gone)
			_, err := a.Acquire(wctx) // asks for the lease when the probe is due, then gives up
			assert.ErrorIs(t, err, context.Canceled)
		}()
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		_, holder := mem.quotaState("quota")
		assert.Empty(t, holder, "a has no canary to send: it holds no lease")

		sendsTheCanaryAtOnce(t, b)
		time.Sleep(time.Second)
		assert.False(t, a.Stats().Paused, "a resumes with the quota")
	})
}
