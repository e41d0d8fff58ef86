package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limiter closed while the sync that asks for the probe lease is on its
// way: the store grants the lease to a closed limiter, which gives it back
// in its final sync, so another limiter probes without waiting for the
// lease to expire.
func TestFinalSyncReleasesAProbeLeaseGrantedAsTheLimiterCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore()
		slow := &slowStore{MemoryStore: mem}
		hang := newScriptedService(func(ctx context.Context) (bool, error) { <-ctx.Done(); return true, ctx.Err() })
		m := NewMonitor()
		t.Cleanup(func() { m.Stop() })
		a := quotaLimiter(t, m, slow, "a", 600, nil, WithService(hang))
		b := quotaLimiter(t, m, mem, "b", 600, nil) // no service: a canary probes
		tk, err := a.Acquire(context.Background())
		require.NoError(t, err)
		refused := handBack(tk, time.Second)
		synctest.Wait()
		require.True(t, b.Stats().Paused || a.Stats().Paused)

		started := make(chan SyncRequest, 16)
		slow.slow(100*time.Millisecond, started)
		for req := range started {
			if req.WantProbe {
				break
			}
		}
		require.NoError(t, a.Close()) // the lease is granted 100 ms later
		assert.ErrorIs(t, <-refused, ErrClosed)
		time.Sleep(time.Second)
		synctest.Wait()
		_, holder := mem.quotaState("quota")
		assert.Empty(t, holder, "the closed limiter gave the lease back")
		assert.Empty(t, hang.callTimes(), "the closed limiter did not probe")

		start := time.Now()
		tk, err = b.Acquire(context.Background()) // the canary
		require.NoError(t, err)
		assert.Less(t, time.Since(start), time.Second, "not when a's lease expires, %v after it was granted",
			DefaultProbeTimeout+leaseMargin)
		tk.Done()
	})
}
