package ratellmiter

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A prompt read for its token estimate is read into one buffer of its
// length: the transport allocates little more than the prompt, over what
// a plain client does for the same call.
func TestTransportReadsAPromptIntoOneBuffer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":1}}`)
	}))
	t.Cleanup(srv.Close)
	l := newLimiter(t, 6000, WithTokensPerMinute(1<<40))
	budgeted := tpTransport(t, srv.Client().Transport, WithLimiter(l)).Client()
	prompt := []byte(`{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum ", 1<<20/12) + `"}]}`)
	call := func(c *http.Client) {
		resp, err := c.Post(srv.URL+"/v1/chat/completions", "application/json", bytes.NewReader(prompt))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	call(srv.Client()) // connections and pools warmed up
	call(budgeted)
	const calls = 4
	plain := allocatedBy(func() {
		for range calls {
			call(srv.Client())
		}
	})
	through := allocatedBy(func() {
		for range calls {
			call(budgeted)
		}
	})
	extra := (int64(through) - int64(plain)) / calls
	assert.Less(t, extra, int64(len(prompt)+len(prompt)/4), "bytes the transport allocates for a prompt of %d bytes", len(prompt))
	assertSettled(t, l, 1+calls)
}
