package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An idle limiter paused by another's rate limit in the middle of a minute
// is logged as paused from that second on, not from the minute's start.
func TestSharedPauseIsLoggedFromTheSecondItBegan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(WithLogDir(t.TempDir()))
		store := NewMemoryStore()
		var ls []*BucketRateLimiter
		for _, name := range []string{"busy", "idle"} {
			l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName(name),
				WithStore(store, "k", WithProcessID(name)))
			require.NoError(t, err)
			ls = append(ls, l)
		}
		busy, idle := ls[0], ls[1]
		time.Sleep(90 * time.Second) // second 30 of a minute in which idle does nothing
		tk, err := busy.Acquire(context.Background())
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- tk.RateLimited(ctx, 10*time.Second) }()
		time.Sleep(5 * time.Second)
		require.True(t, idle.Stats().Paused, "paused through the shared quota")
		cancel()
		<-done
		require.NoError(t, m.Stop())

		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		found := false
		for _, rec := range lf.Minutes {
			if rec.Limiter != "idle" {
				continue
			}
			pauseAt := -1
			for _, e := range rec.Events {
				if e.Kind == EventPause && pauseAt < 0 {
					pauseAt = e.Second
				}
			}
			if pauseAt < 0 {
				continue
			}
			found = true
			assert.GreaterOrEqual(t, pauseAt, 30, "the pause began at second 30 of the minute or just after")
			for s := range pauseAt {
				assert.False(t, rec.Paused[s], "second %d, before the pause began, logged as paused", s)
			}
			assert.True(t, rec.Paused[pauseAt], "the second the pause began is logged as paused")
		}
		assert.True(t, found, "the idle limiter's log has the pause")
	})
}
