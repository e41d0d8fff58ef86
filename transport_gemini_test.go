package ratellmiter

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// geminiServer answers generateContent with the fixture errorFile for the
// first call and a plain answer after that.
func geminiServer(t *testing.T, errorFile string) (http.RoundTripper, *atomic.Int32) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "signals", errorFile))
	require.NoError(t, err)
	var calls atomic.Int32
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if calls.Add(1) == 1 {
			return jsonResponse(r, http.StatusTooManyRequests, nil, string(body)), nil
		}
		return jsonResponse(r, http.StatusOK, nil, `{"candidates":[],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":5}}`), nil
	}), &calls
}

func postGemini(t *testing.T, c *http.Client) (int, string) {
	t.Helper()
	resp, err := c.Post(fakeURL+"/v1beta/models/gemini-2.0-flash:generateContent", "application/json",
		strings.NewReader(`{"contents":[{"parts":[{"text":"hi"}]}]}`))
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode, string(b)
}

func TestTransportGeminiRetryInfoIsTheRetryHint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, calls := geminiServer(t, "gemini_retryinfo.json")
		l := newLimiter(t, 600)
		start := time.Now()
		status, _ := postGemini(t, tpTransport(t, rt, WithLimiter(l)).Client())
		assert.Equal(t, http.StatusOK, status, "the 429 was absorbed")
		assert.EqualValues(t, 2, calls.Load())
		// RetryInfo.retryDelay "26s": the canary goes when it expires.
		assert.Equal(t, 26*time.Second, time.Since(start).Round(time.Second))
		st := l.Stats()
		assert.EqualValues(t, 1, st.Pauses)
		assert.False(t, st.Paused)
	})
}

func TestTransportGeminiPerDayQuotaIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, calls := geminiServer(t, "gemini_per_day.json")
		l := newLimiter(t, 600)
		start := time.Now()
		status, body := postGemini(t, tpTransport(t, rt, WithLimiter(l)).Client())
		assert.Equal(t, http.StatusTooManyRequests, status, "handed on at once")
		assert.Contains(t, body, "PerDay")
		assert.EqualValues(t, 1, calls.Load(), "no retry")
		assert.Less(t, time.Since(start), time.Second)
		assert.Zero(t, l.Stats().Pauses, "a used-up daily quota pauses nothing")

		status, _ = postGemini(t, tpTransport(t, rt, WithLimiter(l)).Client())
		assert.Equal(t, http.StatusOK, status, "the next call goes at once")
		assert.Less(t, time.Since(start), time.Second)
	})
}

// A request's model is named as its caller names it to the SDK, whether the
// body or the path says it: Gemini's SDK writes "models/NAME" in the body
// of a cache it creates, and a tuned model's path is .../tunedModels/NAME.
func TestModelOfNamesTheModelAsTheCallerDoes(t *testing.T) {
	cases := []struct {
		body, path, want string
	}{
		{`{"model":"gpt-4o"}`, "/v1/chat/completions", "gpt-4o"},
		{`{"model":"models/gemini-2.5-flash","contents":[]}`, "/v1beta/cachedContents", "gemini-2.5-flash"},
		{`{"model":"tunedModels/my-tune"}`, "/v1beta/cachedContents", "tunedModels/my-tune"},
		// Vertex AI's cache names its model in full.
		{`{"model":"projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash"}`, "/v1beta1/projects/p/locations/us-central1/cachedContents", "gemini-2.5-flash"},
		{`{"model":"publishers/google/models/gemini-2.5-flash"}`, "/v1beta1/cachedContents", "gemini-2.5-flash"},
		{`{"contents":[]}`, "/v1beta/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash"},
		{``, "/v1/models/gemini-2.5-pro:streamGenerateContent", "gemini-2.5-pro"},
		{``, "/v1beta/models/gemini-2.5-flash/operations/x", "gemini-2.5-flash"},
		{``, "/v1beta/tunedModels/my-tune:generateContent", "tunedModels/my-tune"},
		{``, "/v1beta/tunedModels/my-tune/models/x", "x"},
		{``, "/v1beta/models/", ""},
		{``, "/v1beta/tunedModels/:generateContent", ""},
		{``, "/v1/models", ""},
		{``, "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict", "claude-sonnet-4@20250514"},
		{``, "/v1beta/models/gemini-embedding-001:batchEmbedContents", "gemini-embedding-001"},
		// A colon before no method is part of the name: an OpenAI
		// fine-tuned model's.
		{``, "/v1/models/ft:gpt-4o-mini:org::abc123", "ft:gpt-4o-mini:org::abc123"},
	}
	for _, c := range cases {
		req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1"+c.path, nil)
		require.NoError(t, err)
		var body []byte
		if c.body != "" {
			body = []byte(c.body)
		}
		assert.Equal(t, c.want, modelOf(body, req), "body %s, path %s", c.body, c.path)
	}
}
