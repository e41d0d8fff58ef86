package ratellmiter

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRefillStartsFullAndRefillsContinuously(t *testing.T) {
	r := newRefill(600, minuteNs, 10) // 10 a second, a second's worth banked
	assert.True(t, r.fits(0, 10), "a new budget is full")
	r.charge(0, 10)
	assert.False(t, r.fits(0, 1), "spent")
	assert.Equal(t, int64(nsPerSec/10), r.when(0, 1), "one unit comes back every 100 ms")
	assert.True(t, r.fits(nsPerSec/2, 5))
	assert.False(t, r.fits(nsPerSec/2, 6))
	assert.Equal(t, int64(nsPerSec), r.when(nsPerSec/2, 10))
	r.at(10 * minuteNs)
	assert.Equal(t, 10.0, r.level, "never more than the capacity banked")
}

func TestRefillAdmitsALargeCallWhenFullThenWaitsOutTheDebt(t *testing.T) {
	r := newRefill(600, minuteNs, 10)
	assert.True(t, r.fits(0, 30), "larger than the bank: admitted when full")
	r.charge(0, 30)
	assert.Equal(t, 2500*int64(time.Millisecond), r.when(0, 5), "20 owed, then 5 more")
	r.charge(0, -1000)
	assert.Equal(t, 10.0, r.level, "a refund never banks more than the capacity")
	var none refill
	assert.True(t, none.fits(0, 1<<40), "the zero refill admits everything")
}

// issueTimes acquires tickets for calls of in and out tokens, one after
// the other, and returns when each was issued.
func issueTimes(t *testing.T, l *BucketRateLimiter, n, in, out int) []time.Duration {
	t.Helper()
	start := time.Now()
	var got []time.Duration
	for range n {
		tk, err := l.Acquire(context.Background(), WithTokens(in, out))
		require.NoError(t, err)
		got = append(got, time.Since(start))
		tk.Done()
	}
	return got
}

func TestTokensPerMinuteSpreadsTokensAcrossTheMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000, WithTokensPerMinute(6000))
		got := issueTimes(t, l, 4, 400, 600)
		// 100 tokens a second: a call of 1,000 every 10 s, the first at
		// once, not six in the first second.
		assert.Equal(t, []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second},
			roundTo(got, time.Second))
	})
}

func roundTo(ds []time.Duration, unit time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(unit)
	}
	return out
}

func TestUsedCorrectsTheChargeBothWays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000, WithTokensPerMinute(6000)) // 100 tokens a second
		start := time.Now()
		tk, err := l.Acquire(context.Background(), WithTokens(100, 900))
		require.NoError(t, err)
		tk.Used(100, 50) // the answer was short: 850 tokens come back
		tk.Done()
		tk2, err := l.Acquire(context.Background(), WithTokens(100, 700))
		require.NoError(t, err)
		// 50 owed and 100 for the next call: 1.5 s, not the 10 s that
		// the estimate alone would cost.
		assert.Equal(t, 1500*time.Millisecond, time.Since(start))
		tk2.Used(100, 1700) // the answer was long: 1,000 more than estimated
		tk2.Done()
		_, err = l.Acquire(context.Background(), WithTokens(100, 0))
		require.NoError(t, err)
		// 1,700 owed and 100 more: 18 s later.
		assert.Equal(t, 19500*time.Millisecond, time.Since(start))
	})
}

func TestUsedThatGivesBackOneBudgetWakesItsWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithInputTokensPerMinute(6000), WithOutputTokensPerMinute(6000))
		a, err := l.Acquire(context.Background(), WithTokens(100, 0)) // the input budget is empty
		require.NoError(t, err)
		start := time.Now()
		got := make(chan *Ticket, 1)
		go func() {
			b, err := l.Acquire(context.Background(), WithTokens(100, 0))
			assert.NoError(t, err)
			got <- b
		}()
		synctest.Wait()
		// The call used no input tokens, but 100 output ones: the input
		// budget is full again at once, though the total did not change.
		a.Used(0, 100)
		a.Done()
		b := <-got
		b.Done()
		assert.Equal(t, 100*time.Millisecond, time.Since(start), "the waiter goes at the request spacing, not when the input budget would have refilled (1 s)")
	})
}

func TestSplitInputAndOutputBudgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000, WithInputTokensPerMinute(1000), WithOutputTokensPerMinute(6000))
		got := issueTimes(t, l, 4, 500, 10)
		// The input budget binds: one call every 30 s.
		assert.Equal(t, []time.Duration{0, 30 * time.Second, time.Minute, 90 * time.Second}, roundTo(got, time.Second))

		l2 := newLimiter(t, 6000, WithInputTokensPerMinute(100000), WithOutputTokensPerMinute(1200))
		got = issueTimes(t, l2, 3, 10, 1200)
		assert.Equal(t, []time.Duration{0, time.Minute, 2 * time.Minute}, roundTo(got, time.Second),
			"the output budget binds")
	})
}

func TestACallLargerThanTheBudgetFailsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithTokensPerMinute(1000), WithOutputTokensPerMinute(500))
		_, err := l.Acquire(context.Background(), WithTokens(900, 200))
		require.ErrorIs(t, err, ErrExceedsBudget)
		assert.Contains(t, err.Error(), "1100 tokens")
		_, err = l.Acquire(context.Background(), WithTokens(10, 501))
		require.ErrorIs(t, err, ErrExceedsBudget)
		assert.Contains(t, err.Error(), "501 output tokens")
		_, ok := l.TryAcquire(WithTokens(900, 200))
		assert.False(t, ok)
		_, err = l.Acquire(context.Background(), WithTokens(-1, 0))
		assert.ErrorContains(t, err, "WithTokens(-1, 0)")
		assert.Equal(t, uint64(0), l.Stats().Requested, "refused calls are not counted")
	})
}

// The part of an output that is only a guess (the mean output charged a
// request without a cap) is charged as far as a minute of each budget
// allows, and before any part of the input; what is known still counts.
func TestAnOutputGuessIsChargedAtMostAMinutesBudget(t *testing.T) {
	tests := []struct {
		name                  string
		tpm, outputTPM        int
		in, out, bound, guess int64
		wantIn, wantOut       int64
	}{
		{"fits as it is", 10_000, 0, 1_000, 3_000, 0, 3_000, 1_000, 3_000},
		{"lowered to the output budget", 0, 1_000, 100, 1_500, 0, 1_500, 100, 1_000},
		{"no lower than the cap beneath it", 0, 1_000, 100, 1_500, 0, 300, 100, 1_200},
		{"lowered to what the input leaves", 10_000, 0, 9_000, 3_000, 0, 3_000, 9_000, 1_000},
		{"the output before the input's bound", 10_000, 0, 9_000, 3_000, 4_000, 3_000, 9_000, 1_000},
		{"then the input's bound", 10_000, 0, 9_000, 3_000, 4_000, 1_000, 8_000, 2_000},
		{"a guess larger than the output", 0, 1_000, 0, 1_500, 0, 9_000, 0, 1_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := minuteBudgets(tc.tpm, 0, tc.outputTPM)
			in, out := b.fit(tc.in, tc.out, tc.bound, tc.guess)
			assert.Equal(t, tc.wantIn, in, "input")
			assert.Equal(t, tc.wantOut, out, "output")
		})
	}
}

// The part of an estimate that is only a bound (images of unknown size)
// is charged as far as a minute of each budget allows; what is known
// still counts in full, so that check refuses only what can never fit.
func TestAnEstimatesBoundIsChargedAtMostAMinutesBudget(t *testing.T) {
	tests := []struct {
		name                 string
		tpm, inputTPM        int
		in, out, bound, want int64
	}{
		{"no budget", 0, 0, 50_000, 10, 48_000, 50_000},
		{"fits as it is", 100_000, 0, 50_000, 10, 48_000, 50_000},
		{"lowered to the minute's budget", 100_000, 0, 192_700, 10, 192_676, 99_990},
		{"no lower than what is known", 100_000, 0, 150_000, 10, 40_000, 110_000},
		{"the input budget", 0, 30_000, 50_000, 10, 48_000, 30_000},
		{"the tighter of the two", 100_000, 30_000, 192_700, 10, 192_676, 30_000},
		{"no bound", 100_000, 0, 192_700, 10, 0, 192_700},
		{"a negative bound is none", 100_000, 0, 192_700, 10, -5, 192_700},
		{"a bound larger than the charge", 1_000, 0, 500, 10, 900, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := minuteBudgets(tc.tpm, tc.inputTPM, 0)
			in, out := b.fit(tc.in, tc.out, tc.bound, 0)
			assert.Equal(t, tc.want, in)
			assert.Equal(t, tc.out, out, "an output that is no guess is kept")
		})
	}
}

