package ratellmiter

import (
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
		a, b, hang, refused := leaseRivals(t, mem, slow)
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

		assertCanaryComesSoon(t, b)
	})
}
