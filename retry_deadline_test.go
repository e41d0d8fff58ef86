package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A rate-limited ticket waits behind the retries already waiting: with
// three ahead of it at a ticket a second, a deadline 2 s after the probe
// is out of reach, and RateLimited says so at once.
func TestARetryBehindOtherRetriesFailsAnUnreachableDeadlineAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 60, WithRampUp(1, 1), WithService(newScriptedService(openAnswer)))
		var tks []*Ticket
		for range 4 {
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			tks = append(tks, tk)
		}
		var retried []<-chan error
		for _, tk := range tks[:3] {
			retried = append(retried, handBack(tk, 0))
			synctest.Wait()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		err := tks[3].RateLimited(ctx, 0)
		assert.ErrorIs(t, err, ErrWouldExceedDeadline)
		assert.Zero(t, time.Since(start), "failed at once")
		for i, r := range retried {
			require.NoError(t, <-r)
			tks[i].Done()
		}
	})
}

// A call that a token budget holds while others are in flight waits for
// them: the usage they report may give back what it needs, so the
// deadline is not judged out of reach before that.
func TestATokenBudgetWaitsForTheUsageOfCallsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000, WithTokensPerMinute(6000)) // 100 a second
		a, err := l.Acquire(context.Background(), WithTokens(100, 4000))
		require.NoError(t, err)
		go func() {
			time.Sleep(300 * time.Millisecond)
			a.Used(100, 50) // a short answer: 3,950 come back
			a.Done()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		b, err := l.Acquire(ctx, WithTokens(50, 0)) // 41 s by refill alone
		require.NoError(t, err)
		b.Done()
		assert.Less(t, time.Since(start), 2*time.Second)
	})
}