func TestRequestsPerDayFailsFastSayingWhenItResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithRequestsPerDay(3))
		start := time.Now()
		for range 3 {
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			tk.Done()
		}
		_, err := l.Acquire(context.Background())
		require.ErrorIs(t, err, ErrQuotaExhausted)
		var qe *QuotaError
		require.ErrorAs(t, err, &qe)
		assert.Equal(t, 8*time.Hour, qe.Reset.Sub(start).Round(time.Second), "one request per 8 h comes back")
		assert.Contains(t, err.Error(), "3 requests per day")
		assert.Less(t, time.Since(start), time.Second, "failed at once")

		time.Sleep(8*time.Hour - 30*time.Second) // within a minute of room: waited
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		assert.Equal(t, 8*time.Hour, time.Since(start).Round(time.Second))
	})
}

// Those already in line when the daily budget runs out fail with the
// QuotaError too, instead of waiting hours for room.
func TestRequestsPerDayFailsThoseWaitingWhenItRunsOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 60, WithRequestsPerDay(3)) // a ticket a second
		start := time.Now()
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				tk, err := l.Acquire(context.Background())
				if err == nil {
					tk.Done()
				}
				errs <- err
			}()
			synctest.Wait() // in this order
		}
		var refused []error
		for range 4 {
			if err := <-errs; err != nil {
				refused = append(refused, err)
			}
		}
		require.Len(t, refused, 1, "three tickets a day: the fourth is refused")
		require.ErrorIs(t, refused[0], ErrQuotaExhausted)
		var qe *QuotaError
		require.ErrorAs(t, refused[0], &qe)
		assert.Equal(t, 8*time.Hour, qe.Reset.Sub(start).Round(time.Minute), "it says when the next request fits")
		assert.Less(t, time.Since(start), time.Minute, "it failed within a minute, not hours later")
		assertConserved(t, l)
	})
}

func TestRateLimitedTicketsGiveTheirTokensBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(openAnswer)
		l := newLimiter(t, 600, WithTokensPerMinute(1000), WithService(svc))
		tk, err := l.Acquire(context.Background(), WithTokens(500, 500))
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Go(func() {
			// Retried first, once the probe says the server is back:
			// charged again then, not twice.
			if assert.NoError(t, tk.RateLimited(context.Background(), time.Second)) {
				tk.Done()
			}
		})
		wg.Wait()
		assert.Equal(t, uint64(1), l.Stats().RateLimited)
		retried := time.Now()
		_, ok := l.TryAcquire(WithTokens(1, 0))
		assert.False(t, ok, "the retry holds the whole budget")
		_, err = l.Acquire(context.Background(), WithTokens(1000, 0))
		require.NoError(t, err)
		// Charged once: a minute refills it. Charged twice, it would
		// take two.
		assert.Equal(t, time.Minute, time.Since(retried).Round(time.Second))
	})
}

func TestTokenBudgetKeepsRetriesFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000, WithTokensPerMinute(600), WithService(newScriptedService(openAnswer)))
		first, err := l.Acquire(context.Background(), WithTokens(300, 300))
		require.NoError(t, err)
		order := make(chan string, 2)
		go func() {
			tk, err := l.Acquire(context.Background(), WithTokens(10, 0))
			if err == nil {
				order <- "new"
				tk.Done()
			}
		}()
		synctest.Wait() // the new call waits: the budget is spent
		go func() {
			if first.RateLimited(context.Background(), 0) == nil {
				order <- "retry"
				first.Done()
			}
		}()
		assert.Equal(t, "retry", <-order)
		assert.Equal(t, "new", <-order)
	})
}

func TestAcquireWithTokensRespectsTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000, WithTokensPerMinute(600))
		tk, err := l.Acquire(context.Background(), WithTokens(600, 0))
		require.NoError(t, err)
		tk.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = l.Acquire(ctx, WithTokens(100, 0)) // 10 s of refill needed
		assert.True(t, errors.Is(err, ErrWouldExceedDeadline), "%v", err)
		assertConserved(t, l)
	})
}

// minuteBudgets returns token budgets of the given sizes a minute (0 for
// none), each banking a whole minute, full.
func minuteBudgets(tokens, input, output int) budgets {
	full := func(n int) refill { return newRefill(n, minuteNs, float64(n)) }
	var b budgets
	if tokens > 0 {
		b.tokens = full(tokens)
	}
	if input > 0 {
		b.input = full(input)
	}
	if output > 0 {
		b.output = full(output)
	}
	return b
}
