package ratellmiter

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// Settings at the top of their range must either be refused by name or
// work: none may overflow the limiter's nanosecond arithmetic into a
// limiter that never issues, or one that probes without pause.

func TestOverflowHugeRateIssuesOrIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newStoppedAtEnd(t)
		l, err := NewBucketRateLimiter(math.MaxInt, WithMonitor(m))
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Itoa(math.MaxInt)) {
				t.Errorf("error %q does not name the rate", err)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		tk, err := l.Acquire(ctx)
		if err != nil {
			t.Fatalf("a limiter of %d RPM gave no ticket in a minute: %v", math.MaxInt, err)
		}
		tk.Done()
	})
}

func TestOverflowProbeIntervalNeverShrinks(t *testing.T) {
	tests := []struct {
		name        string
		first, most time.Duration
		growth      float64
		probes      int
	}{
		{"huge growth", time.Second, time.Minute, 1e10, 4},
		{"largest growth", time.Second, time.Minute, math.MaxFloat64, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				answers := make([]func(context.Context) (bool, error), tc.probes)
				for i := range answers {
					answers[i] = blockedAnswer
				}
				svc := newScriptedService(append(answers, openAnswer)...)
				l := newLimiter(t, 600, WithService(svc), WithProbeInterval(tc.first, tc.most, tc.growth))
				tk, _ := l.Acquire(context.Background())
				if err := <-handBack(tk, 0); err != nil {
					t.Fatal(err)
				}
				tk.Done()
				calls := svc.callTimes()
				for i := 1; i < len(calls); i++ {
					if gap := calls[i] - calls[i-1]; gap < tc.first {
						t.Fatalf("probe %d came %v after the one before, less than the first interval %v", i, gap, tc.first)
					}
				}
			})
		})
	}
}

func TestOverflowHugeProbeTimeoutKeepsTheCanary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithProbeTimeout(time.Duration(math.MaxInt64)))
		a, _ := l.Acquire(context.Background())
		time.Sleep(time.Second)
		b, _ := l.Acquire(context.Background())
		ra := handBack(a, time.Second)
		synctest.Wait()
		rb := handBack(b, time.Second)
		if err := <-ra; err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case <-rb:
			t.Fatal("a second canary went out while the first, with no timeout to speak of, was unanswered")
		default:
		}
		a.Done()
		if err := <-rb; err != nil {
			t.Fatal(err)
		}
		b.Done()
	})
}

func TestOverflowHugeRetryAfterDefersTheProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(openAnswer)
		l := newLimiter(t, 600, WithService(svc))
		tk, _ := l.Acquire(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		start := time.Now()
		err := tk.RateLimited(ctx, time.Duration(math.MaxInt64))
		if !errors.Is(err, ErrWouldExceedDeadline) || time.Since(start) != 0 {
			t.Fatalf("the server said to wait for ages: RateLimited returned %v after %v, want ErrWouldExceedDeadline at once", err, time.Since(start))
		}
		if calls := svc.callTimes(); len(calls) != 0 {
			t.Errorf("probed after %v", calls)
		}
		if next := l.Stats().NextProbe; next.Before(time.Now().Add(100 * 365 * 24 * time.Hour)) {
			t.Errorf("next probe at %v, want the far future", next)
		}
	})
}

func TestOverflowHugeMaxWaitKeepsTheDeadlineCheck(t *testing.T) {
	for _, wait := range []time.Duration{time.Duration(math.MaxInt64), time.Duration(math.MaxInt64 - 1)} {
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(t, 60, WithMaxWait(wait))
			tk, _ := l.Acquire(context.Background())
			defer tk.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := l.Acquire(ctx) // the next ticket is a second away
			if !errors.Is(err, ErrWouldExceedDeadline) || time.Since(start) != 0 {
				t.Errorf("WithMaxWait(%v): Acquire returned %v after %v, want ErrWouldExceedDeadline at once", wait, err, time.Since(start))
			}
		})
	}
}

// A pause whose probe the server put off for ages makes a deadline
// unreachable for whoever waits behind the retry: Acquire says so at once
// instead of waiting for the deadline.
func TestOverflowHugeRetryAfterFailsTheWaitersBehindItAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithService(newScriptedService(openAnswer)))
		tk, _ := l.Acquire(context.Background())
		retryCtx, stopRetry := context.WithCancel(context.Background())
		retried := make(chan error, 1)
		go func() { retried <- tk.RateLimited(retryCtx, time.Duration(math.MaxInt64)) }()
		synctest.Wait() // the retry waits first in line

		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		start := time.Now()
		_, err := l.Acquire(ctx)
		if !errors.Is(err, ErrWouldExceedDeadline) || time.Since(start) != 0 {
			t.Errorf("behind a retry put off for ages, Acquire returned %v after %v, want ErrWouldExceedDeadline at once", err, time.Since(start))
		}
		stopRetry()
		if err := <-retried; !errors.Is(err, context.Canceled) {
			t.Errorf("the retry returned %v, want context.Canceled", err)
		}
		assertConserved(t, l)
	})
}

// A budget deep in debt, from usage reports far above any real call,
// refills at the end of the time line, never before now: a wrapped time
// would let the waiters' timer fire at once, again and again.
func TestOverflowDeepTokenDebtRefillsInTheFarFuture(t *testing.T) {
	r := newRefill(10, minuteNs, 10.0/60)
	now := int64(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	for range 3 {
		r.charge(now, 2*math.MaxInt32)
	}
	if at := r.when(now, 1); at < now {
		t.Errorf("a budget in debt has room at %d, before now (%d)", at, now)
	}
}

// A server's absurd usage report is charged a minute of the budget: a
// deadline within that minute fails at once.
func TestOverflowDeepTokenDebtFailsDeadlinesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithTokensPerMinute(10))
		tk, err := l.Acquire(context.Background(), WithTokens(1, 0))
		if err != nil {
			t.Fatal(err)
		}
		tk.Used(math.MaxInt32, math.MaxInt32) // a server's absurd usage report
		tk.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		_, err = l.Acquire(ctx, WithTokens(1, 0))
		if !errors.Is(err, ErrWouldExceedDeadline) || time.Since(start) != 0 {
			t.Errorf("with a minute of the budget owed, Acquire returned %v after %v, want ErrWouldExceedDeadline at once", err, time.Since(start))
		}
		assertConserved(t, l)
	})
}
