package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
)

// fakeURL is where the clients below send; the fake provider's own
// transport answers, in memory, so that time is virtual throughout.
const fakeURL = "http://fake.invalid/v1"

// limitedClient returns a go-openai client whose requests go through a
// transport of l to the fake provider s.
func limitedClient(t *testing.T, s *fakeprovider.Server, l *ratellmiter.BucketRateLimiter) *openai.Client {
	t.Helper()
	tr, err := ratellmiter.NewTransport(s.Transport(), ratellmiter.WithLimiter(l))
	require.NoError(t, err)
	return newClient(fakeURL, tr)
}

// Configured at twice the server's limit, calls made through go-openai
// with the transport under its client are brought down to the server's
// limit by its x-ratelimit-* headers: none is refused, and no second
// holds more than the server allows.
func TestGoOpenAICallsThroughTheTransportAreNeverRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := fakeprovider.New(fakeprovider.Config{RPM: 600, LatencyMedian: 300 * time.Millisecond, Seed: 1})
		require.NoError(t, err)
		l, err := ratellmiter.NewBucketRateLimiter(1200, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
		require.NoError(t, err)
		c := limitedClient(t, s, l)

		var failed atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				for range 5 {
					if _, err := c.CreateChatCompletion(context.Background(), hello); err != nil {
						failed.Add(1)
					}
				}
			})
		}
		wg.Wait()

		fs := s.Stats()
		assert.Zero(t, failed.Load(), "calls that failed")
		assert.Equal(t, 100, fs.Accepted)
		assert.Zero(t, fs.Rejected429, "429s")
		assert.LessOrEqual(t, s.MaxInWindow(time.Second), 10, "the most requests in one second")
		assert.Equal(t, 600, l.Stats().RPM, "the limit the server's headers report")
	})
}

// A go-openai stream that asks for its usage is charged what that usage
// says once it ends, not the estimate from its max_tokens, so the token
// budget has room again at once.
func TestGoOpenAIStreamIsChargedTheUsageItReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := fakeprovider.New(fakeprovider.Config{RPM: 600})
		require.NoError(t, err)
		l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)),
			ratellmiter.WithTokensPerMinute(60000)) // 1,000 tokens a second
		require.NoError(t, err)
		c := limitedClient(t, s, l)

		req := hello
		req.MaxCompletionTokens = 50000
		req.Stream = true
		req.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
		st, err := c.CreateChatCompletionStream(context.Background(), req)
		require.NoError(t, err)
		var usage *openai.Usage
		for {
			chunk, err := st.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			if chunk.Usage != nil {
				usage = chunk.Usage
			}
		}
		require.NoError(t, st.Close())
		require.NotNil(t, usage, "the stream reported its usage")

		// Charged its estimate of 50,000 output tokens, the budget would
		// be in debt for most of a minute; charged its usage, it has room
		// a second later for a request of 500 tokens.
		time.Sleep(time.Second)
		tk, ok := l.TryAcquire(ratellmiter.WithTokens(500, 0))
		require.True(t, ok, "the stream's usage (%d tokens) replaced its estimate", usage.TotalTokens)
		tk.Done()
		assert.Zero(t, l.Stats().InFlight, "the stream's ticket is finished with the stream")
	})
}

// A 429 that reaches the transport pauses the limiter and is sent again
// when its hint is over: go-openai, which does not retry, sees only the
// answer.
func TestGoOpenAISeesTheAnswerOfACallTheTransportRetried(t *testing.T) {
	srv, calls := refusingServer(t, http.StatusTooManyRequests, "application/json",
		`{"error":{"message":"Rate limit reached. Please try again in 2s.","type":"requests","code":"rate_limit_exceeded"}}`)
	base := exampletest.NoKeepAlive(t, nil)
	synctest.Test(t, func(t *testing.T) {
		l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
		require.NoError(t, err)
		tr, err := ratellmiter.NewTransport(base, ratellmiter.WithLimiter(l))
		require.NoError(t, err)
		c := newClient(srv.URL+"/v1", tr)
		start := time.Now()
		res, err := c.CreateChatCompletion(context.Background(), hello)
		require.NoError(t, err)
		assert.Equal(t, "Hello.", res.Choices[0].Message.Content)
		assert.EqualValues(t, 2, calls.Load(), "calls sent")
		assert.Equal(t, 2*time.Second, time.Since(start), "sent again when the hint is over")
		assert.EqualValues(t, 1, l.Stats().Pauses)
	})
}
