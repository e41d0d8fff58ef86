package ratellmiter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A request that sets no output cap is charged, before its answer, the
// mean output of the uncapped answers of its model through the same
// limiter: nothing before the first answer, then that answer's 1,000
// tokens, then an average in which each new answer weighs an eighth (1,000
// then 200 give 900). A capped request, or another model, is not charged
// it; the usage corrects each charge.
func TestTransportChargesAnUncappedRequestTheMeanOutputOfItsModel(t *testing.T) {
	outputs := []int{1000, 200, 300, 50}
	var n atomic.Int32
	srv := answeringServer(t, func() string {
		out := outputs[min(int(n.Add(1))-1, len(outputs)-1)]
		return fmt.Sprintf(`{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":%d,"total_tokens":%d}}`, out, out+10)
	})
	base := &http.Transport{DisableKeepAlives: true}
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6_000_000, WithOutputTokensPerMinute(600_000), WithTokenBurst(time.Minute))
		gate, sent, release := gatedTransport(base)
		client := tpOpenAI(srv.URL, tpTransport(t, gate, WithLimiter(l)))
		// charged sends a chat request for model, capped at limit output
		// tokens when limit > 0, and returns the output it was charged
		// before its answer.
		charged := func(model string, limit int64) float64 {
			params := tpChat(model)
			if limit > 0 {
				params.MaxCompletionTokens = openai.Int(limit)
			}
			return chargeWhileHeld(t, func() float64 { return outputLevel(l) }, sent, release, func() error {
				_, err := client.Chat.Completions.New(context.Background(), params)
				return err
			})
		}
		assert.InDelta(t, 0, charged("gpt-4o", 0), 1, "before any answer")
		assert.InDelta(t, 1000, charged("gpt-4o", 0), 1, "the first answer's output")
		assert.InDelta(t, 900, charged("gpt-4o", 0), 1, "1,000 and an eighth of the way to 200")
		assert.InDelta(t, 64, charged("gpt-4o", 64), 1, "a capped request: its cap")
		assert.InDelta(t, 0, charged("gpt-4o-mini", 0), 1, "another model: nothing known")
		base.CloseIdleConnections()
	})
}

// The mean output is a guess: a model whose answers write more than the
// output budget allows in a minute is charged at most that minute, and
// its next uncapped request waits for it instead of failing with
// ErrExceedsBudget.
func TestTransportChargesAnUncappedRequestAtMostAMinutesBudget(t *testing.T) {
	srv := answeringServer(t, func() string {
		return `{"id":"c","object":"chat.completion","created":1,"model":"o3","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5000,"total_tokens":5010}}`
	})
	base := &http.Transport{DisableKeepAlives: true}
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6_000, WithOutputTokensPerMinute(3_000))
		client := tpOpenAI(srv.URL, tpTransport(t, base, WithLimiter(l)))
		for range 2 {
			_, err := client.Chat.Completions.New(context.Background(), tpChat("o3"))
			require.NoError(t, err, "an uncapped request after answers of 5,000 tokens")
		}
		base.CloseIdleConnections()
	})
}

// answeringServer returns a server on 127.0.0.1 that answers each request
// with the JSON answer gives; it closes when the test ends.
func answeringServer(t *testing.T, answer func() string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// gatedTransport returns a RoundTripper that stops each request on its
// way to base, its ticket issued and its tokens charged, until released:
// sent gets a value as each request stops, and each value sent on release
// lets one go on. It must be made in the test's bubble.
func gatedTransport(base http.RoundTripper) (rt http.RoundTripper, sent, release chan struct{}) {
	sent, release = make(chan struct{}), make(chan struct{})
	rt = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent <- struct{}{}
		<-release
		return base.RoundTrip(r)
	})
	return rt, sent, release
}

// chargeWhileHeld makes call, whose request stops at the gate of a
// gatedTransport (sent, release), and returns how much of a budget, whose
// level reads, the request was charged while it stopped; the call must
// succeed.
func chargeWhileHeld(t *testing.T, level func() float64, sent, release chan struct{}, call func() error) float64 {
	t.Helper()
	done := make(chan error)
	before := level()
	go func() { done <- call() }()
	<-sent
	c := before - level()
	release <- struct{}{}
	require.NoError(t, <-done)
	return c
}

// outputLevel returns the level of l's output token budget.
func outputLevel(l *BucketRateLimiter) float64 {
	l.lock()
	defer l.mu.Unlock()
	return l.bud.output.level
}
