package ratellmiter

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Through the Transport a streamed answer is admitted when its status and
// headers arrive, not when its stream ends: a limiter at 1200 RPM sends
// two requests 50 ms apart, the first refused, the second admitted with a
// stream. The second's admission comes back during the
// pause when the refusal comes first, and halves the limit though its
// stream ends long after the resume; when the admission comes first (the
// refusal is slow), the server may have gone down between the two
// answers, and its stream ending during the pause teaches nothing.
func TestAStreamCountsAsAdmittedWhenItsAnswerArrives(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		refusalIn, admissionIn time.Duration // how long each answer takes
		streamFor              time.Duration // how long the admitted stream lasts
		want                   int
	}{
		{"admitted during the pause, streaming past its end", 100 * time.Millisecond, 100 * time.Millisecond, 30 * time.Second, 600},
		{"admitted before the refusal, streaming into the pause", 2 * time.Second, 100 * time.Millisecond, 2 * time.Second, 1200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 1200)
				var mu sync.Mutex
				n := 0
				rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
					mu.Lock()
					n++
					i := n
					mu.Unlock()
					if i == 1 {
						time.Sleep(tc.refusalIn)
						return jsonResponse(r, http.StatusTooManyRequests, nil, `{"error":{"type":"rate_limit_error"}}`), nil
					}
					time.Sleep(tc.admissionIn)
					pr, pw := io.Pipe()
					go func() {
						_, _ = io.WriteString(pw, "data: {}\n\n")
						time.Sleep(tc.streamFor)
						_ = pw.Close()
					}()
					return &http.Response{StatusCode: http.StatusOK, Status: "200 OK",
						Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: pr, Request: r}, nil
				})
				client := tpTransport(t, rt, WithLimiter(l)).Client()
				var wg sync.WaitGroup
				for range 2 {
					wg.Go(func() {
						req, err := http.NewRequest(http.MethodPost, "http://provider.test/v1/chat/completions",
							strings.NewReader(`{"model":"m","stream":true}`))
						require.NoError(t, err)
						resp, err := client.Do(req)
						if assert.NoError(t, err) {
							_, _ = io.Copy(io.Discard, resp.Body)
							_ = resp.Body.Close()
						}
					})
					synctest.Wait() // the first is sent before the second
				}
				wg.Wait()
				s := l.Stats()
				require.EqualValues(t, 1, s.Pauses)
				require.False(t, s.Paused)
				assert.Equal(t, tc.want, l.RPM())
				assertConserved(t, l)
			})
		})
	}
}
