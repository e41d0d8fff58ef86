package main

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// budget is the input and the output tokens a minute of budgetLimiter,
// all of them banked.
const budget = 60_000

// budgetLimiter returns a limiter of budget tokens a minute, and too many
// requests a minute to hold any call back.
func budgetLimiter(t *testing.T) *ratellmiter.BucketRateLimiter {
	t.Helper()
	l, err := ratellmiter.NewBucketRateLimiter(6_000_000, ratellmiter.WithMonitor(exampletest.NewMonitor(t)),
		ratellmiter.WithInputTokensPerMinute(budget), ratellmiter.WithOutputTokensPerMinute(budget),
		ratellmiter.WithTokenBurst(time.Minute))
	require.NoError(t, err)
	return l
}

// fitsTokens reports whether a ticket of a budgetLimiter for in and out
// tokens would be issued once its next request slot is due, and gives it
// back at once.
func fitsTokens(l *ratellmiter.BucketRateLimiter, in, out int) bool {
	time.Sleep(10 * time.Microsecond)
	tk, ok := l.TryAcquire(ratellmiter.WithTokens(in, out))
	if ok {
		tk.Used(0, 0)
		tk.Done()
	}
	return ok
}

// assertCharged checks that a budgetLimiter has in input and out output
// tokens charged.
func assertCharged(t *testing.T, l *ratellmiter.BucketRateLimiter, in, out int) {
	t.Helper()
	assert.False(t, fitsTokens(l, budget-in+1, 0), "input charged at least %d", in)
	assert.True(t, fitsTokens(l, budget-in, 0), "input charged at most %d", in)
	assert.False(t, fitsTokens(l, 0, budget-out+1), "output charged at least %d", out)
	assert.True(t, fitsTokens(l, 0, budget-out), "output charged at most %d", out)
}

// The fake counts "Say hello in five words." as 9 prompt tokens and
// answers 6.
const promptTokens, outputTokens = 9, 6

// A call is charged its max_tokens as output while it runs, and then the
// usage Azure reports; a streamed call with include_usage keeps its
// estimate through Azure's first event, which carries only the prompt's
// filter results, and its text, until its last event's usage.
func TestCallsAreChargedTheirUsage(t *testing.T) {
	fake := startFake(t, nil, map[string][2]int{mini: {6000, 0}})
	base := exampletest.NoKeepAlive(t, fake.srv)
	t.Run("completion", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := budgetLimiter(t)
			c := newClient(fake, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
			res, err := c.Chat.Completions.New(context.Background(), hello(mini))
			require.NoError(t, err)
			assert.EqualValues(t, promptTokens, res.Usage.PromptTokens)
			assertCharged(t, l, promptTokens, outputTokens)
		})
	})
	t.Run("stream", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := budgetLimiter(t)
			c := newClient(fake, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
			p := hello(mini)
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			s := c.Chat.Completions.NewStreaming(context.Background(), p)
			next, stop := iter.Pull(func(yield func(openai.ChatCompletionChunk) bool) {
				for s.Next() && yield(s.Current()) {
				}
			})
			defer stop()
			first, ok := next()
			require.True(t, ok)
			assert.Empty(t, first.Choices, "Azure's first event: the prompt's filter results")
			_, ok = next()
			require.True(t, ok)
			// Mid-stream the estimate holds: max_tokens as output, and
			// the prompt as input.
			assert.False(t, fitsTokens(l, 0, budget-maxTok+1))
			assert.True(t, fitsTokens(l, 0, budget-maxTok))
			assert.False(t, fitsTokens(l, budget, 0))
			var usage openai.CompletionUsage
			for {
				ev, ok := next()
				if !ok {
					break
				}
				if ev.Usage.TotalTokens > 0 {
					usage = ev.Usage
				}
			}
			require.NoError(t, s.Err())
			require.NoError(t, s.Close())
			assert.EqualValues(t, promptTokens+outputTokens, usage.TotalTokens)
			assertCharged(t, l, promptTokens, outputTokens)
			assert.Zero(t, l.Stats().InFlight)
		})
	})
}

// A prompt Azure's content filter refuses is its 400, handed to the SDK
// at once: not sent again, no pause, and its tokens given back.
func TestAContentFilterRefusalIsHandedOnAtOnce(t *testing.T) {
	fake := startFake(t, nil, map[string][2]int{mini: {6000, 0}})
	base := exampletest.NoKeepAlive(t, fake.srv)
	synctest.Test(t, func(t *testing.T) {
		l := budgetLimiter(t)
		c := newClient(fake, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
		p := hello(mini)
		p.Messages = []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say something " + blockedWord + ".")}
		start := time.Now()
		_, err := c.Chat.Completions.New(context.Background(), p)
		var apiErr *openai.Error
		require.True(t, errors.As(err, &apiErr), "%v", err)
		assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
		assert.Equal(t, "content_filter", apiErr.Code)
		assert.Zero(t, time.Since(start))
		assert.Equal(t, 1, fake.Stats().Filtered400, "sent once")
		st := l.Stats()
		assert.Zero(t, st.Pauses)
		assert.EqualValues(t, 1, st.Finished)
		assert.Zero(t, st.RateLimited)
		assertCharged(t, l, 0, 0)
	})
}
