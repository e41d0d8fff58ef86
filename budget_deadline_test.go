package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Behind a head the token budget holds for 30 s, a 5 s deadline is out of reach.
func TestBudgetHeldHeadFailsTheDeadlinesBehindItAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000, WithTokensPerMinute(6000), WithTokenBurst(time.Minute))
		a, err := l.Acquire(context.Background(), WithTokens(3000, 0))
		require.NoError(t, err)
		a.Done()
		go func() { // needs the full bank: 30 s
			if tk, err := l.Acquire(context.Background(), WithTokens(6000, 0)); err == nil {
				tk.Done()
			}
		}()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err = l.Acquire(ctx, WithTokens(1, 0))
		assert.ErrorIs(t, err, ErrWouldExceedDeadline)
		assert.Zero(t, time.Since(start), "failed at once")
	})
}

// Token-less calls ahead go while a token call's budget refills: its wait
// is the refill's, not the refill's plus their spacing.
func TestBudgetWaitOverlapsTheSpacingOfThoseAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 60, WithTokensPerMinute(600)) // a ticket a second, 10 tokens a second
		a, err := l.Acquire(context.Background(), WithTokens(100, 0))
		require.NoError(t, err)
		a.Done()
		for range 3 { // issued at 1, 2 and 3 s
			go func() {
				if tk, err := l.Acquire(context.Background()); err == nil {
					tk.Done()
				}
			}()
			synctest.Wait()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 11*time.Second)
		defer cancel()
		start := time.Now()
		tk, err := l.Acquire(ctx, WithTokens(10, 0)) // the budget has room at 10 s
		require.NoError(t, err)
		tk.Done()
		assert.Equal(t, 10*time.Second, time.Since(start))
	})
}
