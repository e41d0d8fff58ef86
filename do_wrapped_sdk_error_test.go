package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
	url := limitReportingServer(t, 300, &calls, func(h http.Header) { h.Set("x-should-retry", shouldRetry.Load().(string)) })
	base := &http.Transport{DisableKeepAlives: true}
	client := openai.NewClient(openaioption.WithBaseURL(url), openaioption.WithAPIKey("test"), openaioption.WithMaxRetries(0),
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
