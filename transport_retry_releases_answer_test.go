package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A 429 whose body is too long to classify (more than maxErrorBody) is
// read no further while its request waits to be sent again: the refused
// answer is closed when the retry starts to wait, not when the pause is
// over. It held its connection (HTTP/1.1) or its stream, with up to a
// stream's window of data buffered in the client (4 MiB on HTTP/2: 209 MB
// for 50 such answers), for the whole pause, which a server may make last
// minutes.
func TestTransportReleasesARefusedAnswerWhileItsRetryWaits(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		t.Run(proto, func(t *testing.T) {
			released := make(chan struct{})
			var calls, major atomic.Int32
			chunk := strings.Repeat("x", 1<<20)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				major.Store(int32(r.ProtoMajor))
				if calls.Add(1) > 1 {
					_, _ = io.WriteString(w, `{}`)
					return
				}
				w.Header().Set("Retry-After", "60")
				w.WriteHeader(http.StatusTooManyRequests)
				for range 64 {
					if _, err := io.WriteString(w, chunk); err != nil {
						close(released) // the client closed the answer
						return
					}
				}
			}))
			var base *http.Transport
			if proto == "HTTP/2" {
				srv.EnableHTTP2 = true
				srv.StartTLS()
				base = srv.Client().Transport.(*http.Transport)
			} else {
				srv.Start()
				base = &http.Transport{DisableKeepAlives: true}
			}
			t.Cleanup(srv.Close)
			t.Cleanup(base.CloseIdleConnections)

			l := newLimiter(t, 600)
			client := &http.Client{Transport: tpTransport(t, base, WithLimiter(l))}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/chat/completions", strings.NewReader(`{}`))
				if err != nil {
					done <- err
					return
				}
				resp, err := client.Do(req)
				if err == nil {
					_ = resp.Body.Close()
				}
				done <- err
			}()

			select {
			case <-released:
			case err := <-done:
				t.Fatalf("the call ended before its retry: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("the refused answer is still open while its retry waits out the pause")
			}
			st := l.Stats()
			assert.True(t, st.Paused, "the limiter waits out the server's 60 s")
			assert.Equal(t, 1, st.Retrying, "the request waits to be sent again")
			cancel()
			require.ErrorIs(t, <-done, context.Canceled)
			assert.EqualValues(t, 1, calls.Load(), "not sent again during the pause")
			assert.Equal(t, proto, "HTTP/"+map[int32]string{1: "1.1", 2: "2"}[major.Load()])
			assertConserved(t, l)
		})
	}
}
