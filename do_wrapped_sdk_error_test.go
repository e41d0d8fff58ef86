package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Do takes in the headers of the response an SDK's error carries when fn
// wraps that error in a *RateLimitError of its own (the status beside it,
// no response): an openai-go 429 from a server on 127.0.0.1 reporting a
// limit of 300 requests per minute sets the limit of a limiter configured
// at 600, and one that says "x-should-retry: false" is not sent again.
func TestDoTakesInTheHeadersOfAnSDKErrorWrappedInARateLimitError(t *testing.T) {
	var calls atomic.Int32
	var shouldRetry atomic.Value
	shouldRetry.Store("true")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-ratelimit-limit-requests", "300")
		w.Header().Set("x-ratelimit-reset-requests", "20ms")
		if calls.Add(1) == 1 {
			w.Header().Set("x-ratelimit-remaining-requests", "0")
			w.Header().Set("retry-after-ms", "20")
			w.Header().Set("x-should-retry", shouldRetry.Load().(string))
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
			return
		}
		w.Header().Set("x-ratelimit-remaining-requests", "298")
		_, _ = io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hi"}}]}`)
	}))
	defer srv.Close()
	base := &http.Transport{DisableKeepAlives: true}
	client := openai.NewClient(openaioption.WithBaseURL(srv.URL), openaioption.WithAPIKey("test"), openaioption.WithMaxRetries(0),
		openaioption.WithHTTPClient(&http.Client{Transport: base}))
	call := func(ctx context.Context) (*openai.ChatCompletion, error) {
		res, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		var apiErr *openai.Error
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests {
			return nil, fmt.Errorf("asking the model: %w", &RateLimitError{StatusCode: apiErr.StatusCode, Err: err})
		}
		return res, err
	}

	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		_, err := Do(context.Background(), l, call)
		require.NoError(t, err)
		assert.Equal(t, int32(2), calls.Load(), "one 429, one retry")
		assert.Equal(t, 300, l.RPM(), "the limit the 429 reported")

		calls.Store(0)
		shouldRetry.Store("false")
		l = newLimiter(t, 600)
		_, err = Do(context.Background(), l, call)
		require.ErrorIs(t, err, ErrRateLimited)
		var apiErr *openai.Error
		require.ErrorAs(t, err, &apiErr, "the SDK's error is kept")
		assert.Equal(t, int32(1), calls.Load(), "sent once, as the server asked")
		assertConserved(t, l)
		base.CloseIdleConnections()
	})
}
