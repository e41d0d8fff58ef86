package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storedObjectServer starts a real server on 127.0.0.1 that answers
// OpenAI's updates of stored objects as it does: with the object, whose
// usage is that of the call that made it, long before.
func storedObjectServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/chat/completions/"):
			_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",`+
				`"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],`+
				`"usage":{"prompt_tokens":5000,"completion_tokens":800,"total_tokens":5800},"metadata":{"topic":"billing"}}`)
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/threads/thread_1/runs/"):
			_, _ = io.WriteString(w, `{"id":"run_1","object":"thread.run","created_at":1,"thread_id":"thread_1","assistant_id":"asst_1",`+
				`"status":"completed","model":"gpt-4o-mini","instructions":"","tools":[],"metadata":{"topic":"billing"},`+
				`"usage":{"prompt_tokens":5000,"completion_tokens":800,"total_tokens":5800}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Updating the metadata of a stored chat completion (or of an Assistants
// run) runs no model: the answer is the stored object, whose usage is
// that of the call that made it. Charging that usage would hold back
// the calls behind the update for tokens nobody used, as many times as
// a program tags its stored completions.
func TestTransportChargesNoTokensForUpdatingAStoredObject(t *testing.T) {
	srv := storedObjectServer(t)
	meta := map[string]string{"topic": "billing"}
	calls := map[string]func(ctx context.Context, rt http.RoundTripper) error{
		"chat completion": func(ctx context.Context, rt http.RoundTripper) error {
			c := tpOpenAI(srv.URL, rt)
			_, err := c.Chat.Completions.Update(ctx, "chatcmpl-1", openai.ChatCompletionUpdateParams{Metadata: meta})
			return err
		},
		// The SDK's method for it is deprecated with the Assistants API;
		// the request is the one it sends.
		"assistants run": func(ctx context.Context, rt http.RoundTripper) error {
			return postJSON(ctx, rt, srv.URL+"/v1/threads/thread_1/runs/run_1", `{"metadata":{"topic":"billing"}}`,
				http.Header{"Openai-Beta": {"assistants=v2"}})
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			base := &http.Transport{}
			defer base.CloseIdleConnections()
			synctest.Test(t, func(t *testing.T) {
				defer base.CloseIdleConnections()
				// 60,000 tokens a minute banks 1,000: the stored usage
				// of 5,800 would put the budget nearly five seconds in
				// debt.
				l := newLimiter(t, 600, WithTokensPerMinute(60000))
				require.NoError(t, call(context.Background(), tpTransport(t, base, WithLimiter(l))))
				assertSettled(t, l, 1)
				base.CloseIdleConnections() // lets virtual time pass
				time.Sleep(time.Second)     // the next ticket's slot
				tk, ok := l.TryAcquire(WithTokens(990, 0))
				require.True(t, ok, "the update was charged no tokens")
				tk.Done()
				assert.EqualValues(t, 2, l.Stats().Finished)
			})
		})
	}
}
