package ratellmiter

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A nil *RateLimitError or *QuotaError earlier in a chain (the typed-nil
// slip of one item of a batch) does not hide a real one after it: the
// classifier reads the first that is not nil, as it would without the
// slip.
func TestClassifierLooksPastATypedNilToTheRealErrorBehindIt(t *testing.T) {
	limited := &RateLimitError{RetryAfter: 3 * time.Second}
	assert.Equal(t,
		Classification{Kind: KindRateLimited, RetryAfter: 3 * time.Second},
		DefaultClassifier(errors.Join((*RateLimitError)(nil), limited)))
	assert.Equal(t,
		Classification{Kind: KindQuotaExhausted, Quota: "daily"},
		DefaultClassifier(errors.Join((*QuotaError)(nil), &QuotaError{Quota: "daily"})))
	// Behind a batch of ordinary errors too.
	assert.Equal(t,
		Classification{Kind: KindRateLimited, RetryAfter: 3 * time.Second},
		DefaultClassifier(batchError(5, errors.Join((*RateLimitError)(nil), limited))))
	// A typed nil alone still says nothing.
	assert.Equal(t, Classification{}, DefaultClassifier(errors.Join((*RateLimitError)(nil), errors.New("other"))))
}
