package ratellmiter

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gzipped returns s compressed with gzip, as a server sends it to a client
// that asked for it.
func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// postAcceptingGzip posts body through a transport on l over rt, asking
// for gzip itself, and returns the response with its body read and closed.
func postAcceptingGzip(t *testing.T, rt http.RoundTripper, l *BucketRateLimiter, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, fakeURL+"/v1/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := tpTransport(t, rt, WithLimiter(l)).Client().Do(req)
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp, got
}

// A caller that asks for gzip itself gets the error body still compressed:
// the transport reads it all the same, so an exhausted quota is not taken
// for a rate limit, and the caller gets the compressed bytes it asked for.
func TestTransportReadsACompressedErrorBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		zipped := gzipped(t, `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`)
		var calls atomic.Int32
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls.Add(1)
			resp := jsonResponse(r, http.StatusTooManyRequests, http.Header{"Content-Encoding": {"gzip"}}, string(zipped))
			return resp, nil
		})
		l := newLimiter(t, 600)
		resp, got := postAcceptingGzip(t, rt, l, `{}`)

		assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		assert.Equal(t, zipped, got, "the caller gets the body as the server sent it")
		assert.EqualValues(t, 1, calls.Load(), "an exhausted quota is not retried")
		st := l.Stats()
		assert.False(t, st.Paused)
		assert.Zero(t, st.RateLimited)
		assertSettled(t, l, 1)
	})
}

// A caller that asks for gzip itself gets the answer still compressed: the
// usage in it corrects the ticket's token charge all the same.
func TestTransportReconcilesTheUsageOfACompressedAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		zipped := gzipped(t, `{"id":"chatcmpl-1","object":"chat.completion","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}}`)
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return jsonResponse(r, http.StatusOK, http.Header{"Content-Encoding": {"gzip"}}, string(zipped)), nil
		})
		l := newLimiter(t, 600, WithTokensPerMinute(60000)) // 1,000 tokens a second
		_, got := postAcceptingGzip(t, rt, l, `{"model":"m","max_tokens":50000,"messages":[{"role":"user","content":"hi"}]}`)
		assert.Equal(t, zipped, got)

		// Charged its estimate of 50,000 output tokens, the budget would
		// be in debt for most of a minute; charged the 30 tokens used, it
		// has room a second later for 500 more.
		time.Sleep(time.Second)
		tk, ok := l.TryAcquire(WithTokens(500, 0))
		require.True(t, ok, "the usage replaced the estimate")
		tk.Done()
	})
}
