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

// newLimiter returns a limiter on a Monitor of its own that stops when the
// test ends. Inside a synctest bubble, everything it starts stays in the
// bubble.
func newLimiter(t *testing.T, rpm int, opts ...Option) *BucketRateLimiter {
	t.Helper()
	m := NewMonitor()
	t.Cleanup(func() { m.Stop() })
	l, err := NewBucketRateLimiter(rpm, append([]Option{WithMonitor(m)}, opts...)...)
	require.NoError(t, err)
	return l
}

// assertConserved checks that every ticket asked for is accounted for.
func assertConserved(t *testing.T, l *BucketRateLimiter) {
	t.Helper()
	s := l.Stats()
	assert.Equal(t, s.Requested, uint64(s.Waiting+s.InFlight)+s.Finished+s.Cancelled,
		"requested = waiting + in flight + finished + cancelled (%+v)", s)
}

// acquireAll starts n goroutines that each take a ticket and finish it at
// once, and returns the offsets from start at which the tickets came.
func acquireAll(t *testing.T, l *BucketRateLimiter, n int) []time.Duration {
	t.Helper()
	start := time.Now()
	var mu sync.Mutex
	var got []time.Duration
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			tk, err := l.Acquire(context.Background())
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			got = append(got, time.Since(start))
			mu.Unlock()
			tk.Done()
		})
	}
	wg.Wait()
	return got
}

func bySecond(offsets []time.Duration) map[int]int {
	m := map[int]int{}
	for _, d := range offsets {
		m[int(d/time.Second)]++
	}
	return m
}

func TestNewBucketRateLimiterRejectsBadInput(t *testing.T) {
	m := NewMonitor()
	defer m.Stop()
	tests := []struct {
		name string
		rpm  int
		opt  Option
	}{
		{"zero rate", 0, nil},
		{"negative rate", -5, nil},
		{"ramp start zero", 60, WithRampUp(0, 0.1)},
		{"ramp step above one", 60, WithRampUp(0.25, 1.5)},
		{"negative probe interval", 60, WithProbeInterval(-time.Second, time.Minute, 1.5)},
		{"probe max below first", 60, WithProbeInterval(time.Minute, time.Second, 1.5)},
		{"probe growth below one", 60, WithProbeInterval(time.Second, time.Minute, 0.5)},
		{"negative retries", 60, WithMaxRetries(-1)},
		{"zero probe timeout", 60, WithProbeTimeout(0)},
		{"nil classifier", 60, WithClassifier(nil)},
		{"negative in-flight cap", 60, WithMaxInFlight(-1)},
		{"negative max wait", 60, WithMaxWait(-time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewBucketRateLimiter(tc.rpm, WithMonitor(m), tc.opt)
			assert.Error(t, err)
			assert.Nil(t, l)
		})
	}
}

func TestAcquireIssuesAtOnceWhenFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		start := time.Now()
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		assert.Zero(t, time.Since(start))
		tk.Done()
		tk.Done() // twice is harmless
		s := l.Stats()
		assert.Equal(t, uint64(1), s.Finished)
		assert.Equal(t, 0, s.InFlight)
	})
}

func TestAcquirePacesAcrossEachSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithRampUp(1, 1)) // 10 per second, no ramp
		got := acquireAll(t, l, 40)
		want := map[int]int{0: 10, 1: 10, 2: 10, 3: 10}
		assert.Equal(t, want, bySecond(got))
		for _, d := range got {
			assert.Zero(t, d%(100*time.Millisecond), "tickets are 100 ms apart, got one at %v", d)
		}
		assertConserved(t, l)
	})
}

func TestAcquireRampsUpAfterIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 3000, WithRampUp(0.25, 0.10), WithIdleRamp(true))
		got := acquireAll(t, l, 13+18+23+28)
		assert.Equal(t, map[int]int{0: 13, 1: 18, 2: 23, 3: 28}, bySecond(got))
		// Idle for a minute, to a second's start: the ramp starts again.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Minute)))
		got = acquireAll(t, l, 13+18)
		assert.Equal(t, map[int]int{0: 13, 1: 18}, bySecond(got))
	})
}

func TestAcquireBelowOnePerSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 12) // one every 5 s
		got := acquireAll(t, l, 4)
		assert.ElementsMatch(t, []time.Duration{0, 5 * time.Second, 10 * time.Second, 15 * time.Second}, got)
	})
}

func TestAcquireServesWaitersInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 60, WithRampUp(1, 1)) // one per second
		first, _ := l.Acquire(context.Background())
		first.Done()
		var order []int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				tk, err := l.Acquire(context.Background())
				require.NoError(t, err)
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				tk.Done()
			})
			synctest.Wait() // goroutine i is queued before i+1 starts
		}
		wg.Wait()
		assert.Equal(t, []int{0, 1, 2, 3, 4}, order)
	})
}

func TestAcquireCancelledWhileWaitingLosesNoTicket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 60, WithRampUp(1, 1))
		first, _ := l.Acquire(context.Background())
		defer first.Done()
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := l.Acquire(ctx)
			errc <- err
		}()
		synctest.Wait()
		assert.Equal(t, 1, l.Stats().Waiting)
		cancel()
		assert.ErrorIs(t, <-errc, context.Canceled)

		// The slot the cancelled waiter would have had goes to the next.
		start := time.Now()
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		assert.Equal(t, time.Second, time.Since(start))
		s := l.Stats()
		assert.Equal(t, uint64(1), s.Cancelled)
		assert.Equal(t, 0, s.Waiting)
		assertConserved(t, l)
	})
}

