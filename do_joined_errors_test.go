package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchError joins the errors of n items of a batch that failed on their
// own, and then last, as a function that fans a call out returns them.
func batchError(n int, last error) error {
	errs := make([]error, 0, n+1)
	for i := range n {
		errs = append(errs, fmt.Errorf("item %d: %w", i, errors.New("invalid input")))
	}
	return errors.Join(append(errs, fmt.Errorf("item %d: %w", n, last))...)
}

// DefaultClassifier finds the SDK's error anywhere in the chain, as
// errors.As does, however many errors come before it: a 429 behind 20
// failed items of a batch is a rate limit, with the hint of its
// Retry-After, and Do waits it out and calls again.
func TestDoFindsARateLimitBehindManyJoinedErrors(t *testing.T) {
	h := http.Header{}
	h.Set("Retry-After", "5")
	limited := &sdkLikeError{StatusCode: 429, Response: &http.Response{StatusCode: 429, Header: h}}
	assert.Equal(t, Classification{Kind: KindRateLimited, RetryAfter: 5 * time.Second}, DefaultClassifier(batchError(20, limited)))
	assert.Equal(t, KindQuotaExhausted, DefaultClassifier(batchError(20, &QuotaError{Quota: "q"})).Kind)

	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		calls := 0
		start := time.Now()
		v, err := Do(context.Background(), l, func(context.Context) (int, error) {
			calls++
			if calls == 1 {
				return 0, batchError(20, limited)
			}
			return 1, nil
		})
		require.NoError(t, err)
		assert.Equal(t, 1, v)
		assert.Equal(t, 2, calls, "one rate-limited call, one retry")
		assert.Equal(t, 5*time.Second, time.Since(start), "the server's hint")
		assertConserved(t, l)
	})
}
