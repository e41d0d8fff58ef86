package ratellmiter

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenBurstBanksUpToAMinutesWorth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 1,000 tokens a second; calls of 1,000 tokens.
		l := newLimiter(t, 60000, WithTokensPerMinute(60000), WithTokenBurst(time.Minute))
		got := roundTo(issueTimes(t, l, 62, 400, 600), time.Second)
		for i, at := range got[:60] {
			assert.Zero(t, at, "call %d: a full minute's bank admits 60 calls in the first second", i)
		}
		assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, got[60:],
			"then one call a second, as the budget refills")

		l2 := newLimiter(t, 60000, WithTokensPerMinute(60000), WithTokenBurst(3*time.Second))
		got = roundTo(issueTimes(t, l2, 5, 400, 600), time.Second)
		assert.Equal(t, []time.Duration{0, 0, 0, time.Second, 2 * time.Second}, got,
			"three seconds' worth banked")
	})
}

// generousCalls runs n calls on workers goroutines, each charged
// WithTokens(in, maxOut), answering after latency with out output tokens,
// and returns how long they all took.
func generousCalls(t *testing.T, l *BucketRateLimiter, n, workers, in, maxOut, out int, latency time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	calls := make(chan struct{}, n)
	for range n {
		calls <- struct{}{}
	}
	close(calls)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range calls {
				tk, err := l.Acquire(context.Background(), WithTokens(in, maxOut))
				if !assert.NoError(t, err) {
					return
				}
				time.Sleep(latency)
				tk.Used(in, out)
				tk.Done()
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

func TestTokenBurstLetsGenerousMaxTokensGoOutAtTheRequestRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 200 calls capped at 4,000 output tokens that use 300, under
		// 200,000 TPM and 3,000 RPM: the requests alone need 4 s.
		opts := []Option{WithTokensPerMinute(200_000)}
		second := generousCalls(t, newLimiter(t, 3000, opts...), 200, 50, 100, 4000, 300, 300*time.Millisecond)
		minute := generousCalls(t, newLimiter(t, 3000, append(opts, WithTokenBurst(time.Minute))...), 200, 50, 100, 4000, 300, 300*time.Millisecond)
		t.Logf("a second's bank: %v; a minute's: %v", second, minute)
		assert.Greater(t, second, 30*time.Second, "a second's bank holds one call's cap at a time")
		assert.Less(t, minute, 5*time.Second, "a minute's bank: paced by requests, not by the caps")
	})
}

func TestTokenBurstRefusesBadSpans(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second, time.Minute + 1} {
		_, err := NewBucketRateLimiter(60, WithMonitor(NewMonitor()), WithTokenBurst(d))
		require.Error(t, err, "%v", d)
		assert.Contains(t, err.Error(), "WithTokenBurst")
	}
}
