package ratellmiter

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// statusAndBodyError is an error shaped as many HTTP clients' are: the
// status in an HTTPStatusCode field and the body as it came.
type statusAndBodyError struct {
	HTTPStatusCode int
	Body           string
}

func (e *statusAndBodyError) Error() string { return fmt.Sprintf("status %d", e.HTTPStatusCode) }

// An error that carries its status in an HTTPStatusCode field and its
// body in a Body field is read as the transport reads that response.
func TestDefaultClassifierReadsAnHTTPStatusCodeFieldAndItsBody(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want Classification
	}{
		{"a 429 with a hint", &statusAndBodyError{429, `{"error":{"message":"Rate limit reached. Please try again in 1.5s.","code":"rate_limit_exceeded"}}`},
			Classification{Kind: KindRateLimited, RetryAfter: 1500 * time.Millisecond}},
		{"a used-up quota", &statusAndBodyError{429, `{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}`},
			Classification{Kind: KindQuotaExhausted, Quota: "insufficient_quota"}},
		{"a 429 in plain text, wrapped", fmt.Errorf("call: %w", &statusAndBodyError{429, "Too Many Requests"}),
			Classification{Kind: KindRateLimited}},
		{"a 529", &statusAndBodyError{529, ""}, Classification{Kind: KindOverloaded}},
		{"a 400", &statusAndBodyError{400, `{"error":{"message":"bad"}}`}, Classification{}},
		{"a typed nil", (*statusAndBodyError)(nil), Classification{}},
	} {
		assert.Equal(t, tc.want, DefaultClassifier(tc.err), tc.name)
	}
}
