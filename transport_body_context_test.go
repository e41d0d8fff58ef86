package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// h2Server starts a real server on 127.0.0.1 that speaks HTTP/2 over TLS,
// and returns it with a transport that trusts it. The transport keeps no
// idle connection, which would hold virtual time.
func h2Server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *http.Transport) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	base := srv.Client().Transport.(*http.Transport).Clone()
	base.DisableKeepAlives = true
	return srv, base
}

// A body with no GetBody (a form streamed through an io.Pipe and given to
// the SDK with option.WithRequestBody) is read before the ticket is taken,
// to be replayed on a retry. When the request's context ends while it is
// read, the request fails at once, as it does through net/http alone,
// rather than when the writer of the body finishes: the writer may be
// slow, or wait for something the caller gave up on.
func TestTransportGivesUpReadingABodyWhenItsContextEnds(t *testing.T) {
	var hits atomic.Int32
	srv, base := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"file-1","object":"file","bytes":1,"created_at":1,"filename":"data.jsonl","purpose":"batch"}`)
	})
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		client := openai.NewClient(
			openaioption.WithBaseURL(srv.URL+"/v1/"),
			openaioption.WithAPIKey("test"),
			openaioption.WithHTTPClient(tpTransport(t, base, WithLimiter(l)).Client()),
		)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pr, pw := io.Pipe()
		go func() {
			_, _ = io.WriteString(pw, "--b\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n")
			cancel() // the caller gives up while the file is still to come
			time.Sleep(time.Minute)
			_, _ = io.WriteString(pw, "--b--\r\n")
			_ = pw.Close()
		}()
		start := time.Now()
		var file openai.FileObject
		err := client.Post(ctx, "files", nil, &file,
			openaioption.WithRequestBody("multipart/form-data; boundary=b", pr))
		require.ErrorIs(t, err, context.Canceled)
		assert.Zero(t, time.Since(start), "the call ends when its context does")
		assert.Zero(t, hits.Load(), "nothing was sent")
		st := l.Stats()
		assert.Zero(t, st.Issued)
		assertConserved(t, l)
		time.Sleep(time.Minute) // the writer ends
	})
}
