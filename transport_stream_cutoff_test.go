package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Anthropic reports a stream's usage first in message_start, with
// output_tokens 1, and the final count in message_delta before
// message_stop. A stream the server breaks off with an error event
// (overloaded_error mid-stream, as the API documents) and then ends
// cleanly never reported its output: it keeps its estimate, as a stream
// closed before its end does, rather than being charged one output token.
func TestTransportAnthropicStreamBrokenOffKeepsItsEstimate(t *testing.T) {
	const (
		start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n" +
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hello\"}}\n\n"
		broken = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
		ended  = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
			"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":20}}\n\n" +
			"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	)
	cases := map[string]struct {
		rest    string
		charged bool // still charged its estimate of 50,000 output tokens
	}{
		"broken off": {broken, true},
		"whole":      {ended, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, start)
				w.(http.Flusher).Flush()
				_, _ = io.WriteString(w, c.rest)
			}))
			t.Cleanup(srv.Close)
			base := &http.Transport{DisableKeepAlives: true} // no idle connection holds virtual time
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 600, WithTokensPerMinute(60000)) // 1,000 tokens a second
				client := anthropic.NewClient(
					anthropicoption.WithBaseURL(srv.URL),
					anthropicoption.WithAPIKey("test"),
					anthropicoption.WithHTTPClient(tpTransport(t, base, WithLimiter(l)).Client()),
				)
				params := tpMessage()
				params.MaxTokens = 50000
				st := client.Messages.NewStreaming(context.Background(), params)
				for i := 0; i < 100 && st.Next(); i++ {
				}
				assert.Equal(t, c.charged, st.Err() != nil, "the stream broke off: %v", st.Err())
				require.NoError(t, st.Close())
				assertSettled(t, l, 1)

				time.Sleep(time.Second) // the next ticket's slot
				tk, ok := l.TryAcquire(WithTokens(500, 0))
				assert.Equal(t, !c.charged, ok, "a call of 500 tokens fits a second later only if the usage replaced the estimate")
				tk.Done()
			})
			// Read a byte at a time, so that every line, the first
			// event's included, comes split across reads.
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 600, WithTokensPerMinute(60000))
				resp, err := tpTransport(t, base, WithLimiter(l)).Client().Post(srv.URL+"/v1/messages", "application/json",
					strings.NewReader(`{"model":"claude-haiku-4-5","max_tokens":50000,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
				require.NoError(t, err)
				_, err = io.Copy(io.Discard, iotest.OneByteReader(resp.Body))
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				assertSettled(t, l, 1)
				time.Sleep(time.Second)
				tk, ok := l.TryAcquire(WithTokens(500, 0))
				assert.Equal(t, !c.charged, ok, "read a byte at a time")
				tk.Done()
			})
		})
	}
}
