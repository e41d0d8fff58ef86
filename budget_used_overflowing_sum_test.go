package ratellmiter

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// Used charges a usage above a minute of the token budget as a minute of
// it, even when its two counts are so large that their sum does not fit
// in an int: a call after it waits about a minute, not the thousands of
// minutes that 2 x (2^31-1) tokens would hold the budget for.
func TestUsedChargesAMinuteOfTheBudgetWhenItsCountsOverflowTheirSum(t *testing.T) {
	for _, c := range [][2]int{{math.MaxInt, math.MaxInt}, {math.MaxInt64/2 + 1, math.MaxInt64/2 + 1}} {
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(t, 600, WithTokensPerMinute(100_000))
			tk, err := l.Acquire(context.Background(), WithTokens(10, 10))
			require.NoError(t, err)
			tk.Used(c[0], c[1])
			tk.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			start := time.Now()
			next, err := l.Acquire(ctx, WithTokens(1, 0))
			require.NoError(t, err, "Used(%d, %d): the next call waits at most a minute or so", c[0], c[1])
			next.Done()
			require.LessOrEqual(t, time.Since(start), 2*time.Minute)
			assertConserved(t, l)
		})
	}
}
