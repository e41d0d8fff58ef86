package ratellmiter

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTransportRetriesARateLimitWithANilBody runs against a server that
// refuses the first request with a bare 429, through a base RoundTripper
// that hands on an empty body as nil, as http.Client allows of
// RoundTrippers: the transport retries as for any 429.
func TestTransportRetriesARateLimitWithANilBody(t *testing.T) {
	srv, calls := refuseOnceThen(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	inner := &http.Transport{}
	t.Cleanup(inner.CloseIdleConnections)
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := inner.RoundTrip(r)
		if err == nil && resp.ContentLength == 0 {
			_ = resp.Body.Close()
			resp.Body = nil
		}
		return resp, err
	})
	l := newLimiter(t, 600)
	tr := tpTransport(t, base, WithLimiter(l))

	resp, err := tr.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"ok":true}`, string(body))
	assert.EqualValues(t, 2, calls.Load())
	assert.EqualValues(t, 1, l.Stats().RateLimited)
	assert.EqualValues(t, 0, l.Stats().InFlight)
	assertConserved(t, l)
}
