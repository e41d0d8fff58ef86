package ratellmiter

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A request signed with AWS Signature Version 4 has its 429 handed back
// when its retry cannot go out before its signature grows too old; a
// retry refused for another reason, the limiter closed while it waits,
// fails with the limiter's error, as an unsigned request's does, and
// not with a throttle the caller would take for the server's.
func TestTransportReturnsTheLimitersErrorWhenItClosesWhileASignedRetryWaits(t *testing.T) {
	for _, auth := range []string{
		"AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00",
		"Bearer bedrock-api-key",
	} {
		t.Run(strings.Fields(auth)[0], func(t *testing.T) {
			var calls atomic.Int32
			srv, base := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				calls.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Amzn-ErrorType", "ThrottlingException")
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = io.WriteString(w, `{"message":"Too many requests, please wait before trying again."}`)
			})
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 600)
				client := tpTransport(t, base, WithLimiter(l)).Client()
				type result struct {
					resp *http.Response
					err  error
				}
				done := make(chan result, 1)
				go func() {
					req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"messages":[]}`))
					if err != nil {
						done <- result{nil, err}
						return
					}
					req.URL.Path, req.URL.RawPath = bedrockPath("meta.llama3-8b-instruct-v1:0", "converse")
					req.Header.Set("Authorization", auth)
					resp, err := client.Do(req)
					done <- result{resp, err}
				}()
				time.Sleep(5 * time.Second) // the retry waits out its 30 s
				require.EqualValues(t, 1, calls.Load())
				require.NoError(t, l.Close())
				r := <-done
				if r.resp != nil {
					_ = r.resp.Body.Close()
				}
				assert.True(t, errors.Is(r.err, ErrClosed), "got %v (status %v), want ErrClosed", r.err, statusOfResp(r.resp))
				assert.EqualValues(t, 1, calls.Load())
			})
		})
	}
}

// statusOfResp returns resp's status, or 0 for none.
func statusOfResp(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}
