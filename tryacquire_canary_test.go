package ratellmiter

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A canary taken with TryAcquire that never comes back counts as blocked
// at its timeout, whether or not another ticket takes the lock meanwhile:
// the next probe is due a probe interval after the timeout, and Stats
// says when.
func TestATriedCanaryThatNeverComesBackTimesOutOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithProbeInterval(time.Second, 10*time.Second, 2), WithProbeTimeout(5*time.Second))
		tk, ok := l.TryAcquire()
		require.True(t, ok)
		giveUp(t, tk, 0) // paused; the first probe in a second
		// The probe is due before anyone tries: the canary goes with
		// the first TryAcquire after it.
		time.Sleep(1500 * time.Millisecond)
		canary, ok := l.TryAcquire()
		require.True(t, ok, "the canary")
		sent := time.Now()
		defer canary.Done()

		// Unanswered at 5 s, the canary counts as blocked: the next
		// probe is 2 s later (the interval doubled).
		time.Sleep(6 * time.Second)
		assert.Equal(t, sent.Add(7*time.Second), l.Stats().NextProbe, "the next probe after the canary's timeout")
		time.Sleep(time.Second + time.Millisecond)
		next, ok := l.TryAcquire()
		require.True(t, ok, "no canary when the next probe is due")
		next.Done()
		assert.False(t, l.Stats().Paused)
	})
}
