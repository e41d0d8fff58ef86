package ratellmiter

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A closed limiter's learned limit stays as it was: Stats and RPM read
// after Close raise nothing, and its log gets no minute after its close.
func TestAClosedLimiterRaisesNoLearnedLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(WithLogDir(t.TempDir()))
		l, err := NewBucketRateLimiter(1200, WithMonitor(m), WithService(newScriptedService(openAnswer)))
		require.NoError(t, err)
		pauseTwiceQuickly(t, l)
		require.Equal(t, 600, l.RPM())
		require.NoError(t, l.Close())
		closedAt := time.Now().Unix()

		time.Sleep(5*time.Minute + time.Second)
		assert.Equal(t, 600, l.Stats().RPM)
		time.Sleep(2 * time.Minute)
		assert.Equal(t, 600, l.RPM())
		m.Stop()
		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		for _, r := range lf.Minutes {
			assert.LessOrEqual(t, r.Start, closedAt, "a minute after the close: %+v", r.Events)
		}
	})
}