func TestAcquireFailsAtOnceWhenTheDeadlineCannotBeMet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6) // one every 10 s
		first, _ := l.Acquire(context.Background())
		defer first.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, err := l.Acquire(ctx)
		assert.ErrorIs(t, err, ErrWouldExceedDeadline)
		assert.Zero(t, time.Since(start), "failed without waiting")

		ctx, cancel = context.WithTimeout(context.Background(), 11*time.Second)
		defer cancel()
		tk, err := l.Acquire(ctx)
		require.NoError(t, err, "a deadline that can be met is waited for")
		tk.Done()
		assertConserved(t, l)
	})
}

func TestWithMaxWaitBoundsEveryWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6, WithMaxWait(5*time.Second))
		first, _ := l.Acquire(context.Background())
		defer first.Done()
		_, err := l.Acquire(context.Background())
		assert.ErrorIs(t, err, ErrWouldExceedDeadline)
	})
}

func TestTryAcquireNeverWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 60)
		tk, ok := l.TryAcquire()
		require.True(t, ok)
		_, ok = l.TryAcquire()
		assert.False(t, ok, "the second ticket of a 1-per-second limiter is not free yet")
		tk.Done()
		time.Sleep(time.Second)
		tk, ok = l.TryAcquire()
		assert.True(t, ok)
		tk.Done()
		assertConserved(t, l)
	})
}

func TestWithMaxInFlightCapsConcurrentTickets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000, WithMaxInFlight(3), WithRampUp(1, 1))
		var mu sync.Mutex
		inFlight, most := 0, 0
		var wg sync.WaitGroup
		for range 30 {
			wg.Go(func() {
				tk, err := l.Acquire(context.Background())
				require.NoError(t, err)
				mu.Lock()
				inFlight++
				most = max(most, inFlight)
				mu.Unlock()
				time.Sleep(300 * time.Millisecond)
				mu.Lock()
				inFlight--
				mu.Unlock()
				tk.Done()
			})
		}
		wg.Wait()
		assert.Equal(t, 3, most)
		assert.Equal(t, uint64(30), l.Stats().Finished)
	})
}

func TestStopRefusesWaitersAndNewRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor()
		l, err := NewBucketRateLimiter(60, WithMonitor(m))
		require.NoError(t, err)
		held, _ := l.Acquire(context.Background())
		errc := make(chan error, 3)
		for range 3 {
			go func() {
				_, err := l.Acquire(context.Background())
				errc <- err
			}()
		}
		synctest.Wait()
		require.NoError(t, m.Stop())
		for range 3 {
			assert.ErrorIs(t, <-errc, ErrStopped)
		}
		_, err = l.Acquire(context.Background())
		assert.ErrorIs(t, err, ErrStopped)
		held.Done() // an issued ticket can still be finished
		assert.NoError(t, m.Stop(), "Stop twice is harmless")
		assertConserved(t, l)
		_, err = NewBucketRateLimiter(60, WithMonitor(m))
		assert.ErrorIs(t, err, ErrStopped)
	})
}

func TestCloseRefusesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 60)
		held, _ := l.Acquire(context.Background())
		defer held.Done()
		errc := make(chan error, 1)
		go func() {
			_, err := l.Acquire(context.Background())
			errc <- err
		}()
		synctest.Wait()
		require.NoError(t, l.Close())
		assert.ErrorIs(t, <-errc, ErrClosed)
		assert.NoError(t, l.Close())
		_, err := l.Acquire(context.Background())
		assert.True(t, errors.Is(err, ErrClosed))
	})
}

func TestUnnamedLimitersOfAMonitorHaveNamesOfTheirOwn(t *testing.T) {
	m := newStoppedAtEnd(t)
	named, err := NewBucketRateLimiter(60, WithMonitor(m), WithName("gpt-4o"))
	require.NoError(t, err)
	a, err := NewBucketRateLimiter(60, WithMonitor(m))
	require.NoError(t, err)
	b, err := NewBucketRateLimiter(60, WithMonitor(m))
	require.NoError(t, err)
	def := m.DefaultLimiter()
	assert.Equal(t, []string{"gpt-4o", "default", "default-2", "default-3"},
		[]string{named.Name(), a.Name(), b.Name(), def.Name()})
	// A closed name is free again, and a closed default limiter is
	// replaced by a working one.
	require.NoError(t, def.Close())
	require.NoError(t, a.Close())
	def = m.DefaultLimiter()
	require.NotNil(t, def)
	assert.Equal(t, "default", def.Name())
	tk, ok := def.TryAcquire()
	require.True(t, ok, "the new default limiter issues tickets")
	tk.Done()
}

func TestARateLimitReportedAfterCloseDoesNotPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 60)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		require.NoError(t, l.Close())
		require.ErrorIs(t, tk.RateLimited(context.Background(), time.Second), ErrClosed)
		st := l.Stats()
		assert.False(t, st.Paused)
		assert.Zero(t, st.Pauses)
		assertConserved(t, l)
	})
}
