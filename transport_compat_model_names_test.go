package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fireworks names its models "accounts/ACCOUNT/models/NAME", and a vLLM
// server started on a folder serves its model under that folder's path
// ("/models/Qwen2.5-7B-Instruct"). A transport routing by model takes the
// ticket of each request from the limiter of the name the caller sent,
// whole: two accounts' models of the same short name are two models, each
// with its own limits.
func TestTransportRoutesAModelNamedLikeAPathByItsWholeName(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":1,"total_tokens":9}}`)
	}))
	t.Cleanup(srv.Close)
	base := &http.Transport{DisableKeepAlives: true} // no idle connection holds virtual time
	models := []string{
		"accounts/fireworks/models/llama-v3p1-8b-instruct",
		"accounts/my-team/models/llama-v3p1-8b-instruct",
		"/models/Qwen2.5-7B-Instruct",
	}
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor()
		t.Cleanup(func() { m.Stop() })
		svc := NewService("compatible", nil)
		limiters := make([]*BucketRateLimiter, len(models))
		for i, name := range models {
			l, err := svc.NewLimiter(name, 600, WithMonitor(m))
			require.NoError(t, err)
			limiters[i] = l
		}
		client := tpOpenAI(srv.URL, tpTransport(t, base, WithServiceLimiters(svc)))
		for i, name := range models {
			for range i + 1 {
				_, err := client.Chat.Completions.New(context.Background(), tpChat(name))
				require.NoError(t, err, "model %q", name)
			}
		}
		for i, name := range models {
			assert.EqualValues(t, i+1, limiters[i].Stats().Requested, "tickets of %q", name)
			assertSettled(t, limiters[i], i+1)
		}
	})
}
