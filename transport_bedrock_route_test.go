package ratellmiter

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bedrockPath returns the path anthropic-sdk-go's bedrock package sends a
// call for model to, with method "invoke" or
// "invoke-with-response-stream": the model escaped as a query, so that the
// colons of its version and the slash of an ARN travel as %3A and %2F.
func bedrockPath(model, method string) (path, rawPath string) {
	return "/model/" + model + "/" + method, "/model/" + url.QueryEscape(model) + "/" + method
}

// On Amazon Bedrock the model is in the path, /model/{modelId}/invoke,
// and the body has none: a transport routing by model takes the ticket
// of the model the path names, whether it is a model id, a cross-region
// inference profile or an inference profile's ARN, streamed or not.
func TestTransportRoutesABedrockRequestByTheModelInItsPath(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv, base := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"type":"message","usage":{"input_tokens":3,"output_tokens":2}}`)
	})
	models := []string{
		"anthropic.claude-3-5-haiku-20241022-v1:0",
		"us.anthropic.claude-sonnet-4-20250514-v1:0",
		"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
	}
	svc := NewService("bedrock", nil)
	t.Cleanup(func() { _ = svc.Close() })
	m := NewMonitor()
	t.Cleanup(func() { _ = m.Stop() })
	limiters := map[string]*BucketRateLimiter{}
	for _, model := range models {
		l, err := svc.NewLimiter(model, 600, WithMonitor(m))
		require.NoError(t, err)
		limiters[model] = l
	}
	client := tpTransport(t, base, WithServiceLimiters(svc)).Client()

	for _, model := range models {
		for _, method := range []string{"invoke", "invoke-with-response-stream"} {
			req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(
				`{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`))
			require.NoError(t, err)
			req.URL.Path, req.URL.RawPath = bedrockPath(model, method)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			require.NoError(t, err, "%s %s", model, method)
			_, _ = io.Copy(io.Discard, resp.Body)
			require.NoError(t, resp.Body.Close())
		}
	}
	for _, model := range models {
		st := limiters[model].Stats()
		assert.Equal(t, [2]uint64{2, 2}, [2]uint64{st.Issued, st.Finished}, "%s: issued, finished", model)
	}
	assert.Len(t, seen, 2*len(models), "every call reached the server")
}
