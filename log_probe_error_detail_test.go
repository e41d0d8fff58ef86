package ratellmiter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A probe returns the error of its call, whose text may hold the whole
// body the server answered (anthropic-sdk-go's errors do). A server that
// refuses the probe with a body of 17 MiB must not make the minute log's
// record of that minute longer than a reader takes (no minute could be
// read back), nor grow the log by the body at every probe: the event says
// the probe failed, with the start of the error.
func TestTheMinuteLogOfAProbeRefusedWithAHugeBodyStaysReadable(t *testing.T) {
	huge := `{"type":"error","error":{"type":"rate_limit_error","message":"` + strings.Repeat("x", 17<<20) + `"}}`
	url, base := compatServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, huge)
	})
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		client := &http.Client{Transport: base}
		svc := NewService("api", func(ctx context.Context) (bool, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/messages", strings.NewReader(`{}`))
			if err != nil {
				return true, err
			}
			resp, err := client.Do(req)
			if err != nil {
				return true, err
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return false, nil
			}
			// As the SDK's error does, the text holds the body.
			body, err := io.ReadAll(resp.Body)
			return true, fmt.Errorf("POST %q: %s %s (read: %v)", req.URL, resp.Status, body, err)
		})
		m := NewMonitor(WithLogDir(dir))
		l, err := svc.NewLimiter("", 600, WithMonitor(m), WithMaxRetries(0))
		require.NoError(t, err)

		// A call refused pauses the limiter; its probe, a second later,
		// is refused with the huge body.
		_, err = Do(context.Background(), l, func(context.Context) (int, error) {
			return 0, &RateLimitError{StatusCode: http.StatusTooManyRequests, RetryAfter: time.Second}
		})
		require.ErrorIs(t, err, ErrRateLimited)
		time.Sleep(2 * time.Second)
		require.True(t, l.Stats().Paused, "the probe found the server blocked")
		require.NoError(t, m.Stop())

		path, err := LatestLog(dir)
		require.NoError(t, err)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Less(t, fi.Size(), int64(64<<10), "the log holds the start of the error, not the body")
		lf, err := ReadLog(path)
		require.NoError(t, err)
		assert.Zero(t, lf.Skipped, "no record too long to read")
		require.Len(t, lf.Minutes, 1)
		var failed []string
		for _, e := range lf.Minutes[0].Events {
			if e.Kind == EventProbe && strings.Contains(e.Detail, "probe failed") {
				failed = append(failed, e.Detail)
			}
		}
		require.NotEmpty(t, failed, "the probe's failure is in the log")
		assert.Contains(t, failed[0], "429 Too Many Requests", "with the start of its error")
	})
}
