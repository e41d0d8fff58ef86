package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDefaultClassifierReadsTheSDKsErrors classifies the errors the
// official SDKs return for real error responses from a server on
// 127.0.0.1, as Do sees them.
func TestDefaultClassifierReadsTheSDKsErrors(t *testing.T) {
	bodies := map[string]string{
		"/openai/quota/chat/completions": `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`,
		"/openai/hint/chat/completions":  `{"error":{"message":"Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
		"/anthropic/quota/v1/messages":   `{"type":"error","error":{"type":"rate_limit_error","message":"spend limit","details":{"error_code":"enforced_spend_limit_reached"}}}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, bodies[r.URL.Path])
	}))
	defer srv.Close()
	ctx := context.Background()

	openaiErr := func(path string) error {
		c := openai.NewClient(openaioption.WithBaseURL(srv.URL+path), openaioption.WithAPIKey("test"), openaioption.WithMaxRetries(0))
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		require.Error(t, err)
		return err
	}
	got := DefaultClassifier(openaiErr("/openai/quota/"))
	assert.Equal(t, KindQuotaExhausted, got.Kind, "openai-go: insufficient_quota")
	assert.Equal(t, "insufficient_quota", got.Quota)

	got = DefaultClassifier(openaiErr("/openai/hint/"))
	assert.Equal(t, Classification{Kind: KindRateLimited, RetryAfter: 20 * time.Second}, got, "openai-go: the hint in the message")

	c := anthropic.NewClient(anthropicoption.WithBaseURL(srv.URL+"/anthropic/quota/"), anthropicoption.WithAPIKey("test"), anthropicoption.WithMaxRetries(0))
	_, err := c.Messages.New(ctx, anthropic.MessageNewParams{
		Model:     anthropic.ModelClaudeHaiku4_5,
		MaxTokens: 16,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	require.Error(t, err)
	got = DefaultClassifier(err)
	assert.Equal(t, KindQuotaExhausted, got.Kind, "anthropic-sdk-go: a spend limit")
	assert.Equal(t, "enforced_spend_limit_reached", got.Quota)
}
