package main

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// The transport sends a throttled request again as it is, with the SigV4
// signature the AWS SDK gave it, which Bedrock refuses once five minutes
// old. Against a throttle that lasts, it hands the 429
// ThrottlingException back rather than send a retry whose signature has
// expired: the caller sees the throttle, not a 403 InvalidSignatureException,
// and the SDK's own retries, when on, sign each of their attempts anew.
func TestTheTransportHandsBackAThrottleRatherThanResendAnExpiredSignature(t *testing.T) {
	for _, attempts := range []int{1, 3} {
		t.Run(map[int]string{1: "SDKRetriesOff", 3: "SDKRetriesOn"}[attempts], func(t *testing.T) {
			var clock exampletest.VirtualClock
			fake := startRuntime(t, answerIn, answerOut)
			fake.now = clock.Now
			for range 200 {
				fake.refuse(http.StatusTooManyRequests, "ThrottlingException", nil)
			}
			base := clock.Stamped(runtimeTransport(t, fake))
			synctest.Test(t, func(t *testing.T) {
				l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
				require.NoError(t, err)
				c := newRuntimeClient(fake, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)),
					func(o *bedrockruntime.Options) { o.RetryMaxAttempts = attempts })
				_, err = c.Converse(context.Background(), converseInput(haiku, 100))
				var throttled *types.ThrottlingException
				require.True(t, errors.As(err, &throttled), "the throttle reaches the caller: %v", err)
				assert.Zero(t, fake.Expired(), "no request sent with an expired signature")
				assert.Greater(t, len(fake.Calls()), 10, "the transport retried for over four minutes")
				if attempts > 1 {
					var spent *retry.MaxAttemptsError
					require.True(t, errors.As(err, &spent), "%v", err)
					assert.Equal(t, attempts, spent.Attempt, "each of the SDK's attempts was made, signed anew")
				}
				assert.Zero(t, l.Stats().InFlight)
			})
		})
	}
}
