package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestASharedProgramThatOnlyTriesSendsTheCanaryWhenTheProbeIsDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 1, 600)[0] // no service: canaries decide
		var tk *Ticket
		for tk == nil {
			time.Sleep(10 * time.Millisecond)
			tk, _ = l.TryAcquire()
		}
		giveUp(t, tk, 2*time.Second) // paused, and the ticket given up
		start := time.Now()

		canary := tryForCanary(t, l)
		assert.Less(t, time.Since(start), 3*time.Second, "the canary goes soon after the hint expires")
		_, ok := l.TryAcquire()
		assert.False(t, ok, "one canary at a time")
		canary.Done()
		assert.False(t, l.Stats().Paused, "the canary's success ends the pause")
		var next *Ticket
		for range 20 {
			if next, ok = l.TryAcquire(); ok {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		require.True(t, ok, "tickets flow again")
		next.Done()
		synctest.Wait()
		assertConserved(t, l)
	})
}

// A paused limiter that nobody calls does not ask for the probe lease when
// its probe falls due: holding it with no request to send as the canary
// would keep every limiter sharing the quota paused until it expired.
func TestAnIdleSharedLimiterLeavesTheProbeLeaseToOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemoryStore()
		l := sharedLimiters(t, store, FallbackLocal, 1, 600)[0] // no service: canaries decide
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		giveUp(t, tk, 2*time.Second) // paused; nobody calls after this
		time.Sleep(5 * time.Second)  // the probe is due since 3 s
		synctest.Wait()
		paused, holder := store.quotaState("quota")
		assert.True(t, paused, "the quota is still paused: nobody sent a canary")
		assert.Empty(t, holder, "nobody holds the probe lease")
	})
}
