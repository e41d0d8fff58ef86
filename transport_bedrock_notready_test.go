package ratellmiter

import (
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

// Amazon Bedrock answers 429 both when the caller goes too fast
// (ThrottlingException) and when the model is not ready to serve, as an
// imported model is while it loads (ModelNotReadyException); its
// x-amzn-ErrorType header says which. The second is the model's state,
// not the caller's rate: it pauses the limiter and the call is retried,
// as for an overload, but the limit is not lowered for it.
func TestTransportBedrockModelNotReadyPausesWithoutLoweringTheLimit(t *testing.T) {
	for _, tc := range []struct {
		errorType, message string
		want               int
	}{
		{"ModelNotReadyException", "Model is not ready to serve inference requests.", 1200},
		{"ThrottlingException", "Too many requests, please wait before trying again.", 600},
	} {
		t.Run(tc.errorType, func(t *testing.T) {
			var calls atomic.Int32
			srv, base := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				if calls.Add(1)%2 == 1 {
					w.Header().Set("X-Amzn-ErrorType", tc.errorType+":http://internal.amazon.com/coral/com.amazon.bedrock/")
					w.WriteHeader(http.StatusTooManyRequests)
					_, _ = io.WriteString(w, `{"message":"`+tc.message+`"}`)
					return
				}
				_, _ = io.WriteString(w, `{"type":"message","usage":{"input_tokens":3,"output_tokens":2}}`)
			})
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 1200)
				client := tpTransport(t, base, WithLimiter(l)).Client()
				for range 2 {
					req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(
						`{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`))
					require.NoError(t, err)
					req.URL.Path, req.URL.RawPath = bedrockPath("anthropic.claude-3-5-haiku-20241022-v1:0", "invoke")
					resp, err := client.Do(req)
					require.NoError(t, err)
					assert.Equal(t, http.StatusOK, resp.StatusCode, "the refused call is retried")
					_, _ = io.Copy(io.Discard, resp.Body)
					require.NoError(t, resp.Body.Close())
					time.Sleep(5 * time.Second)
				}
				assert.EqualValues(t, 4, calls.Load())
				assert.EqualValues(t, 2, l.Stats().Pauses)
				assert.Equal(t, tc.want, l.RPM())
				assertConserved(t, l)
			})
		})
	}
}
