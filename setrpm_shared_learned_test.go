package ratellmiter

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sharedLearnedLimiters returns two limiters configured at 1200 RPM that
// share a quota whose limit one pause, in which the server admitted part
// of the traffic, halved to 600.
func sharedLearnedLimiters(t *testing.T) []*BucketRateLimiter {
	t.Helper()
	ls := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 2, 1200,
		WithService(newScriptedService(openAnswer)))
	time.Sleep(2 * time.Second)             // both have synced
	pauseShared(t, ls, [2]bool{true, true}) // both admitted part of the traffic
	time.Sleep(2 * time.Second)
	for i, l := range ls {
		require.Equal(t, 600, l.RPM(), "p%d: the quota's learned limit", i)
	}
	return ls
}

// SetRPM below a limit learned on a shared quota does not end that limit
// for the other limiters sharing it: it is the quota's, and when the
// quota is no longer held to the lowered limiter's caps (it is raised
// again, or it leaves) they still work at it, not at their configured
// limit, which the server refused.
func TestSetRPMBelowASharedLearnedLimitKeepsItForTheQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ls := sharedLearnedLimiters(t)
		require.NoError(t, ls[0].SetRPM(300))
		assert.Equal(t, 300, ls[0].RPM())
		time.Sleep(3 * time.Second) // the store hears of it
		assert.Equal(t, 600, ls[1].RPM(), "p1 keeps the quota's learned limit")
		assert.Equal(t, 600, ls[1].Stats().LearnedRPM)

		require.NoError(t, ls[0].SetRPM(1200))
		time.Sleep(3 * time.Second)
		for i, l := range ls {
			assert.Equal(t, 600, l.RPM(), "p%d: the learned limit still holds", i)
		}
	})
}

// A clean minute neither raises nor ends a limit learned on a shared
// quota for a limiter whose own limit is below it: the limiter lowered
// to 300 RPM would otherwise end the quota's learned limit of 600 for
// the limiter configured at 1200.
func TestACleanMinuteDoesNotEndASharedLearnedLimitAboveTheLimitersOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ls := sharedLearnedLimiters(t)
		require.NoError(t, ls[0].SetRPM(300))
		time.Sleep(70 * time.Second)
		assert.Equal(t, 300, ls[0].RPM(), "a clean minute later") // p1 is asked for nothing
		time.Sleep(3 * time.Second)                               // the store hears of it
		require.NoError(t, ls[0].SetRPM(1200))
		time.Sleep(3 * time.Second)
		for i, l := range ls {
			assert.Less(t, l.RPM(), 1200, "p%d: the quota's learned limit still holds", i)
		}
	})
}
