package ratellmiter

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A refused answer whose error body is longer than 64 KiB is closed past
// its first bytes once its retry waits; when the limiter then refuses the
// retry (the server reported its daily request budget spent meanwhile),
// that answer is handed on, and its ContentLength says the length of the
// body it now has, as a proxy writing it out as it came must frame it. It
// still said the 200 KiB the server had sent, with 64 KiB to read.
func TestTransportHandsOnACutErrorBodyWithItsOwnLength(t *testing.T) {
	body := `{"error":{"type":"rate_limit_error","message":"` + strings.Repeat("x", 200<<10) + `"}}`
	url, base := compatServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "60")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, body)
	})
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		client := &http.Client{Transport: tpTransport(t, base, WithLimiter(l))}
		// While the retry waits out the pause, an answer elsewhere says
		// the day's requests are spent: the waiting retry is refused.
		time.AfterFunc(10*time.Second, func() {
			l.ObserveHeaders(http.Header{
				"X-Ratelimit-Limit-Requests":     {"1000"},
				"X-Ratelimit-Remaining-Requests": {"0"},
				"X-Ratelimit-Reset-Requests":     {"2h"},
			})
		})
		resp, err := client.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
		require.NoError(t, err)
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.True(t, bytes.HasPrefix([]byte(body), got), "the start of the body as the server sent it")
		assert.Less(t, len(got), len(body), "cut")
		assert.Equal(t, int64(len(got)), resp.ContentLength, "the length of the body handed on")
		assert.Equal(t, strconv.Itoa(len(got)), resp.Header.Get("Content-Length"), "and its header says so")
		assertConserved(t, l)
	})
}
