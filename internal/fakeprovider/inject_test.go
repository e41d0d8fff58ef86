package fakeprovider

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPenaltyStartsAndExpires(t *testing.T) {
	s, c := newTestServer(t, Config{RPM: 60, PenaltyDuration: 10 * time.Second})
	require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code)
	// The first refusal, then five more within a second of each other are
	// tolerated.
	for range 6 {
		c.Advance(50 * time.Millisecond)
		w := post(s, "/v1/chat/completions", openAIBody)
		require.Equal(t, http.StatusTooManyRequests, w.Code)
		assert.Contains(t, w.Body.String(), "on requests per min (RPM)")
	}
	c.Advance(50 * time.Millisecond)
	w := post(s, "/v1/chat/completions", openAIBody)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "10", w.Header().Get("retry-after"))
	assert.Contains(t, w.Body.String(), "too many requests were sent after being rate limited. Please try again in 10s.")

	// The bucket has long refilled, but the penalty still holds.
	c.Advance(2 * time.Second)
	w = post(s, "/v1/messages", anthropicBody)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "8", w.Header().Get("retry-after"))
	assert.Contains(t, w.Body.String(), "sent too many requests after being rate limited")

	c.Advance(8 * time.Second)
	require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code)
}

func TestPenaltySparesPatientClients(t *testing.T) {
	s, c := newTestServer(t, Config{RPM: 60, PenaltyThreshold: 1, PenaltyDuration: time.Minute})
	for range 20 {
		require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code)
		w := post(s, "/v1/chat/completions", openAIBody)
		require.Equal(t, http.StatusTooManyRequests, w.Code)
		assert.Contains(t, w.Body.String(), "on requests per min (RPM)", "refusals a second apart are no abuse")
		c.Advance(time.Second)
	}
}

func TestPenaltyOffByDefault(t *testing.T) {
	s, _ := newTestServer(t, Config{RPM: 60})
	for range 50 {
		post(s, "/v1/chat/completions", openAIBody)
	}
	assert.Contains(t, post(s, "/v1/chat/completions", openAIBody).Body.String(), "on requests per min (RPM)")
}

func TestOutage(t *testing.T) {
	s, c := newTestServer(t, Config{RPM: 600})
	s.Outage(5 * time.Second)
	w := post(s, "/v1/chat/completions", openAIBody)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "5", w.Header().Get("retry-after"))
	assert.Equal(t, "5000", w.Header().Get("retry-after-ms"))
	body := decodeJSON(t, w)["error"].(map[string]any)
	assert.Equal(t, "rate_limit_exceeded", body["code"])
	assert.Contains(t, body["message"], "temporarily unavailable")

	c.Advance(4500 * time.Millisecond)
	w = post(s, "/v1/messages", anthropicBody)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "1", w.Header().Get("retry-after"))
	assert.Equal(t, "rate_limit_error", decodeJSON(t, w)["error"].(map[string]any)["type"])

	c.Advance(500 * time.Millisecond)
	require.Equal(t, http.StatusOK, post(s, "/v1/messages", anthropicBody).Code)

	s.Outage(time.Hour)
	s.Outage(0)
	require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code)
	assert.Equal(t, Stats{Requests: 4, Accepted: 2, Rejected429: 2, Tokens: 2 * (1 + defaultReplyTokens)}, s.Stats())
}

func TestQuotaExhausted(t *testing.T) {
	s, _ := newTestServer(t, Config{RPM: 600})
	s.QuotaExhausted("gpt-4o-mini", true)
	w := post(s, "/v1/chat/completions", openAIBody)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Empty(t, w.Header().Get("retry-after"))
	assert.JSONEq(t, `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.",
		"type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`, w.Body.String())
	require.Equal(t, http.StatusOK, post(s, "/v1/messages", anthropicBody).Code, "other models still work")

	s.QuotaExhausted("", true)
	w = post(s, "/v1/messages", anthropicBody)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Empty(t, w.Header().Get("retry-after"))
	e := decodeJSON(t, w)
	assert.Equal(t, "error", e["type"])
	detail := e["error"].(map[string]any)
	assert.Equal(t, "rate_limit_error", detail["type"])
	assert.NotEmpty(t, detail["message"])
	assert.Equal(t, map[string]any{"error_code": "enforced_spend_limit_reached"}, detail["details"])

	s.QuotaExhausted("", false)
	s.QuotaExhausted("gpt-4o-mini", false)
	require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code)
}

func TestOverloaded(t *testing.T) {
	s, _ := newTestServer(t, Config{RPM: 600})
	s.Overloaded(2)
	require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code, "OpenAI is not affected")
	for range 2 {
		w := post(s, "/v1/messages", anthropicBody)
		require.Equal(t, statusOverloaded, w.Code)
		assert.JSONEq(t, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, w.Body.String())
	}
	require.Equal(t, http.StatusOK, post(s, "/v1/messages", anthropicBody).Code)
	st := s.Stats()
	assert.Equal(t, 2, st.Overloaded529)
	assert.Equal(t, 2, st.Accepted)
	assert.Zero(t, st.Rejected429)
}

func TestSetRPM(t *testing.T) {
	s, c := newTestServer(t, Config{RPM: 600}) // 10 at once
	for range 3 {
		require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code)
	}
	s.SetRPM(120) // the 7 left are trimmed to the new capacity of 2
	for range 2 {
		require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code)
	}
	w := post(s, "/v1/chat/completions", openAIBody)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "120", w.Header().Get("x-ratelimit-limit-requests"))
	assert.Equal(t, "500", w.Header().Get("retry-after-ms"))
	c.Advance(500 * time.Millisecond)
	require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code)
}

func TestSetRPMRaiseKeepsWhatWasSpent(t *testing.T) {
	s, _ := newTestServer(t, Config{RPM: 60}) // rested: 1 at once, none spent
	s.SetRPM(600)                             // 10 at once
	for i := range 10 {
		w := post(s, "/v1/chat/completions", openAIBody)
		require.Equal(t, http.StatusOK, w.Code, "request %d of the new burst", i)
		assert.Equal(t, strconv.Itoa(600-(i+1)), w.Header().Get("x-ratelimit-remaining-requests"))
	}
	require.Equal(t, http.StatusTooManyRequests, post(s, "/v1/chat/completions", openAIBody).Code)
}
