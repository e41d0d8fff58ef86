package fakeprovider

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimitsRefuseAHugeMaxTokensAsTooLarge(t *testing.T) {
	// max_tokens this large would overflow the bucket's fixed-point
	// arithmetic: the request must be refused as too large, not admitted,
	// and the budget must stay as it was.
	for _, maxTokens := range []string{"200000000", "9223372036854775807"} {
		t.Run(maxTokens, func(t *testing.T) {
			s, _ := newTestServer(t, Config{RPM: 600, TPM: 1000, OutputTPM: 1000})
			w := post(s, "/v1/chat/completions", `{"model":"gpt-4o-mini","max_tokens":`+maxTokens+`,"messages":[{"role":"user","content":"hi"}]}`)
			require.Equal(t, http.StatusTooManyRequests, w.Code, w.Body.String())
			assert.Contains(t, w.Body.String(), "Request too large")
			w = post(s, "/v1/chat/completions", openAIBody)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, "987", w.Header().Get("x-ratelimit-remaining-tokens"), "1 prompt token and 12 reply tokens: the refused request charged nothing")
		})
	}
}

func TestBucketGiveNeverOverflows(t *testing.T) {
	b := newBucket(maxLimit, maxLimit, newClock().Now())
	b.give(maxLimit) // a settled request's unused tokens, after a refill
	assert.Equal(t, int64(maxLimit), b.available(), "a full bucket, not a wrapped one")
}
