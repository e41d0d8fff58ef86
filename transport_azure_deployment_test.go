package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Azure OpenAI's classic paths name the deployment,
// /openai/deployments/NAME/chat/completions?api-version=..., and its quota
// is the deployment's: a request takes the ticket of the deployment's
// limiter, whether its body names no model (as Azure's REST reference
// writes it) or names the model the deployment serves (as clients that
// map a model to a deployment write it). It went to the body's model's
// limiter, or failed with ErrNoLimiter.
func TestServiceLimitersRouteAzureRequestsByTheDeploymentInThePath(t *testing.T) {
	var paths []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		paths = append(paths, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}`)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	svc := NewService("azure-openai", nil)
	t.Cleanup(func() { _ = svc.Close() })
	m := NewMonitor()
	t.Cleanup(func() { _ = m.Stop() })
	limiters := map[string]*BucketRateLimiter{}
	for _, name := range []string{"gpt-4o", "gpt-4o-eu", "embed small"} {
		l, err := svc.NewLimiter(name, 6000, WithMonitor(m))
		require.NoError(t, err)
		limiters[name] = l
	}
	client := tpTransport(t, srv.Client().Transport, WithServiceLimiters(svc)).Client()

	for _, tc := range []struct {
		path, body, want string
	}{
		{"/openai/deployments/gpt-4o/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, "gpt-4o"},
		{"/openai/deployments/gpt-4o-eu/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, "gpt-4o-eu"},
		{"/openai/deployments/embed%20small/embeddings", `{"input":"hi"}`, "embed small"},
	} {
		before := map[string]uint64{}
		for name, l := range limiters {
			before[name] = l.Stats().Finished
		}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost,
			srv.URL+tc.path+"?api-version=2024-10-21", strings.NewReader(tc.body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("api-key", "test")
		resp, err := client.Do(req)
		if !assert.NoError(t, err, tc.path) {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		for name, l := range limiters {
			want := before[name]
			if name == tc.want {
				want++
			}
			assert.Equal(t, want, l.Stats().Finished, "%s: the tickets of %s", tc.path, name)
		}
	}
	assert.Len(t, paths, 3, "every request sent")
}
