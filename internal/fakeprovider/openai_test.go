package fakeprovider

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenAIResponseShapeAndHeaders(t *testing.T) {
	s, _ := newTestServer(t, Config{RPM: 60, TPM: 1000})
	w := post(s, "/v1/chat/completions", `{"model":"gpt-4o-mini","max_tokens":20,"messages":[{"role":"user","content":"hello there!"}]}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	h := w.Header()
	assert.Equal(t, "60", h.Get("x-ratelimit-limit-requests"))
	assert.Equal(t, "59", h.Get("x-ratelimit-remaining-requests"))
	assert.Equal(t, "1s", h.Get("x-ratelimit-reset-requests"))
	assert.Equal(t, "1000", h.Get("x-ratelimit-limit-tokens"))
	assert.Equal(t, "977", h.Get("x-ratelimit-remaining-tokens"), "3 prompt tokens and 20 max tokens are charged up front")
	assert.Equal(t, "1.38s", h.Get("x-ratelimit-reset-tokens"))
	assert.Equal(t, "req_fake000000000001", h.Get("x-request-id"))

	body := decodeJSON(t, w)
	assert.Equal(t, "chatcmpl-fake000000000001", body["id"])
	assert.Equal(t, "chat.completion", body["object"])
	assert.Equal(t, "gpt-4o-mini", body["model"])
	assert.EqualValues(t, newClock().Now().Unix(), body["created"])
	choice := body["choices"].([]any)[0].(map[string]any)
	assert.EqualValues(t, 0, choice["index"])
	assert.Equal(t, "stop", choice["finish_reason"])
	msg := choice["message"].(map[string]any)
	assert.Equal(t, "assistant", msg["role"])
	assert.Equal(t, "This is a simulated reply from a fake provider that throttles like", msg["content"])
	assert.Equal(t, map[string]any{"prompt_tokens": 3.0, "completion_tokens": 12.0, "total_tokens": 15.0}, body["usage"])
	assert.Equal(t, Stats{Requests: 1, Accepted: 1, Tokens: 15}, s.Stats())

	// The unused part of max_tokens was given back.
	w = post(s, "/chat/completions", `{"model":"gpt-4o-mini","max_completion_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusTooManyRequests, w.Code, "the request budget is spent")
	assert.Equal(t, "985", w.Header().Get("x-ratelimit-remaining-tokens"))
}

func TestOpenAIRateLimitedRequests(t *testing.T) {
	s, c := newTestServer(t, Config{RPM: 60})
	require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code)
	c.Advance(980 * time.Millisecond)
	w := post(s, "/v1/chat/completions", openAIBody)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	h := w.Header()
	assert.Equal(t, "1", h.Get("retry-after"))
	assert.Equal(t, "20", h.Get("retry-after-ms"))
	assert.Equal(t, "60", h.Get("x-ratelimit-limit-requests"))
	assert.Equal(t, "59", h.Get("x-ratelimit-remaining-requests"))
	assert.Equal(t, "20ms", h.Get("x-ratelimit-reset-requests"))
	assert.Empty(t, h.Get("x-ratelimit-limit-tokens"), "no token budget, no token headers")
	assert.NotEmpty(t, h.Get("x-request-id"))
	assert.Equal(t, "application/json", h.Get("content-type"))
	assert.JSONEq(t, `{"error":{
		"message":"Rate limit reached for gpt-4o-mini in organization org-fake on requests per min (RPM): Limit 60, Used 1, Requested 1. Please try again in 20ms. Visit https://platform.openai.com/account/rate-limits to learn more.",
		"type":"requests","param":null,"code":"rate_limit_exceeded"}}`, w.Body.String())

	c.Advance(20 * time.Millisecond)
	require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code)
	assert.Equal(t, Stats{Requests: 3, Accepted: 2, Rejected429: 1, Tokens: 26}, s.Stats())
}

func TestOpenAIRateLimitedTokens(t *testing.T) {
	s, c := newTestServer(t, Config{RPM: 6000, TPM: 120})
	big := `{"model":"gpt-4o","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", big).Code)
	// 120 - 101 charged + 88 given back = 107 left; the next needs 101.
	require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", big).Code)
	w := post(s, "/v1/chat/completions", big)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	// 107 - 101 + 88 = 94 left, 7 short at 2 tokens a second.
	assert.Equal(t, "4", w.Header().Get("retry-after"))
	assert.Equal(t, "3500", w.Header().Get("retry-after-ms"))
	assert.Equal(t, "94", w.Header().Get("x-ratelimit-remaining-tokens"))
	assert.JSONEq(t, `{"error":{
		"message":"Rate limit reached for gpt-4o in organization org-fake on tokens per min (TPM): Limit 120, Used 26, Requested 101. Please try again in 3.5s. Visit https://platform.openai.com/account/rate-limits to learn more.",
		"type":"tokens","param":null,"code":"rate_limit_exceeded"}}`, w.Body.String())
	c.Advance(3500 * time.Millisecond)
	require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", big).Code)

	w = post(s, "/v1/chat/completions", `{"model":"gpt-4o","max_tokens":500,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Empty(t, w.Header().Get("retry-after"), "waiting does not help a request larger than the budget")
	assert.Contains(t, w.Body.String(), "Request too large for gpt-4o in organization org-fake on tokens per min (TPM): Limit 120, Requested 501.")
}

func TestOpenAIStreamEvents(t *testing.T) {
	s, _ := newTestServer(t, Config{RPM: 60, ReplyTokens: 3})
	w := post(s, "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "text/event-stream; charset=utf-8", w.Header().Get("content-type"))
	assert.NotEmpty(t, w.Header().Get("x-ratelimit-remaining-requests"))
	assert.True(t, w.Flushed)
	events := parseSSE(t, w.Body.String())
	require.Len(t, events, 7)
	var text string
	for i, e := range events[:5] {
		assert.Empty(t, e.name)
		chunk := e.json(t)
		assert.Equal(t, "chat.completion.chunk", chunk["object"])
		assert.Equal(t, "chatcmpl-fake000000000001", chunk["id"])
		choice := chunk["choices"].([]any)[0].(map[string]any)
		delta := choice["delta"].(map[string]any)
		if i == 0 {
			assert.Equal(t, "assistant", delta["role"])
		}
		if c, ok := delta["content"].(string); ok {
			text += c
		}
		if i == 4 {
			assert.Equal(t, "stop", choice["finish_reason"])
		} else {
			assert.Nil(t, choice["finish_reason"])
		}
	}
	assert.Equal(t, "This is a", text)
	usage := events[5].json(t)
	assert.Equal(t, []any{}, usage["choices"])
	assert.Equal(t, map[string]any{"prompt_tokens": 1.0, "completion_tokens": 3.0, "total_tokens": 4.0}, usage["usage"])
	assert.Equal(t, "[DONE]", events[6].data)

	// Without include_usage there is no usage chunk.
	s, _ = newTestServer(t, Config{RPM: 60, ReplyTokens: 3})
	w = post(s, "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	events = parseSSE(t, w.Body.String())
	require.Len(t, events, 6)
	assert.Equal(t, "[DONE]", events[5].data)
}

func TestOpenAIMaxTokensTruncates(t *testing.T) {
	s, _ := newTestServer(t, Config{RPM: 60})
	w := post(s, "/v1/chat/completions", `{"model":"gpt-4o-mini","max_tokens":2,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, w.Code)
	body := decodeJSON(t, w)
	choice := body["choices"].([]any)[0].(map[string]any)
	assert.Equal(t, "length", choice["finish_reason"])
	assert.Equal(t, "This is", choice["message"].(map[string]any)["content"])
}
