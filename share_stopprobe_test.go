package ratellmiter

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gateStore is a MemoryStore whose syncs that ask for the probe lease wait
// for the test to let them through, whatever their context says: a store
// may finish a sync it has begun.
type gateStore struct {
	*MemoryStore
	mu      sync.Mutex
	closed  bool
	gate    chan struct{}
	waiting chan struct{}
}

func (s *gateStore) Sync(ctx context.Context, key string, req SyncRequest) (SyncReply, error) {
	s.mu.Lock()
	hold := req.WantProbe && !s.closed
	if hold {
		s.closed = true
	}
	s.mu.Unlock()
	if hold {
		close(s.waiting)
		<-s.gate
		ctx = context.WithoutCancel(ctx) // begun: it completes
	}
	return s.MemoryStore.Sync(ctx, key, req)
}

// A limiter granted the probe lease as its Monitor stops cannot start the
// probe. The lease it gives back in its final sync leaves the probe due
// for the other limiters sharing the quota, not put off for ever.
func TestALeaseGrantedAsTheMonitorStopsLeavesTheProbeDueForOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore()
		gate := &gateStore{MemoryStore: mem, gate: make(chan struct{}), waiting: make(chan struct{})}
		m1 := NewMonitor()
		m2 := NewMonitor()
		t.Cleanup(func() { m2.Stop() })
		quotaLimiter(t, m1, gate, "a", 600, nil, WithService(newScriptedService(openAnswer)))
		b := quotaLimiter(t, m2, mem, "b", 600, nil) // no service: a canary probes

		tk, err := b.Acquire(context.Background())
		require.NoError(t, err)
		giveUp(t, tk, time.Second) // the quota pauses; the probe is due in a second
		<-gate.waiting             // a asks for the probe lease
		stopped := make(chan error, 1)
		go func() { stopped <- m1.Stop() }()
		synctest.Wait() // Stop waits for a's sync
		close(gate.gate)
		require.NoError(t, <-stopped)

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		tk, err = b.Acquire(ctx) // the canary
		require.NoError(t, err, "the probe is due: b sends the canary")
		assert.Less(t, time.Since(start), 5*time.Second)
		tk.Done()
		assert.False(t, b.Stats().Paused, "the canary resumed the quota")
	})
}
