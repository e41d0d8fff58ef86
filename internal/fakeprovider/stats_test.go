package fakeprovider

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPerSecondAndMaxInWindow(t *testing.T) {
	s, c := newTestServer(t, Config{RPM: 120, Window: FixedSecond}) // 2 a second
	start := c.Now().Truncate(time.Second)
	c.Advance(500 * time.Millisecond)
	for range 3 {
		post(s, "/v1/chat/completions", openAIBody)
	}
	c.Advance(2 * time.Second)
	post(s, "/v1/messages", anthropicBody)
	got := s.PerSecond()
	require.Len(t, got, 3)
	assert.Equal(t, []SecondCount{
		{Start: start, Accepted: 2, Rejected: 1},
		{Start: start.Add(time.Second)},
		{Start: start.Add(2 * time.Second), Accepted: 1},
	}, got)

	c.Advance(time.Second)
	assert.Len(t, s.PerSecond(), 4, "the table reaches the current second")

	assert.Equal(t, 2, s.MaxInWindow(time.Second))
	assert.Equal(t, 2, s.MaxInWindow(2*time.Second), "the third accept is exactly 2 s after the first two")
	assert.Equal(t, 3, s.MaxInWindow(2*time.Second+1))
	assert.Zero(t, s.MaxInWindow(0))
}

func TestMaxInWindowOfEmptyServer(t *testing.T) {
	s, _ := newTestServer(t, Config{RPM: 1})
	assert.Zero(t, s.MaxInWindow(time.Minute))
	assert.Len(t, s.PerSecond(), 1)
	assert.Equal(t, Stats{}, s.Stats())
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "RPM must be positive, got 0"},
		{Config{RPM: -3}, "RPM must be positive, got -3"},
		{Config{RPM: 60, TPM: -1}, "TPM must not be negative, got -1"},
		{Config{RPM: 60, OutputTPM: maxLimit + 1}, "OutputTPM must be at most"},
		{Config{RPM: 60, Window: Window(7)}, "unknown Window 7"},
		{Config{RPM: 60, PenaltyDuration: -time.Second}, "PenaltyDuration"},
	} {
		_, err := New(tc.cfg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
	_, err := New(Config{RPM: 1})
	require.NoError(t, err)
}

func TestRoutingAndBadRequests(t *testing.T) {
	s, _ := newTestServer(t, Config{RPM: 60})
	w := post(s, "/v1/embeddings", openAIBody)
	require.Equal(t, http.StatusNotFound, w.Code)
	assert.Equal(t, "application/json", w.Header().Get("content-type"))
	assert.Contains(t, decodeJSON(t, w)["error"].(map[string]any)["message"], "/v1/embeddings")

	r := httptestRequest(http.MethodGet, "/v1/messages", "")
	w = recordServe(s, r)
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Equal(t, "error", decodeJSON(t, w)["type"])

	w = post(s, "/v1/chat/completions", `{"model":`)
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.Equal(t, "invalid_request_error", decodeJSON(t, w)["error"].(map[string]any)["type"])

	w = post(s, "/v1/chat/completions", `{"model":"gpt-4o","messages":[]}`)
	require.Equal(t, http.StatusBadRequest, w.Code)

	assert.Equal(t, Stats{Requests: 2}, s.Stats(), "malformed POSTs are counted but not charged")
	require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code)
}

func TestPromptTokenEstimate(t *testing.T) {
	s, _ := newTestServer(t, Config{RPM: 60})
	// 9 + 8 characters of text in parts and a system prompt: 17/4 rounded up.
	w := post(s, "/v1/messages", `{"model":"m","max_tokens":5,"system":[{"type":"text","text":"be brief"}],
		"messages":[{"role":"user","content":[{"type":"text","text":"hello you"}]}]}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	usage := decodeJSON(t, w)["usage"].(map[string]any)
	assert.EqualValues(t, 5, usage["input_tokens"])
	assert.EqualValues(t, 5, usage["output_tokens"])
}
