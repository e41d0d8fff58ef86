package ratellmiter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A 429 that comes with headers saying the day's requests are used up (as
// Groq sends them) cannot be retried today: the caller gets the server's
// answer, as for any retry that is hopeless, not an error of the transport
// in its place. The 429 is an exhausted quota, which pauses nothing.
func TestTransportReturnsA429ItCannotRetryBeforeTheDailyReset(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Ratelimit-Limit-Requests", "14400")
		h.Set("X-Ratelimit-Remaining-Requests", "0")
		h.Set("X-Ratelimit-Reset-Requests", "20h0m0s")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"error":{"message":"Rate limit reached on requests per day (RPD)","type":"requests","code":"rate_limit_exceeded"}}`)
	}))
	t.Cleanup(srv.Close)
	l := newLimiter(t, 600)
	tr := tpTransport(t, nil, WithLimiter(l))
	t.Cleanup(tr.CloseIdleConnections)

	resp, err := tr.Client().Post(srv.URL+"/openai/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err, "the server's answer, not an error of the transport")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Contains(t, string(body), "requests per day")
	assert.EqualValues(t, 1, calls.Load(), "not retried")
	// An exhausted quota: its ticket is abandoned, and the limiter, whose
	// rate the refusal says nothing about, does not pause.
	assertSettled(t, l, 1)
	assert.False(t, l.Stats().Paused, "a spent daily budget pauses nothing")
}
