package ratellmiter

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// No call can use more than a minute of a token budget: the provider
// refuses a larger one, as Acquire does with ErrExceedsBudget. An answer
// that reports more (a broken proxy, a server counting bytes, a usage of
// 10^11 tokens) is charged a minute of each budget it names, so the calls
// after it wait at most about a minute, where they waited for the weeks
// that many tokens take to refill.
func TestTransportHoldsTheLimiterAboutAMinuteAtMostAfterAnAbsurdUsage(t *testing.T) {
	usages := map[string]string{
		"input":  `{"usage":{"prompt_tokens":99999999999,"completion_tokens":5}}`,
		"output": `{"usage":{"prompt_tokens":5,"completion_tokens":99999999999}}`,
		"both":   `{"usage":{"input_tokens":99999999999,"output_tokens":99999999999}}`,
	}
	for name, absurd := range usages {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			url, base := compatServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if calls.Add(1) == 1 {
					_, _ = io.WriteString(w, absurd)
					return
				}
				_, _ = io.WriteString(w, `{"usage":{"prompt_tokens":10,"completion_tokens":5}}`)
			})
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 600, WithTokensPerMinute(100_000),
					WithInputTokensPerMinute(60_000), WithOutputTokensPerMinute(30_000))
				client := &http.Client{Transport: tpTransport(t, base, WithLimiter(l))}
				post := func() time.Duration {
					start := time.Now()
					resp, err := client.Post(url+"/v1/chat/completions", "application/json",
						strings.NewReader(`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
					require.NoError(t, err)
					_, err = io.Copy(io.Discard, resp.Body)
					require.NoError(t, err)
					require.NoError(t, resp.Body.Close())
					return time.Since(start)
				}
				post()
				wait := post()
				assert.LessOrEqual(t, wait, 62*time.Second,
					"the next call waits out at most a minute of debt, not the refill of the tokens reported")
				assert.Greater(t, wait, 30*time.Second, "the usage reported is still charged, up to a minute")
				assertSettled(t, l, 2)
			})
		})
	}
}
