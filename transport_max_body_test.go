package ratellmiter

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// WithMaxBodyBytes(math.MaxInt64), the way to say "no bound", still sends
// every body whole.
func TestTransportWithTheLargestMaxBodyBytesSendsTheBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const payload = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`
		var got string
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(r.Body)
			_ = r.Body.Close()
			got = string(b)
			return jsonResponse(r, http.StatusOK, nil, `{}`), nil
		})
		l := newLimiter(t, 600)
		tr := tpTransport(t, rt, WithLimiter(l), WithMaxBodyBytes(math.MaxInt64))
		req, err := http.NewRequest(http.MethodPost, fakeURL+"/v1/chat/completions", onlyReader{strings.NewReader(payload)})
		require.NoError(t, err)
		resp, err := tr.Client().Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, payload, got)
	})
}
