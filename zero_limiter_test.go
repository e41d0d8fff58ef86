package ratellmiter

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A BucketRateLimiter not created with NewBucketRateLimiter (a zero value,
// in a struct, say) can issue nothing: it refuses every ticket at once
// with an error wrapping ErrClosed instead of queueing the caller until
// its context ends, and closing it does not panic.
func TestAZeroValueLimiterRefusesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l BucketRateLimiter
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		start := time.Now()
		tk, err := l.Acquire(ctx)
		assert.Nil(t, tk)
		require.ErrorIs(t, err, ErrClosed)
		assert.Zero(t, time.Since(start), "Acquire waited")

		tk, ok := l.TryAcquire()
		assert.False(t, ok)
		assert.Nil(t, tk)

		assert.NotPanics(t, func() {
			assert.NoError(t, l.Close())
			assert.NoError(t, l.Close())
		})
		assertConserved(t, &l)
	})
}

// A Transport not created with NewTransport has no limiter: it sends
// nothing, fails every request with an error wrapping ErrClosed instead
// of panicking, and closes the request's body as a RoundTripper must.
func TestAZeroValueTransportRefusesEveryRequest(t *testing.T) {
	var tr Transport
	body := &closeCounter{r: strings.NewReader(`{"model":"m"}`)}
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/v1/chat/completions", body)
	require.NoError(t, err)
	var resp *http.Response
	require.NotPanics(t, func() { resp, err = tr.RoundTrip(req) })
	assert.Nil(t, resp)
	require.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, int32(1), body.closes.Load(), "the request's body was not closed once")
	assert.NotPanics(t, tr.CloseIdleConnections)
}
