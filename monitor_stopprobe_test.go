package ratellmiter

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// While Stop waits for the Monitor's goroutines (here the final sync of a
// limiter sharing a quota, with a store that does not answer), a paused
// limiter whose probe falls due cannot start it any more. It must wait for
// Stop to end its pause, not fire its timer again and again: that spin
// keeps the clock from moving, so under synctest Stop never returns.
func TestAProbeDueWhileTheMonitorStopsWaitsForTheStop(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		synctest.Test(t, func(t *testing.T) {
			m := NewMonitor()
			paused, err := NewBucketRateLimiter(600, WithMonitor(m), WithService(newScriptedService(openAnswer)))
			require.NoError(t, err)
			slow := &slowStore{MemoryStore: NewMemoryStore()}
			shared := quotaLimiter(t, m, slow, "a", 600, []StoreOption{WithSyncTimeout(2 * time.Second)})

			tk, err := paused.Acquire(context.Background())
			require.NoError(t, err)
			giveUp(t, tk, time.Second) // its probe is due in a second
			tk, err = shared.Acquire(context.Background())
			require.NoError(t, err)
			slow.slow(-1, nil)         // the store stops answering
			giveUp(t, tk, time.Minute) // news for the final sync to tell
			start := time.Now()
			require.NoError(t, m.Stop())
			assert.GreaterOrEqual(t, time.Since(start), 2*time.Second, "Stop waited for the final sync")
			assert.False(t, paused.Stats().Paused, "Stop ended the pause")
		})
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Stop did not return: a limiter spun on a probe it could not start")
	}
}

// Stop cancels a probe that is running: the probe has no answer, and the
// limiter must not take the cancellation for a failed probe. The log shows
// the pause and nothing of a probe that failed.
func TestStopDuringAProbeLogsNoFailedProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(WithLogDir(t.TempDir()))
		hang := newScriptedService(func(ctx context.Context) (bool, error) { <-ctx.Done(); return true, ctx.Err() })
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"), WithService(hang))
		require.NoError(t, err)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		giveUp(t, tk, time.Second)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Len(t, hang.callTimes(), 1, "the probe is running")
		require.NoError(t, m.Stop())

		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		var kinds []string
		for _, rec := range lf.Minutes {
			for _, e := range rec.Events {
				kinds = append(kinds, e.Kind)
				assert.NotContains(t, e.Detail, "probe failed", "a probe cancelled by Stop is no failed probe")
			}
		}
		assert.Equal(t, []string{EventPause}, kinds)
	})
}

// A limiter sharing a quota whose Monitor stops while it probes gives the
// probe lease back with the probe still due: the cancelled probe found
// nothing, so the other limiters sharing the quota probe at once rather
// than a probe interval later.
func TestStopDuringAProbeLeavesTheSharedProbeDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore()
		hang := newScriptedService(func(ctx context.Context) (bool, error) { <-ctx.Done(); return true, ctx.Err() })
		m1, m2 := NewMonitor(), NewMonitor()
		t.Cleanup(func() { m2.Stop() })
		a := quotaLimiter(t, m1, mem, "a", 600, nil, WithService(hang))
		b := quotaLimiter(t, m2, mem, "b", 600, nil) // no service: a canary probes
		tk, err := a.Acquire(context.Background())
		require.NoError(t, err)
		giveUp(t, tk, time.Second)
		time.Sleep(1500 * time.Millisecond) // a's probe is due, leased and running
		synctest.Wait()
		_, holder := mem.quotaState("quota")
		require.Equal(t, "a", holder)
		require.Len(t, hang.callTimes(), 1)
		require.True(t, b.Stats().Paused)

		require.NoError(t, m1.Stop())
		assertCanaryComesSoon(t, b)
	})
}

// Stop cancels a running probe and waits for it: a probe that honours its
// context but takes a moment to wind down (a request being torn down)
// has returned when Stop returns. One that ignores its context is waited
// for up to its timeout, no longer.
func TestStopWaitsForTheProbeItCancels(t *testing.T) {
	for _, tc := range []struct {
		name     string
		windDown time.Duration // how long the probe runs on once cancelled
		stopIn   time.Duration // how long Stop takes
		running  bool          // whether the probe still runs after Stop
	}{
		{"honours its context", 10 * time.Millisecond, 10 * time.Millisecond, false},
		{"ignores its context", time.Hour, 4 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var running atomic.Bool
				release := make(chan struct{})
				svc := newScriptedService(func(ctx context.Context) (bool, error) {
					running.Store(true)
					defer running.Store(false)
					<-ctx.Done()
					select {
					case <-time.After(tc.windDown):
					case <-release:
					}
					return true, ctx.Err()
				})
				m := NewMonitor()
				l, err := NewBucketRateLimiter(600, WithMonitor(m), WithService(svc), WithProbeTimeout(5*time.Second))
				require.NoError(t, err)
				tk, err := l.Acquire(context.Background())
				require.NoError(t, err)
				giveUp(t, tk, time.Second) // the probe starts in a second
				time.Sleep(2 * time.Second)
				require.True(t, running.Load(), "the probe is running")
				start := time.Now()
				require.NoError(t, m.Stop())
				assert.Equal(t, tc.stopIn, time.Since(start))
				assert.Equal(t, tc.running, running.Load())
				close(release)
			})
		})
	}
}
