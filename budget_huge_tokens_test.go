package ratellmiter

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A ticket holds its token counts in 32 bits: a larger count must be
// refused, not charged as 2^31-1 tokens, which under a budget of more
// than that lets every such call go at once.
func TestWithTokensRefusesCountsATicketCannotHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000, WithTokensPerMinute(1<<34), WithTokenBurst(time.Minute))
		for _, c := range [][2]int{{1 << 34, 0}, {0, 1 << 34}, {math.MaxInt32 + 1, 0}} {
			_, err := l.Acquire(context.Background(), WithTokens(c[0], c[1]))
			assert.ErrorContains(t, err, "token counts must be in [0, 2147483647]", "WithTokens(%d, %d)", c[0], c[1])
			_, ok := l.TryAcquire(WithTokens(c[0], c[1]))
			assert.False(t, ok)
		}
		tk, err := l.Acquire(context.Background(), WithTokens(math.MaxInt32, math.MaxInt32))
		require.NoError(t, err)
		tk.Done()
		assert.Equal(t, uint64(1), l.Stats().Requested, "refused calls are not counted")
	})
}
