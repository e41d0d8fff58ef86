package ratellmiter

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A stream's body may be closed from another goroutine while one reads it,
// to abort it, as net/http and the SDKs' streams allow: the usage the
// transport collects from the body is not raced on.
func TestTransportStreamClosedWhileAnotherGoroutineReadsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithTokensPerMinute(60000))
		pr, pw := io.Pipe()
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			_ = r.Body.Close()
			resp := jsonResponse(r, http.StatusOK, nil, "")
			resp.Header.Set("Content-Type", "text/event-stream")
			resp.Body, resp.ContentLength = pr, -1
			return resp, nil
		})
		req, err := http.NewRequest(http.MethodPost, fakeURL+"/v1/chat/completions",
			onlyReader{strings.NewReader(`{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`)})
		require.NoError(t, err)
		resp, err := tpTransport(t, rt, WithLimiter(l)).RoundTrip(req)
		require.NoError(t, err)

		var wg sync.WaitGroup
		wrote := make(chan struct{})
		wg.Go(func() { // the server
			chunk := []byte("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n")
			_, _ = pw.Write(chunk)
			_, _ = pw.Write(chunk)
			close(wrote) // the reader has the bytes; it may still be taking them in
			for {
				if _, err := pw.Write(chunk); err != nil {
					return
				}
			}
		})
		wg.Go(func() { // the reader
			buf := make([]byte, 64)
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					assert.True(t, errors.Is(err, io.ErrClosedPipe), "%v", err)
					return
				}
			}
		})
		<-wrote
		require.NoError(t, resp.Body.Close())
		wg.Wait()
		assertSettled(t, l, 1)
	})
}
