package main

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// DefaultClassifier reads the errors of the AWS SDK's Bedrock runtime
// client, which carry their status through an HTTPStatusCode() method and
// their headers in a response that embeds the *http.Response: a 429
// ThrottlingException is a rate limit, with the Retry-After its headers
// give, a 429 ModelNotReadyException and a 503 ServiceUnavailableException
// are overloads, and a 400 is no signal at all.
func TestDefaultClassifierReadsTheErrorsOfTheAWSSDK(t *testing.T) {
	fake := startRuntime(t, answerIn, answerOut)
	c := newRuntimeClient(fake, runtimeTransport(t, fake))
	for _, tc := range []struct {
		status int
		typ    string
		header http.Header
		want   ratellmiter.Classification
		sdk    any // the error type the SDK returns
	}{
		{http.StatusTooManyRequests, "ThrottlingException", nil,
			ratellmiter.Classification{Kind: ratellmiter.KindRateLimited}, new(*types.ThrottlingException)},
		{http.StatusTooManyRequests, "ThrottlingException", http.Header{"Retry-After": {"7"}},
			ratellmiter.Classification{Kind: ratellmiter.KindRateLimited, RetryAfter: 7 * time.Second}, new(*types.ThrottlingException)},
		{http.StatusTooManyRequests, "ModelNotReadyException", nil,
			ratellmiter.Classification{Kind: ratellmiter.KindOverloaded}, new(*types.ModelNotReadyException)},
		{http.StatusServiceUnavailable, "ServiceUnavailableException", nil,
			ratellmiter.Classification{Kind: ratellmiter.KindOverloaded}, new(*types.ServiceUnavailableException)},
		{http.StatusBadRequest, "ValidationException", nil,
			ratellmiter.Classification{}, new(*types.ValidationException)},
	} {
		fake.refuse(tc.status, tc.typ, tc.header)
		_, err := c.Converse(context.Background(), converseInput(haiku, 100))
		require.Error(t, err)
		require.True(t, errors.As(err, tc.sdk), "%s: the SDK's own error type, got %T", tc.typ, err)
		assert.Equal(t, tc.want, ratellmiter.DefaultClassifier(err), "%d %s %v", tc.status, tc.typ, tc.header)
	}
}

// Do retries a Converse call the AWS SDK's client returns as a 429
// ThrottlingException, once the limiter's pause is over.
func TestDoRetriesAConverseCallThrottledByBedrock(t *testing.T) {
	fake := startRuntime(t, answerIn, answerOut)
	base := runtimeTransport(t, fake)
	synctest.Test(t, func(t *testing.T) {
		l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
		require.NoError(t, err)
		c := newRuntimeClient(fake, base)
		fake.refuse(http.StatusTooManyRequests, "ThrottlingException", nil)
		res, err := ratellmiter.Do(context.Background(), l, func(ctx context.Context) (*bedrockruntime.ConverseOutput, error) {
			return c.Converse(ctx, converseInput(haiku, 100))
		})
		require.NoError(t, err)
		require.NotNil(t, res.Usage)
		assert.Equal(t, []string{"converse " + haiku, "converse " + haiku}, fake.Calls())
		st := l.Stats()
		assert.EqualValues(t, 1, st.RateLimited)
		assert.EqualValues(t, 1, st.Pauses)
		assert.EqualValues(t, 2, st.Issued)
		assert.Zero(t, st.InFlight)
	})
}
