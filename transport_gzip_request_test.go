package ratellmiter

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gzipRequestServer starts a real server on 127.0.0.1 that takes chat
// requests whose bodies are gzip-compressed and answers with a usage of
// 10 input and 20 output tokens.
func gzipRequestServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Encoding") != "gzip" {
			http.Error(w, "expected a gzip body", http.StatusBadRequest)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err == nil {
			_, err = io.Copy(io.Discard, zr)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// postGzipped posts the chat request body compressed with gzip, with
// Content-Encoding: gzip, through hc and returns the answer's status.
func postGzipped(t *testing.T, hc *http.Client, url, body string) (int, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", bytes.NewReader(gzipped(t, body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Body.Close()
}

// A request body compressed with gzip (Content-Encoding: gzip) names its
// model and costs its tokens as the same body uncompressed does: it is
// routed to its model's limiter, not refused for want of a default one.
func TestTransportRoutesACompressedRequestByItsModel(t *testing.T) {
	srv := gzipRequestServer(t)
	m := NewMonitor()
	t.Cleanup(func() { m.Stop() })
	svc := NewService("openai", nil)
	l, err := svc.NewLimiter("gpt-4o-mini", 600, WithMonitor(m))
	require.NoError(t, err)
	tr := tpTransport(t, nil, WithServiceLimiters(svc))
	t.Cleanup(tr.CloseIdleConnections)

	status, err := postGzipped(t, tr.Client(), srv.URL, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assertSettled(t, l, 1)
}

// ... and is charged its estimate (here its max_tokens) until its answer
// reports its usage, rather than nothing.
func TestTransportChargesACompressedRequestItsEstimate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // a stream the test holds open
	}))
	t.Cleanup(srv.Close)
	base := &http.Transport{DisableKeepAlives: true}
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithTokensPerMinute(60000)) // banks 1,000
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions",
			bytes.NewReader(gzipped(t, `{"model":"gpt-4o-mini","stream":true,"max_tokens":3000,"messages":[{"role":"user","content":"hi"}]}`)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
		resp, err := tpTransport(t, base, WithLimiter(l)).Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		time.Sleep(time.Second)
		_, ok := l.TryAcquire(WithTokens(900, 0))
		assert.False(t, ok, "the stream under way is charged its 3,000 tokens")
	})
}

// A compressed body that decompresses to more than WithMaxBodyBytes fails
// before it is sent when the transport routes by model, as the same body
// uncompressed does, instead of going to the default limiter for want of
// a model read.
func TestTransportRefusesACompressedBodyLargerThanMaxBodyBytesWhenRouting(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(srv.Close)
	svc, limiters := formService(t, "", "gpt-4o-mini")
	tr := tpTransport(t, nil, WithServiceLimiters(svc), WithMaxBodyBytes(1<<20))
	t.Cleanup(tr.CloseIdleConnections)

	// 2 MiB of prompt, a few KiB compressed.
	body := `{"messages":[{"role":"user","content":"` + strings.Repeat("a", 2<<20) + `"}],"model":"gpt-4o-mini"}`
	_, err := postGzipped(t, tr.Client(), srv.URL, body)
	require.ErrorIs(t, err, ErrBodyTooLarge)
	assert.Zero(t, requests.Load(), "nothing was sent")
	assert.Zero(t, limiters[""].Stats().Issued, "the default limiter issued nothing")
}

// A compressed body that is neither JSON nor a form (a file) is not read
// for its model, so it is sent whatever its size decompressed: only the
// bytes buffered to replay it, compressed, count against WithMaxBodyBytes.
func TestTransportSendsACompressedFileLargerThanMaxBodyBytesDecompressed(t *testing.T) {
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n, err := io.Copy(io.Discard, zr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		received.Store(n)
	}))
	t.Cleanup(srv.Close)
	svc, limiters := formService(t, "", "gpt-4o-mini")
	tr := tpTransport(t, nil, WithServiceLimiters(svc), WithMaxBodyBytes(1<<20))
	t.Cleanup(tr.CloseIdleConnections)

	// 2 MiB of file, a few KiB compressed, from a reader without GetBody.
	file := gzipped(t, strings.Repeat("a", 2<<20))
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/files", onlyReader{bytes.NewReader(file)})
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := tr.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.EqualValues(t, 2<<20, received.Load(), "the server received the whole file")
	assertSettled(t, limiters[""], 1)
}
