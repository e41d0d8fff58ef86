package ratellmiter

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// On Google Vertex AI anthropic-sdk-go sends Anthropic's count_tokens to
// .../publishers/anthropic/models/count-tokens:rawPredict, with the model
// in the body. It runs no model, as on Anthropic's own API: the transport
// charges it no tokens, so a program that counts a prompt before sending
// it is not charged the prompt twice, nor refused a count for a prompt
// larger than a minute's budget.
func TestTransportChargesNoTokensForAVertexTokenCount(t *testing.T) {
	long := strings.Repeat("word ", 3200) // 16,000 bytes: about 4,000 tokens
	var counts atomic.Int32
	srv, base := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if !strings.HasSuffix(r.URL.Path, "/publishers/anthropic/models/count-tokens:rawPredict") || body["model"] == nil {
			http.NotFound(w, r)
			return
		}
		counts.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"input_tokens":4010}`))
	})
	body := `{"anthropic_version":"vertex-2023-10-16","model":"claude-sonnet-4@20250514","messages":[{"role":"user","content":"` + long + `"}]}`
	url := srv.URL + "/v1/projects/my-project/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict"
	// 60,000 tokens a minute banks 1,000, which the count would put
	// 3,000 in debt; under 3,000 a minute the prompt alone is more than a
	// minute's budget, which would refuse the count without sending it.
	for _, tpm := range []int{60000, 3000} {
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(t, 600, WithInputTokensPerMinute(tpm), WithOutputTokensPerMinute(tpm))
			before := counts.Load()
			require.NoError(t, postJSON(context.Background(), tpTransport(t, base, WithLimiter(l)), url, body, nil))
			assert.Equal(t, before+1, counts.Load(), "the count reached the server")
			assertSettled(t, l, 1)
			time.Sleep(time.Second) // the next ticket's slot
			tk, ok := l.TryAcquire(WithTokens(tpm/60-10, 0))
			require.True(t, ok, "under %d tokens a minute, the count was charged no tokens", tpm)
			tk.Done()
		})
	}
}
