package main

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// tokenLimiter returns a limiter of budget tokens a minute, all banked,
// which issues 100,000 tickets a second.
func tokenLimiter(t *testing.T, budget int) *ratellmiter.BucketRateLimiter {
	t.Helper()
	l, err := ratellmiter.NewBucketRateLimiter(6_000_000, ratellmiter.WithMonitor(exampletest.NewMonitor(t)),
		ratellmiter.WithTokensPerMinute(budget), ratellmiter.WithTokenBurst(time.Minute))
	require.NoError(t, err)
	return l
}

// tokenRoom reports whether the budget of a tokenLimiter holds n tokens
// now, giving them back at once.
func tokenRoom(l *ratellmiter.BucketRateLimiter, n int) bool {
	time.Sleep(10 * time.Microsecond) // the next request slot
	tk, ok := l.TryAcquire(ratellmiter.WithTokens(n, 0))
	if ok {
		tk.Used(0, 0)
		tk.Done()
	}
	return ok
}

// A Converse call through the AWS SDK's client, streamed or not, is
// charged at its end the usage its answer reports in the Converse API's
// camelCase: the JSON answer's "usage", or the metadata event that ends
// ConverseStream's event stream. Its prompt-cache writes count as input,
// its cache reads, which Bedrock's quotas leave out, do not.
func TestConverseCallsAreChargedTheUsageTheirAnswersReport(t *testing.T) {
	const budget = 20_000
	const in, out, cacheRead, cacheWrite = 3_000, 2_000, 6_000, 500
	fake := startRuntime(t, in, out)
	fake.cacheRead, fake.cacheWrite = cacheRead, cacheWrite
	base := runtimeTransport(t, fake)
	const charged = in + cacheWrite + out
	for _, streamed := range []bool{false, true} {
		t.Run(map[bool]string{false: "Converse", true: "ConverseStream"}[streamed], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := tokenLimiter(t, budget)
				c := newRuntimeClient(fake, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
				if streamed {
					text, usage, err := converseStream(c, "meta.llama3-1-8b-instruct-v1:0", 100)
					require.NoError(t, err)
					assert.Equal(t, strings.Join(reply, ""), text)
					require.NotNil(t, usage, "the SDK read the metadata event")
					assert.EqualValues(t, out, aws.ToInt32(usage.OutputTokens))
				} else {
					res, err := c.Converse(context.Background(), converseInput("amazon.nova-lite-v1:0", 100))
					require.NoError(t, err)
					require.NotNil(t, res.Usage)
					assert.EqualValues(t, out, aws.ToInt32(res.Usage.OutputTokens))
				}
				assert.False(t, tokenRoom(l, budget-charged+1), "streamed %v: charged its usage, %d", streamed, charged)
				assert.True(t, tokenRoom(l, budget-charged), "streamed %v: its cache reads are not charged", streamed)
				assert.Zero(t, l.Stats().InFlight)
			})
		})
	}
}
