package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Acquire reads the clock before it takes the lock, and counts the request
// in the minute log at that time. A caller that read it in the last
// instant of a minute, and got the lock after the Monitor took that
// minute's log, must not open a second record of the minute: while the
// limiter is paused that record marks the whole minute paused, seconds
// before the pause began included.
func TestARequestReadJustBeforeTheMinuteEndsLeavesTheMinutesPauseAsItWas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(WithLogDir(t.TempDir()))
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithProbeInterval(time.Hour, time.Hour, 2))
		require.NoError(t, err)
		// Thirty seconds into a minute, a rate limit pauses the limiter.
		time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute + 30*time.Second)))
		minute := time.Now().Unix() - 30
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		giveUp(t, tk, time.Hour)
		time.Sleep(time.Until(time.Unix(minute+60, 0).Add(-time.Millisecond)))

		// A caller reads the clock 1 ms before the minute ends, as Acquire
		// does before it takes the lock, and gets the lock 2 ms later,
		// after the Monitor took the minute's log (its log loop ticks on
		// the whole seconds of the bubble).
		read := l.now()
		time.Sleep(2 * time.Millisecond)
		l.lock()
		require.Nil(t, l.act.rec, "the Monitor took the minute's log")
		l.act.add(l, read, fieldRequested)
		l.mu.Unlock()
		time.Sleep(5 * time.Second)
		require.NoError(t, m.Stop())

		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		s := lf.Series(l.Name())
		off := int(minute - s.Start)
		for sec := range 60 {
			assert.Equal(t, sec >= 30, s.Paused[off+sec], "second %d of the minute paused", sec)
		}
		assert.Equal(t, uint64(2), logSum(s.Requested), "both requests are logged")
		var records int
		for _, r := range lf.Minutes {
			if r.Start == minute {
				records++
			}
		}
		assert.Equal(t, 1, records, "records of the minute")
	})
}
