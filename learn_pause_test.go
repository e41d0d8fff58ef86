package ratellmiter

import (
	"context"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/signals"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A minute spent paused is no clean minute: a learned limit is not raised
// the moment a long pause ends, but a clean minute after it.
func TestALearnedLimitIsNotRaisedByTheTimeSpentPaused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The first pause's probe finds the server open; the second's
		// finds it blocked for a while (1 s, 1.5 s, ... apart, then 65 s).
		svc := newScriptedService(openAnswer, blockedAnswer, blockedAnswer, blockedAnswer,
			blockedAnswer, blockedAnswer, blockedAnswer, blockedAnswer, blockedAnswer, openAnswer)
		l := newLimiter(t, 1200, WithService(svc))
		tk, _ := l.Acquire(context.Background())
		require.NoError(t, <-handBack(tk, time.Second))
		time.Sleep(5 * time.Second)
		start := time.Now()
		require.NoError(t, <-handBack(tk, time.Second)) // paused again soon after: too fast
		tk.Done()
		paused := time.Since(start)
		require.Greater(t, paused, time.Minute, "the second pause lasted over a minute")
		require.Equal(t, 600, l.RPM())

		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		assert.Equal(t, 600, l.RPM(), "the minute paused was not clean")

		time.Sleep(61 * time.Second)
		tk, err = l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		assert.Equal(t, 660, l.RPM(), "a clean minute after the resume adds back 5%%")
	})
}

// A learned limit that grows back to the limit the server reports is done
// with: the limiter does not go on saying it raised a limit it works at
// already, minute after minute.
func TestALearnedLimitEndsAtTheReportedLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &logRecorder{}
		l := newLimiter(t, 6000, WithService(newScriptedService(openAnswer)), WithLogger(slog.New(rec)))
		now := time.Now()
		l.observe(signals.Limits{Requests: signals.Budget{Limit: 600, Remaining: 500, Reset: now.Add(time.Second), Known: true}}, now)
		require.Equal(t, 600, l.RPM())
		tk, _ := l.Acquire(context.Background())
		require.NoError(t, <-handBack(tk, time.Second))
		time.Sleep(5 * time.Second)
		require.NoError(t, <-handBack(tk, time.Second)) // paused again soon after: too fast
		tk.Done()
		require.Equal(t, 300, l.RPM())

		for range 5 {
			time.Sleep(61 * time.Second)
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			tk.Done()
		}
		assert.Equal(t, 600, l.RPM(), "back at the reported limit")
		assert.Zero(t, l.Stats().LearnedRPM, "the learned limit is done with")
		assert.Len(t, rec.matching("limit raised"), 1, "one raise, from 300 to 600 RPM: %q", rec.matching("limit raised"))
	})
}

// Every clean minute adds back its step, whether or not a ticket was asked
// for in it: a limiter that was idle for ten minutes has had ten of them.
func TestALearnedLimitGrowsBackByEveryCleanMinuteOfAnIdleSpell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 1200, WithService(newScriptedService(openAnswer)))
		tk, _ := l.Acquire(context.Background())
		require.NoError(t, <-handBack(tk, time.Second))
		time.Sleep(5 * time.Second)
		require.NoError(t, <-handBack(tk, time.Second)) // paused again soon after: too fast
		tk.Done()
		require.Equal(t, 600, l.RPM())

		time.Sleep(5*time.Minute + time.Second)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		assert.Equal(t, 900, l.RPM(), "five clean minutes add back 5%% of the configured limit each")

		time.Sleep(61 * time.Second)
		tk, ok := l.TryAcquire()
		require.True(t, ok)
		tk.Done()
		assert.Equal(t, 960, l.RPM(), "and the next one its own")

		time.Sleep(time.Hour)
		tk, err = l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		assert.Equal(t, 1200, l.RPM(), "never above the configured limit")
		assert.Zero(t, l.Stats().LearnedRPM)
	})
}
