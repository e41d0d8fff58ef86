package ratellmiter

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A caller that asks for gzip itself gets the answer still compressed: the
// usage in it corrects the ticket's token charge all the same.
func TestTransportReconcilesTheUsageOfACompressedAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var zipped bytes.Buffer
		zw := gzip.NewWriter(&zipped)
		_, _ = zw.Write([]byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}}`))
		require.NoError(t, zw.Close())
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return jsonResponse(r, http.StatusOK, http.Header{"Content-Encoding": {"gzip"}}, zipped.String()), nil
		})
		l := newLimiter(t, 600, WithTokensPerMinute(60000)) // 1,000 tokens a second
		req, err := http.NewRequest(http.MethodPost, fakeURL+"/v1/chat/completions",
			bytes.NewReader([]byte(`{"model":"m","max_tokens":50000,"messages":[{"role":"user","content":"hi"}]}`)))
		require.NoError(t, err)
		req.Header.Set("Accept-Encoding", "gzip")

		resp, err := tpTransport(t, rt, WithLimiter(l)).Client().Do(req)
		require.NoError(t, err)
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, zipped.Bytes(), got)

		// Charged its estimate of 50,000 output tokens, the budget would
		// be in debt for most of a minute; charged the 30 tokens used, it
		// has room a second later for 500 more.
		time.Sleep(time.Second)
		tk, ok := l.TryAcquire(WithTokens(500, 0))
		require.True(t, ok, "the usage replaced the estimate")
		tk.Done()
	})
}
