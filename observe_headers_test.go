package ratellmiter

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A program that calls through Do hands each response's headers to
// ObserveHeaders: a per-minute request limit below the configured one
// becomes the limit at once, a spent budget holds tickets until its reset,
// and the configured limit comes back when the server reports it.
func TestObserveHeadersTakesInTheServersLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000)
		h := http.Header{}
		h.Set("x-ratelimit-limit-requests", "3000")
		h.Set("x-ratelimit-remaining-requests", "2990")
		h.Set("x-ratelimit-reset-requests", "200ms")
		l.ObserveHeaders(h)
		assert.Equal(t, 3000, l.RPM(), "the server's limit, not the configured one")
		assert.Equal(t, int64(3000), l.Stats().Server.Requests.Limit)

		a := http.Header{}
		a.Set("anthropic-ratelimit-requests-limit", "3000")
		a.Set("anthropic-ratelimit-requests-remaining", "0")
		a.Set("anthropic-ratelimit-requests-reset", time.Now().Add(2*time.Second).UTC().Format(time.RFC3339))
		start := time.Now()
		l.ObserveHeaders(a)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		assert.Equal(t, 2*time.Second, time.Since(start), "held until the reset the server gave")

		h.Set("x-ratelimit-limit-requests", "6000")
		l.ObserveHeaders(h)
		assert.Equal(t, 6000, l.RPM(), "back to the configured limit once the server reports it")

		l.ObserveHeaders(http.Header{"Content-Type": {"application/json"}})
		assert.Equal(t, 6000, l.RPM(), "headers without limits change nothing")
	})
}

// ObserveHeaders on a limiter that cannot issue (closed, or a zero value)
// changes nothing and does not panic.
func TestObserveHeadersOnAClosedOrZeroLimiterChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.Header{}
		h.Set("x-ratelimit-limit-requests", "100")
		h.Set("x-ratelimit-remaining-requests", "0")
		h.Set("x-ratelimit-reset-requests", "30s")

		var zero BucketRateLimiter
		assert.NotPanics(t, func() { zero.ObserveHeaders(h) })

		l := newLimiter(t, 6000)
		require.NoError(t, l.Close())
		l.ObserveHeaders(h)
		assert.Equal(t, 6000, l.RPM(), "a closed limiter keeps its limit")
		assert.Zero(t, l.Stats().Server.Requests.Limit, "a closed limiter takes nothing in")
	})
}
