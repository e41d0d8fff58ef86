package ratellmiter

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An overload the server says not to retry ("x-should-retry: false" on a
// 529, or on a 503 with Retry-After) is handed on at once, as the SDKs
// themselves would: one call reaches the server once, and its ticket
// ends once.
func TestTransportDoesNotRetryAnOverloadMarkedShouldRetryFalse(t *testing.T) {
	cases := map[string]struct {
		status int
		header http.Header
	}{
		"529":                  {statusOverloaded, http.Header{"X-Should-Retry": {"false"}}},
		"503 with Retry-After": {http.StatusServiceUnavailable, http.Header{"X-Should-Retry": {"false"}, "Retry-After": {"1"}}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				if hits.Add(1) == 1 {
					for k, v := range c.header {
						w.Header()[k] = v
					}
					w.WriteHeader(c.status)
					_, _ = io.WriteString(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
					return
				}
				_, _ = io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}}`)
			}))
			t.Cleanup(srv.Close)
			base := &http.Transport{DisableKeepAlives: true} // no idle connection holds virtual time
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 600)
				// The SDK keeps its own retries, which honour the header.
				client := anthropic.NewClient(
					anthropicoption.WithBaseURL(srv.URL),
					anthropicoption.WithAPIKey("test"),
					anthropicoption.WithHTTPClient(tpTransport(t, base, WithLimiter(l)).Client()),
				)
				_, err := client.Messages.New(context.Background(), tpMessage())
				var apiErr *anthropic.Error
				require.True(t, errors.As(err, &apiErr), "%v", err)
				assert.Equal(t, c.status, apiErr.StatusCode)
				assert.EqualValues(t, 1, hits.Load(), "the request is not sent again")
				st := l.Stats()
				assert.EqualValues(t, 1, st.Requested)
				assert.EqualValues(t, 1, st.Issued)
				assertSettled(t, l, 1)
			})
		})
	}
}
