package ratellmiter

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A caller that asks for gzip itself gets the error body still compressed:
// the transport reads it all the same, so an exhausted quota is not taken
// for a rate limit, and the caller gets the compressed bytes it asked for.
func TestTransportReadsACompressedErrorBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var zipped bytes.Buffer
		zw := gzip.NewWriter(&zipped)
		_, _ = zw.Write([]byte(`{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`))
		require.NoError(t, zw.Close())
		var calls atomic.Int32
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls.Add(1)
			resp := jsonResponse(r, http.StatusTooManyRequests, http.Header{"Content-Encoding": {"gzip"}}, zipped.String())
			return resp, nil
		})
		l := newLimiter(t, 600)
		req, err := http.NewRequest(http.MethodPost, fakeURL+"/v1/chat/completions", bytes.NewReader([]byte(`{}`)))
		require.NoError(t, err)
		req.Header.Set("Accept-Encoding", "gzip")

		resp, err := tpTransport(t, rt, WithLimiter(l)).Client().Do(req)
		require.NoError(t, err)
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())

		assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		assert.Equal(t, zipped.Bytes(), got, "the caller gets the body as the server sent it")
		assert.EqualValues(t, 1, calls.Load(), "an exhausted quota is not retried")
		st := l.Stats()
		assert.False(t, st.Paused)
		assert.Zero(t, st.RateLimited)
		assertSettled(t, l, 1)
	})
}
