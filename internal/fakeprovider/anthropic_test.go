package fakeprovider

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAnthropicResponseShapeAndHeaders(t *testing.T) {
	s, c := newTestServer(t, Config{RPM: 60, TPM: 1000, InputTPM: 500, OutputTPM: 200})
	w := post(s, "/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":64,"system":"Be brief.","messages":[{"role":"user","content":"hello"}]}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	h := w.Header()
	now := c.Now()
	assert.Equal(t, "60", h.Get("anthropic-ratelimit-requests-limit"))
	assert.Equal(t, "59", h.Get("anthropic-ratelimit-requests-remaining"))
	assert.Equal(t, now.Add(time.Second).Format(time.RFC3339), h.Get("anthropic-ratelimit-requests-reset"))
	assert.Equal(t, "1000", h.Get("anthropic-ratelimit-tokens-limit"))
	assert.Equal(t, "932", h.Get("anthropic-ratelimit-tokens-remaining"), "4 input and 64 output tokens charged up front")
	assert.Equal(t, "500", h.Get("anthropic-ratelimit-input-tokens-limit"))
	assert.Equal(t, "496", h.Get("anthropic-ratelimit-input-tokens-remaining"))
	assert.Equal(t, "200", h.Get("anthropic-ratelimit-output-tokens-limit"))
	assert.Equal(t, "136", h.Get("anthropic-ratelimit-output-tokens-remaining"))
	// 64 output tokens at 200 a minute refill in 19.2 s, rounded up.
	assert.Equal(t, now.Add(20*time.Second).Format(time.RFC3339), h.Get("anthropic-ratelimit-output-tokens-reset"))
	assert.Equal(t, "req_fake000000000001", h.Get("request-id"))
	assert.JSONEq(t, `{
		"id":"msg_fake000000000001","type":"message","role":"assistant",
		"content":[{"type":"text","text":"This is a simulated reply from a fake provider that throttles like"}],
		"model":"claude-haiku-4-5","stop_reason":"end_turn","stop_sequence":null,
		"usage":{"input_tokens":4,"output_tokens":12}}`, w.Body.String())
}

func TestAnthropicRateLimited(t *testing.T) {
	s, c := newTestServer(t, Config{RPM: 60})
	require.Equal(t, http.StatusOK, post(s, "/v1/messages", anthropicBody).Code)
	c.Advance(200 * time.Millisecond)
	w := post(s, "/v1/messages", anthropicBody)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	h := w.Header()
	assert.Equal(t, "1", h.Get("retry-after"))
	assert.Empty(t, h.Get("retry-after-ms"))
	assert.Equal(t, "59", h.Get("anthropic-ratelimit-requests-remaining"))
	assert.Equal(t, c.Now().Add(time.Second).Truncate(time.Second).Format(time.RFC3339), h.Get("anthropic-ratelimit-requests-reset"))
	assert.JSONEq(t, `{"type":"error","error":{"type":"rate_limit_error",
		"message":"This request would exceed the rate limit for your organization (org-fake) of 60 requests per minute. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later."}}`, w.Body.String())
}

func TestAnthropicOutputTokenBudget(t *testing.T) {
	s, _ := newTestServer(t, Config{RPM: 6000, OutputTPM: 100})
	body := `{"model":"claude-haiku-4-5","max_tokens":60,"messages":[{"role":"user","content":"hi"}]}`
	// Each request charges 60 and gives back the 48 it did not use:
	// 100, 88, 76, 64, 52.
	for range 4 {
		require.Equal(t, http.StatusOK, post(s, "/v1/messages", body).Code)
	}
	w := post(s, "/v1/messages", body)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Contains(t, w.Body.String(), "of 100 output tokens per minute")
	assert.Equal(t, "52", w.Header().Get("anthropic-ratelimit-output-tokens-remaining"))
	assert.Empty(t, w.Header().Get("anthropic-ratelimit-tokens-limit"))
}

func TestAnthropicRequiresMaxTokens(t *testing.T) {
	s, _ := newTestServer(t, Config{RPM: 60})
	w := post(s, "/v1/messages", `{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.JSONEq(t, `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}`, w.Body.String())
}

func TestAnthropicStreamEvents(t *testing.T) {
	s, _ := newTestServer(t, Config{RPM: 60, ReplyTokens: 2})
	w := post(s, "/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "text/event-stream; charset=utf-8", w.Header().Get("content-type"))
	events := parseSSE(t, w.Body.String())
	var names []string
	for _, e := range events {
		names = append(names, e.name)
		assert.Equal(t, e.name, e.json(t)["type"], "the data's type matches the event name")
	}
	assert.Equal(t, []string{"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
		"content_block_stop", "message_delta", "message_stop"}, names)
	start := events[0].json(t)["message"].(map[string]any)
	assert.Equal(t, "msg_fake000000000001", start["id"])
	assert.Equal(t, []any{}, start["content"])
	assert.EqualValues(t, 1, start["usage"].(map[string]any)["input_tokens"])
	assert.Equal(t, map[string]any{"type": "text_delta", "text": " is"}, events[4].json(t)["delta"])
	delta := events[6].json(t)
	assert.Equal(t, "end_turn", delta["delta"].(map[string]any)["stop_reason"])
	assert.EqualValues(t, 2, delta["usage"].(map[string]any)["output_tokens"])
}
