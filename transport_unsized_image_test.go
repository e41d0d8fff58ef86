package ratellmiter

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An image given by URL is charged the most its rule allows, since its
// size is not known before the answer: 48,169 tokens on gpt-4o-mini. That
// is a bound, not a count, so four such images, 192,676 tokens between
// them, must not make a request "larger than the budget" of a limiter of
// 100,000 tokens a minute, which refused it at once with ErrExceedsBudget
// although the provider counts a 512x512 image as 8,500: the request is
// charged the whole minute's budget instead, and the usage corrects it.
func TestTransportChargesImagesOfUnknownSizeAtMostTheBudget(t *testing.T) {
	srv, arrived, release := heldServer(t, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",`+
		`"choices":[{"index":0,"message":{"role":"assistant","content":"Four cats."},"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":34012,"completion_tokens":3,"total_tokens":34015}}`)
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	ask := func(client openai.Client, text string, images int) error {
		parts := []openai.ChatCompletionContentPartUnionParam{openai.TextContentPart(text)}
		for range images {
			parts = append(parts, openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/cat.png"}))
		}
		_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:               "gpt-4o-mini",
			MaxCompletionTokens: openai.Int(10),
			Messages:            []openai.ChatCompletionMessageParamUnion{openai.UserMessage(parts)},
		})
		return err
	}

	synctest.Test(t, func(t *testing.T) {
		defer base.CloseIdleConnections()
		defer release()
		l := newLimiter(t, 600, WithTokensPerMinute(100_000))
		client := tpOpenAI(srv.URL, tpTransport(t, base, WithLimiter(l)))
		level := func() float64 { return tokenLevel(l) }
		full := level()
		done := make(chan error, 1)
		go func() { done <- ask(client, "Which animals are these?", 4) }()

		body := awaitArrival(t, arrived, done)
		require.Equal(t, 4, strings.Count(body, "https://example.com/cat.png"), "the SDK sent the four images")
		assert.Equal(t, 100_000.0, full-level(), "the charge before the answer: the minute's budget, not 192,695 tokens")

		release()
		require.NoError(t, <-done)
		assert.InDelta(t, 34_015.0, full-level(), 1e-6, "the charge corrected from the usage")
		assertSettled(t, l, 1)

		// What the request is known to need still counts in full: a
		// prompt of 120,000 tokens is refused as too large, images or not.
		err := ask(client, strings.Repeat("word ", 96_000), 1)
		require.ErrorIs(t, err, ErrExceedsBudget)
		assert.Contains(t, err.Error(), "more than the budget of 100000 per minute")
	})
}
