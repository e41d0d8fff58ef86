package ratellmiter

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// A per-minute request budget used up, whose reset a server with a clock
// a second ahead puts a minute after its own time, holds the limiter until
// the reset: it is no daily budget, whose refusal would fail every call.
func TestASpentMinuteBudgetOnAServerClockAheadHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 50)
		now := time.Now()
		server := now.Add(time.Second) // within the skew taken for truncation and travel
		h := http.Header{}
		h.Set("Date", server.UTC().Format(http.TimeFormat))
		h.Set("Anthropic-Ratelimit-Requests-Limit", "50")
		h.Set("Anthropic-Ratelimit-Requests-Remaining", "0")
		h.Set("Anthropic-Ratelimit-Requests-Reset", server.Add(time.Minute).UTC().Format(time.RFC3339))
		l.observe(signals.ParseHeaders(h, now), now)

		tk, err := l.Acquire(context.Background())
		require.NoError(t, err, "a minute's budget is waited for")
		assert.Equal(t, 61*time.Second, time.Since(now), "until the reset")
		tk.Done()
	})
}
