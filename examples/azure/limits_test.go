package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// Azure sends x-ratelimit-remaining-requests and -tokens, and at times
// x-ratelimit-limit-*, but no reset: a budget with nothing remaining
// cannot say until when it is spent, so it holds nothing, and a limit
// without a window does not change the limit the limiter works at.
// Stats().Server shows what was sent.
func TestRemainingZeroWithoutAResetHoldsNothing(t *testing.T) {
	var clock exampletest.VirtualClock
	// 6 requests a minute: one a 10-second window.
	fake := startFake(t, clock.Now, map[string][2]int{mini: {6, 100_000}})
	fake.limitHeaders = true
	base := exampletest.NoKeepAlive(t, fake.srv)
	synctest.Test(t, func(t *testing.T) {
		l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
		require.NoError(t, err)
		c := newClient(fake, exampletest.NewTransport(t, clock.Stamped(base), ratellmiter.WithLimiter(l)))
		start := time.Now()
		_, err = c.Chat.Completions.New(context.Background(), hello(mini))
		require.NoError(t, err)
		st := l.Stats()
		assert.Equal(t, ratellmiter.ServerBudget{Limit: 6, Remaining: 0, Known: true}, st.Server.Requests)
		assert.Equal(t, ratellmiter.ServerBudget{Limit: 100_000, Remaining: 100_000 - 9 - maxTok, Known: true}, st.Server.Tokens)
		assert.True(t, st.HeldUntil.IsZero(), "nothing held")
		assert.Equal(t, 600, st.RPM, "the limit header alone sets no limit")

		// The next call goes at its slot, 100 ms on at 600 RPM, and
		// meets the server's 429, which pauses the limiter until the
		// window is over.
		_, err = c.Chat.Completions.New(context.Background(), hello(mini))
		require.NoError(t, err)
		assert.Equal(t, requestWindow, time.Since(start))
		st = l.Stats()
		assert.EqualValues(t, 1, st.RateLimited)
		assert.Equal(t, requestWindow-100*time.Millisecond, st.PausedTime)
		assert.Equal(t, 2, fake.Stats().Accepted)
	})
}

// Azure's 429 says when to retry in retry-after-ms, Retry-After (whole
// seconds) and its message: the limiter pauses until the millisecond,
// the transport sends the refused call again, first, and the SDK sees
// only the answers.
func TestA429PausesTheDeploymentUntilRetryAfterMs(t *testing.T) {
	var clock exampletest.VirtualClock
	// 60 requests a minute: 10 a 10-second window.
	fake := startFake(t, clock.Now, map[string][2]int{mini: {60, 0}})
	base := exampletest.NoKeepAlive(t, fake.srv)
	synctest.Test(t, func(t *testing.T) {
		l, err := ratellmiter.NewBucketRateLimiter(6000, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
		require.NoError(t, err)
		c := newClient(fake, exampletest.NewTransport(t, clock.Stamped(base), ratellmiter.WithLimiter(l)))
		start := time.Now()
		var wg sync.WaitGroup
		for range 12 {
			wg.Go(func() {
				_, err := c.Chat.Completions.New(context.Background(), hello(mini))
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		fs := fake.Stats()
		assert.Equal(t, 12, fs.Accepted)
		assert.Equal(t, 1, fs.Rejected429, "the 11th call, 10 ms apart at 6,000 RPM; the 12th waits")
		st := l.Stats()
		assert.EqualValues(t, 1, st.RateLimited)
		assert.EqualValues(t, 1, st.Pauses)
		assert.False(t, st.Paused)
		assert.EqualValues(t, 12, st.Finished)
		// Refused 100 ms after the first call went, at the window's end
		// the 11th goes again, and the 12th after it.
		assert.Equal(t, requestWindow-100*time.Millisecond, st.PausedTime)
		assert.Greater(t, time.Since(start), requestWindow)
		assert.Less(t, time.Since(start), requestWindow+100*time.Millisecond)
	})
}

// A 429 whose Retry-After is a day (Azure's answer to a used-up daily
// quota: "Please retry after 86400 seconds") pauses the limiter for the
// day: a caller whose deadline (or WithMaxWait) comes sooner gets the
// 429 at once, and so do the calls after it.
func TestADayLongRetryAfterWaitsNoLongerThanTheCallerAllows(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		calls.Add(1)
		w.Header().Set("Retry-After", "86400")
		writeError(w, http.StatusTooManyRequests, map[string]any{"code": "429", "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current AIServices S0 pricing tier. Please retry after 86400 seconds."})
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	fake := &fakeAzure{srv: srv}
	base := exampletest.NoKeepAlive(t, fake.srv)
	synctest.Test(t, func(t *testing.T) {
		l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
		require.NoError(t, err)
		c := newClient(fake, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		_, err = c.Chat.Completions.New(ctx, hello(mini))
		var apiErr *openai.Error
		require.True(t, errors.As(err, &apiErr), "%v", err)
		assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
		assert.Zero(t, time.Since(start), "no wait")
		st := l.Stats()
		assert.True(t, st.Paused)
		assert.Equal(t, start.Add(24*time.Hour), st.NextProbe)

		_, err = c.Chat.Completions.New(ctx, hello(mini))
		require.ErrorIs(t, err, ratellmiter.ErrWouldExceedDeadline)
		assert.EqualValues(t, 1, calls.Load(), "the next call is not sent")
	})
}

// Azure charges a call's max_tokens to the tokens per minute when the
// call arrives, where a token budget of the same size is corrected to the
// usage the answer reports: with max_tokens far above the answers Azure
// refuses before the budget does, and the transport absorbs its 429s.
func TestAzuresChargeOfMaxTokensIsAbsorbed(t *testing.T) {
	var clock exampletest.VirtualClock
	fake := startFake(t, clock.Now, map[string][2]int{mini: {6000, 10_000}})
	base := exampletest.NoKeepAlive(t, fake.srv)
	synctest.Test(t, func(t *testing.T) {
		l, err := ratellmiter.NewBucketRateLimiter(6000, ratellmiter.WithMonitor(exampletest.NewMonitor(t)),
			ratellmiter.WithTokensPerMinute(10_000))
		require.NoError(t, err)
		c := newClient(fake, exampletest.NewTransport(t, clock.Stamped(base), ratellmiter.WithLimiter(l)))
		const n = 30
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				p := hello(mini)
				p.MaxTokens = openai.Int(1000)
				_, err := c.Chat.Completions.New(context.Background(), p)
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		fs := fake.Stats()
		assert.Equal(t, n, fs.Accepted, "every call answered once")
		assert.Positive(t, fs.Rejected429, "Azure refuses first")
		assert.LessOrEqual(t, fs.Rejected429, 6)
		st := l.Stats()
		assert.EqualValues(t, fs.Rejected429, st.RateLimited)
		assert.EqualValues(t, n, st.Finished)
	})
}
