package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/signals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// issuedAt takes n tickets from l, one goroutine each, and returns when
// each was issued, after start, in the order they were issued.
func issuedAt(t *testing.T, l *BucketRateLimiter, n int, start time.Time) <-chan time.Duration {
	t.Helper()
	out := make(chan time.Duration, n)
	for range n {
		go func() {
			tk, err := l.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				out <- -1
				return
			}
			out <- time.Since(start)
			tk.Done()
		}()
	}
	return out
}

// SetRPM respaces the tickets already waiting at once, up or down.
func TestSetRPMRespacesTheWaitingTickets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 60) // one a second
		start := time.Now()
		times := issuedAt(t, l, 4, start)
		synctest.Wait()
		assert.Equal(t, time.Duration(0), <-times, "the first at once")
		require.NoError(t, l.SetRPM(600))
		assert.Equal(t, 600, l.RPM())
		for i := 1; i < 4; i++ {
			assert.Equal(t, time.Duration(i)*100*time.Millisecond, <-times, "ticket %d at the new spacing", i)
		}

		require.NoError(t, l.SetRPM(6)) // one every ten seconds
		start = time.Now()
		times = issuedAt(t, l, 2, start)
		assert.Equal(t, 10*time.Second, <-times, "ten seconds after the last ticket, issued just now")
		assert.Equal(t, 20*time.Second, <-times)
		assertConserved(t, l)
	})
}

// The limit worked at stays the least of the configured, reported and
// learned ones: the server's limit holds whatever the configured one,
// and a learned limit not below the new configured one no longer counts.
func TestSetRPMKeepsALowerReportedOrLearnedLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000)
		now := time.Now()
		l.observe(signals.Limits{Requests: signals.Budget{Limit: 3000, Remaining: 2999, Reset: now.Add(time.Second), Known: true}}, now)
		require.Equal(t, 3000, l.RPM())
		require.NoError(t, l.SetRPM(12000))
		assert.Equal(t, 3000, l.RPM(), "the server's limit still holds")
		require.NoError(t, l.SetRPM(1200))
		assert.Equal(t, 1200, l.RPM())
		assert.Equal(t, 1200, l.Stats().ConfiguredRPM)
		require.NoError(t, l.SetRPM(6000))
		assert.Equal(t, 3000, l.RPM(), "the server's limit holds again once the configured one is above it")

		m := newLimiter(t, 1200, WithService(newScriptedService(openAnswer)))
		pauseTwiceQuickly(t, m)
		require.Equal(t, 600, m.RPM(), "learned")
		require.NoError(t, m.SetRPM(2400))
		assert.Equal(t, 600, m.RPM(), "the learned limit still holds")
		require.NoError(t, m.SetRPM(300))
		assert.Equal(t, 300, m.RPM())
		assert.Zero(t, m.Stats().LearnedRPM, "a learned limit above the configured one is done with")
	})
}

func TestSetRPMRefusesBadLimitsAndClosedLimiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 60)
		for _, bad := range []int{0, -1} {
			assert.Error(t, l.SetRPM(bad))
		}
		if maxRPM < int64(^uint(0)>>1) {
			assert.Error(t, l.SetRPM(int(maxRPM+1)))
		}
		assert.Equal(t, 60, l.RPM(), "a refused limit changes nothing")
		require.NoError(t, l.Close())
		assert.ErrorIs(t, l.SetRPM(120), ErrClosed)
		var zero BucketRateLimiter
		assert.ErrorIs(t, zero.SetRPM(120), ErrClosed)
	})
}

// The server's limit holds after the configured one went below it and
// came back, even when the server told the same limit meanwhile, as it
// does in every answer: that limit is at least the lowered configured
// one, which is no news about the server.
func TestSetRPMKeepsTheReportedLimitTheServerRepeatedMeanwhile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000)
		report := func() {
			now := time.Now()
			l.observe(signals.Limits{Requests: signals.Budget{Limit: 3000, Remaining: 2999, Reset: now.Add(time.Second), Known: true}}, now)
		}
		report()
		require.Equal(t, 3000, l.RPM())
		require.NoError(t, l.SetRPM(1200))
		report()
		assert.Equal(t, 1200, l.RPM())
		require.NoError(t, l.SetRPM(6000))
		assert.Equal(t, 3000, l.RPM(), "the server's limit, told again while the configured one was lower, still holds")
	})
}
