package ratellmiter

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// WithMaxBodyBytes bounds only the bodies the transport must hold: one
// with GetBody (a file upload through an SDK) goes out whatever its size,
// also through a limiter with a token budget, which then has no estimate
// for it; a body without GetBody still fails, as it cannot be replayed.
func TestTransportWithATokenBudgetSendsALargeRewindableBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithTokensPerMinute(60000))
		var got []byte
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got, _ = io.ReadAll(r.Body)
			_ = r.Body.Close()
			return jsonResponse(r, http.StatusOK, nil, `{"id":"file-1"}`), nil
		})
		tr := tpTransport(t, rt, WithLimiter(l), WithMaxBodyBytes(1024))
		upload := bytes.Repeat([]byte("x"), 4096)

		resp, err := tr.Client().Post(fakeURL+"/v1/files", "application/octet-stream", bytes.NewReader(upload))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, upload, got, "the whole body reached the server")
		assertSettled(t, l, 1)

		req, err := http.NewRequest(http.MethodPost, fakeURL+"/v1/files", onlyReader{bytes.NewReader(upload)})
		require.NoError(t, err)
		_, err = tr.Client().Do(req)
		require.ErrorIs(t, err, ErrBodyTooLarge)
	})
}
