package signals

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// OpenAI answers a request larger than a whole minute's token limit with a
// 429 that waiting cannot cure: it is no rate limit.
func TestErrorBodyRequestTooLargeForTheLimitIsNoRateLimit(t *testing.T) {
	body := []byte(`{"error":{"message":"Request too large for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Requested 36837. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`)
	info := ParseErrorBody(http.StatusTooManyRequests, http.Header{}, body, time.Now())
	assert.Equal(t, KindTooLarge, info.Kind)
	assert.Equal(t, "rate_limit_exceeded", info.Code)
	assert.False(t, info.HasRetryAfter)
	assert.Equal(t, "request_too_large", info.Kind.String())

	// Nor does "x-should-retry: false" make it an exhausted quota: the
	// request is too large, whatever the account has left.
	info = ParseErrorBody(http.StatusTooManyRequests, http.Header{"X-Should-Retry": {"false"}}, body, time.Now())
	assert.Equal(t, KindTooLarge, info.Kind)
	assert.Empty(t, info.Quota)

	// An ordinary token rate limit stays one.
	body = []byte(`{"error":{"message":"Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s. Visit https://platform.openai.com/account/rate-limits to learn more.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`)
	info = ParseErrorBody(http.StatusTooManyRequests, http.Header{}, body, time.Now())
	assert.Equal(t, KindRateLimited, info.Kind)
	assert.Equal(t, 2*time.Second, info.RetryAfter)
}
