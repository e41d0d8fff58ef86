package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limiter of 1200 RPM sharing a quota with one of 600 RPM works at the
// 600 the store holds the quota to. When the server refuses that rate and
// the limiter learns from the pause, it halves the rate the quota ran at,
// 600, not its own 1200: halving that would give 600, the rate just
// refused, and the quota would learn nothing.
func TestLimitLearnedOnAQuotaOfMixedCapsHalvesTheCapsInForce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemoryStore()
		newLimiter := quotaSharer(t, store, WithService(newScriptedService(openAnswer)))
		hi, lo := newLimiter("hi", 1200), newLimiter("lo", 600)
		time.Sleep(2 * time.Second) // both have synced: hi is held to 600
		first, err := hi.Acquire(context.Background())
		require.NoError(t, err)
		time.Sleep(100 * time.Millisecond)
		second, err := hi.Acquire(context.Background())
		require.NoError(t, err)
		retried := handBack(first, 5*time.Second)
		synctest.Wait()
		second.Done() // admitted: its success comes back during the pause
		require.NoError(t, <-retried)
		first.Done()
		time.Sleep(2 * time.Second)
		for _, l := range []*BucketRateLimiter{hi, lo} {
			assert.False(t, l.Stats().Paused)
			assert.Equal(t, 300, l.RPM(), "%s: the 600 RPM the quota was refused at, halved", l.name)
		}
	})
}
