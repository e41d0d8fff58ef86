package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Do takes in the rate-limit headers of the response an SDK's error
// carries: an openai-go 429 from a server on 127.0.0.1 that reports a
// limit of 3000 requests per minute sets the limit of a limiter
// configured at 6000, and the call is retried and succeeds.
func TestDoTakesInTheHeadersOfAnSDKsRateLimitError(t *testing.T) {
	var calls atomic.Int32
	url := limitReportingServer(t, 3000, &calls, nil)
	client := openai.NewClient(openaioption.WithBaseURL(url), openaioption.WithAPIKey("test"), openaioption.WithMaxRetries(0))

	l := newLimiter(t, 6000)
	got, err := Do(context.Background(), l, func(ctx context.Context) (*openai.ChatCompletion, error) {
		return client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
	})
	require.NoError(t, err)
	assert.Equal(t, "hi", got.Choices[0].Message.Content)
	assert.Equal(t, int32(2), calls.Load(), "one 429, one retry")
	assert.Equal(t, 3000, l.RPM(), "the limit the 429 reported")
	assert.Equal(t, int64(3000), l.Stats().Server.Requests.Limit)
}

// An overload whose response says "x-should-retry: false" is not retried
// by Do, as the SDKs and the Transport do not: anthropic-sdk-go's 529
// from a server on 127.0.0.1 is returned after one call, wrapping
// ErrRateLimited and the SDK's error, and the limiter pauses as for any
// overload.
func TestDoDoesNotRetryAnOverloadMarkedShouldRetryFalse(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-should-retry", "false")
		w.WriteHeader(529)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
	}))
	defer srv.Close()
	client := anthropic.NewClient(anthropicoption.WithBaseURL(srv.URL), anthropicoption.WithAPIKey("test"), anthropicoption.WithMaxRetries(0))

	l := newLimiter(t, 600)
	_, err := Do(context.Background(), l, func(ctx context.Context) (*anthropic.Message, error) {
		return client.Messages.New(ctx, anthropic.MessageNewParams{
			Model:     anthropic.ModelClaudeHaiku4_5,
			MaxTokens: 16,
			Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
		})
	})
	require.ErrorIs(t, err, ErrRateLimited)
	var apiErr *anthropic.Error
	require.ErrorAs(t, err, &apiErr, "the SDK's error is kept")
	assert.Equal(t, 529, apiErr.StatusCode)
	assert.Equal(t, int32(1), calls.Load(), "sent once, as the server asked")
	s := l.Stats()
	assert.True(t, s.Paused, "an overload pauses the limiter")
	assert.Zero(t, s.InFlight)
	assertConserved(t, l)
}

// The headers of a successful call reach the limiter as the
// ObserveHeaders doc says: openai-go hands the response to
// option.WithResponseInto, and the function passed to Do hands its
// headers on; a server on 127.0.0.1 reporting 3000 requests per minute
// sets the limit of a limiter configured at 6000.
func TestObserveHeadersOfASuccessfulSDKCallThroughDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-ratelimit-limit-requests", "3000")
		w.Header().Set("x-ratelimit-remaining-requests", "2999")
		w.Header().Set("x-ratelimit-reset-requests", "20ms")
		_, _ = io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hi"}}]}`)
	}))
	defer srv.Close()
	client := openai.NewClient(openaioption.WithBaseURL(srv.URL), openaioption.WithAPIKey("test"), openaioption.WithMaxRetries(0))

	l := newLimiter(t, 6000)
	_, err := Do(context.Background(), l, func(ctx context.Context) (*openai.ChatCompletion, error) {
		var raw *http.Response
		res, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		}, openaioption.WithResponseInto(&raw))
		if raw != nil {
			l.ObserveHeaders(raw.Header)
		}
		return res, err
	})
	require.NoError(t, err)
	assert.Equal(t, 3000, l.RPM())
}

// limitReportingServer starts an OpenAI chat server on 127.0.0.1 that
// reports a request limit of limit a minute, resetting in 20 ms, in every
// answer. The first request it counts in calls is refused with a 429 that
// has nothing remaining and a 20 ms hint, and the headers first429 sets
// (when not nil); the others get a completion. It returns the server's URL.
func limitReportingServer(t *testing.T, limit int, calls *atomic.Int32, first429 func(http.Header)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-ratelimit-limit-requests", strconv.Itoa(limit))
		w.Header().Set("x-ratelimit-reset-requests", "20ms")
		if calls.Add(1) == 1 {
			w.Header().Set("x-ratelimit-remaining-requests", "0")
			w.Header().Set("retry-after-ms", "20")
			if first429 != nil {
				first429(w.Header())
			}
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
			return
		}
		w.Header().Set("x-ratelimit-remaining-requests", strconv.Itoa(limit-2))
		_, _ = io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hi"}}]}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
