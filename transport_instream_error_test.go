package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const anthropicStart = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n"

const responsesStart = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\",\"output\":[],\"usage\":null}}\n\n"

// A stream that answered 200 may fail after it with an error event
// (Anthropic's overloaded_error or rate_limit_error, the Responses API's
// error or response.failed, an exception of Amazon Bedrock's event
// stream). An overload or a rate limit pauses the limiter, as a 529 or a
// 429 would; the call is not sent again (its SDK reports the error), its
// ticket is finished once, and any other error leaves the limiter alone.
func TestTransportPausesTheLimiterWhenAStreamReportsAnOverloadOrRateLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kind   string // anthropic, responses or bedrock
		body   string
		paused bool
	}{
		{"anthropic overloaded", "anthropic", anthropicStart + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n", true},
		{"anthropic rate limited", "anthropic", anthropicStart + "event: error\r\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Rate limited\"}}\r\n\r\n", true},
		{"anthropic api error", "anthropic", anthropicStart + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal server error\"}}\n\n", false},
		{"responses error event", "responses", responsesStart + "event: error\ndata: {\"type\":\"error\",\"sequence_number\":1,\"code\":\"rate_limit_exceeded\",\"message\":\"Rate limit reached\",\"param\":null}\n\n", true},
		{"responses failed, rate limited", "responses", responsesStart + "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":1,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"failed\",\"output\":[],\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"Rate limit reached\"},\"usage\":null}}\n\n", true},
		{"responses failed, server error", "responses", responsesStart + "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":1,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"failed\",\"output\":[],\"error\":{\"code\":\"server_error\",\"message\":\"The server had an error\"},\"usage\":null}}\n\n", false},
		{"bedrock throttled", "bedrock", string(bedrockStream[0]) + string(bedrockThrottled), true},
		{"bedrock unavailable", "bedrock", string(bedrockStream[0]) + string(bedrockException("serviceUnavailableException")), true},
		{"bedrock model error", "bedrock", string(bedrockStream[0]) + string(bedrockException("modelStreamErrorException")), false},
	} {
		for _, budget := range []bool{false, true} {
			name := tc.name
			if budget {
				name += ", token budget"
			}
			t.Run(name, func(t *testing.T) {
				var calls atomic.Int32
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					_, _ = io.Copy(io.Discard, r.Body)
					if tc.kind == "bedrock" {
						w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
					} else {
						w.Header().Set("Content-Type", "text/event-stream")
					}
					_, _ = io.WriteString(w, tc.body)
				}))
				defer srv.Close()
				base := &http.Transport{DisableKeepAlives: true}
				synctest.Test(t, func(t *testing.T) {
					var opts []Option
					if budget {
						opts = append(opts, WithTokensPerMinute(60_000))
					}
					l := newLimiter(t, 600, opts...)
					tr := tpTransport(t, base, WithLimiter(l))
					var err error
					switch tc.kind {
					case "anthropic":
						client := tpAnthropic(srv.URL, tr)
						stream := client.Messages.NewStreaming(context.Background(), tpMessage())
						for stream.Next() {
						}
						err = stream.Err()
						require.NoError(t, stream.Close())
					case "responses":
						client := tpOpenAI(srv.URL, tr)
						stream := client.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
							Model: "gpt-4o",
							Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")},
						})
						for stream.Next() {
						}
						err = stream.Err()
						require.NoError(t, stream.Close())
					case "bedrock":
						req, rerr := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(
							`{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`))
						require.NoError(t, rerr)
						req.URL.Path, req.URL.RawPath = bedrockPath("anthropic.claude-3-5-haiku-20241022-v1:0", "invoke-with-response-stream")
						req.Header.Set("Content-Type", "application/json")
						resp, rerr := tr.Client().Do(req)
						require.NoError(t, rerr)
						got, rerr := io.ReadAll(resp.Body)
						require.NoError(t, rerr)
						require.NoError(t, resp.Body.Close())
						require.Equal(t, tc.body, string(got), "the caller reads the stream as it was sent")
					}
					if tc.kind != "bedrock" && tc.kind != "responses" {
						require.Error(t, err, "the SDK reports the stream's error")
					}
					synctest.Wait()
					assert.EqualValues(t, 1, calls.Load(), "the call is not sent again")
					assert.Equal(t, tc.paused, l.Stats().Paused, "the limiter is paused")
					assertSettled(t, l, 1)
					base.CloseIdleConnections()
				})
			})
		}
	}
}

// bedrockException is the exception message of an AWS event stream of
// type typ.
func bedrockException(typ string) []byte {
	return eventMessage([][2]string{
		{":exception-type", typ}, {":content-type", "application/json"}, {":message-type", "exception"},
	}, []byte(`{"message":"`+typ+`"}`))
}

// An overload a stream reports after its answer began says nothing of the
// rate: soon after a pause for a rate limit it pauses the limiter again
// but keeps its limit, where a rate limit it reports halves it, as a 429
// would.
func TestTransportKeepsTheLimitWhenAStreamReportsAnOverloadSoonAfterAPause(t *testing.T) {
	for _, tc := range []struct {
		errType string
		want    int
	}{{"overloaded_error", 1200}, {"rate_limit_error", 600}} {
		t.Run(tc.errType, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, anthropicStart+"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\""+tc.errType+"\",\"message\":\"x\"}}\n\n")
			}))
			defer srv.Close()
			base := &http.Transport{DisableKeepAlives: true}
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 1200)
				refused := false
				_, err := Do(context.Background(), l, func(context.Context) (int, error) {
					if !refused {
						refused = true
						return 0, &sdkLikeError{StatusCode: http.StatusTooManyRequests}
					}
					return 1, nil
				})
				require.NoError(t, err, "refused, then admitted as the canary")
				require.False(t, l.Stats().Paused)
				time.Sleep(5 * time.Second)

				client := tpAnthropic(srv.URL, tpTransport(t, base, WithLimiter(l)))
				stream := client.Messages.NewStreaming(context.Background(), tpMessage())
				for stream.Next() {
				}
				require.Error(t, stream.Err())
				require.NoError(t, stream.Close())
				assert.True(t, l.Stats().Paused, "paused again")
				assert.EqualValues(t, 2, l.Stats().Pauses)
				assert.Equal(t, tc.want, l.RPM())
				base.CloseIdleConnections()
			})
		})
	}
}
