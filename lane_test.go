package ratellmiter

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/signals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The lane (lane.go) issues tickets without the mutex. It must issue
// exactly what the locked path would: these tests compare it with a
// limiter that never opens one (an in-flight cap keeps it closed, and one
// this high never binds). lane_diff_test.go compares them under every
// call of the API, with random schedules.

const neverBinds = 1 << 30

// withOpenLane returns a limiter at 6,000 RPM (a ticket every 10 ms, no
// ramp), its first ticket, and the lane that ticket opened.
func withOpenLane(t *testing.T) (*BucketRateLimiter, *Ticket, *lane) {
	t.Helper()
	l := newLimiter(t, 6000, WithRampUp(1, 1))
	tk, err := l.Acquire(context.Background())
	require.NoError(t, err)
	ln := l.lane.Load()
	require.NotNil(t, ln, "the first ticket opens a lane")
	return l, tk, ln
}

func TestTheLaneKeepsTheSecondsCapWhenASlotIsMadeUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := []Option{WithRampUp(1, 1)} // 10 a second, 100 ms apart
		withLane := newLimiter(t, 600, opts...)
		locked := newLimiter(t, 600, append(opts, WithMaxInFlight(neverBinds))...)
		start := time.Now()
		try := func(at time.Duration) bool {
			time.Sleep(time.Until(start.Add(at)))
			a, okA := withLane.TryAcquire()
			b, okB := locked.TryAcquire()
			require.Equal(t, okB, okA, "TryAcquire at %v", at)
			if okA {
				a.Done()
				b.Done()
			}
			return okA
		}
		require.True(t, try(899*time.Millisecond))
		// 1.5 ms late for the slot at 999 ms: the spacing makes the
		// lateness up, so the slots of second 1 start before it does.
		require.True(t, try(1000*time.Millisecond+500*time.Microsecond))
		issued := 1
		for at := 1099 * time.Millisecond; at < 2*time.Second; at += 100 * time.Millisecond {
			if try(at) {
				issued++
			}
		}
		assert.Equal(t, 10, issued, "tickets in second 1")
	})
}

func TestNoLaneWhereMoreThanPacingDecides(t *testing.T) {
	for _, tc := range []struct {
		name string
		// limiters returns the limiters to try, all at 6,000 RPM (one
		// ticket every 10 ms) without a ramp.
		limiters func(t *testing.T) []*BucketRateLimiter
		// want is how many tickets the limiters may issue together in the
		// 500 ms that each tries every 10 ms, holding them all.
		want int
		try  []AcquireOption
	}{
		{"an in-flight cap", func(t *testing.T) []*BucketRateLimiter {
			return []*BucketRateLimiter{newLimiter(t, 6000, WithRampUp(1, 1), WithMaxInFlight(3))}
		}, 3, nil},
		{"a token budget", func(t *testing.T) []*BucketRateLimiter {
			// 600 tokens a second: 5 calls of 100 in the first
			// second's half, and 3 more as the budget refills.
			return []*BucketRateLimiter{newLimiter(t, 6000, WithRampUp(1, 1), WithTokensPerMinute(36_000))}
		}, 8, []AcquireOption{WithTokens(100, 0)}},
		{"a shared quota", func(t *testing.T) []*BucketRateLimiter {
			return sharedLimiters(t, NewMemoryStore(), FallbackLocal, 2, 6000, WithRampUp(1, 1))
		}, 50, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ls := tc.limiters(t)
				var held []*Ticket
				for range 50 {
					for _, l := range ls {
						if tk, ok := l.TryAcquire(tc.try...); ok {
							held = append(held, tk)
						}
					}
					time.Sleep(10 * time.Millisecond)
				}
				assert.LessOrEqual(t, len(held), tc.want)
				for _, tk := range held {
					tk.Done()
				}
			})
		})
	}
}

func TestTheLaneCountsItsTicketsInTheLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(WithLogDir(t.TempDir()))
		l, err := NewBucketRateLimiter(6000, WithMonitor(m), WithRampUp(1, 1), WithName("a"))
		require.NoError(t, err)
		var held []*Ticket
		for range 20 {
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			held = append(held, tk) // a Done would take the lock
			time.Sleep(10 * time.Millisecond)
		}
		for _, tk := range held {
			tk.Done()
		}
		require.NoError(t, m.Stop())
		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		issued, requested := 0, 0
		for _, rec := range lf.Minutes {
			for s := range rec.Issued {
				issued += rec.Issued[s]
				requested += rec.Requested[s]
			}
		}
		assert.Equal(t, 20, issued)
		assert.Equal(t, 20, requested)
	})
}

func TestTicketsTakenConcurrentlyKeepEverySecondsCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000, WithRampUp(1, 1)) // 100 a second, 10 ms apart
		start := time.Now()
		var mu sync.Mutex
		perSec := map[int]int{}
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for time.Since(start) < 5*time.Second {
					if tk, ok := l.TryAcquire(); ok {
						mu.Lock()
						perSec[int(time.Since(start)/time.Second)]++
						mu.Unlock()
						tk.Done()
					}
					time.Sleep(time.Millisecond)
				}
			})
		}
		wg.Wait()
		total := 0
		for s, n := range perSec {
			assert.LessOrEqual(t, n, 100, "tickets in second %d", s)
			total += n
		}
		// Every 10 ms slot in the 5 s found a taker.
		assert.Equal(t, 500, total)
		assertConserved(t, l)
	})
}

func TestStatsCountTicketsIssuedThroughTheLane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000, WithRampUp(1, 1))
		var tickets []*Ticket
		for range 5 {
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			tickets = append(tickets, tk)
			time.Sleep(10 * time.Millisecond)
		}
		require.NotNil(t, l.lane.Load(), "the first ticket opens a lane for the others")
		s := l.Stats()
		assert.Equal(t, uint64(5), s.Requested)
		assert.Equal(t, uint64(5), s.Issued)
		assert.Equal(t, 5, s.InFlight)
		for _, tk := range tickets {
			tk.Done()
		}
		s = l.Stats()
		assert.Equal(t, uint64(5), s.Finished)
		assert.Zero(t, s.InFlight)
	})
}

func TestNothingGoesThroughTheLaneOnceTheRulesChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(l *BucketRateLimiter, tk *Ticket)
	}{
		{"a rate limit pauses", func(_ *BucketRateLimiter, tk *Ticket) {
			go func() { _ = tk.RateLimited(context.Background(), 5*time.Second) }()
			synctest.Wait()
		}},
		{"the limiter closes", func(l *BucketRateLimiter, _ *Ticket) { require.NoError(t, l.Close()) }},
		{"someone waits", func(l *BucketRateLimiter, _ *Ticket) {
			// An Acquire a millisecond after a ticket waits for the
			// spacing: the lane may not let anyone jump the line.
			go func() {
				if tk, err := l.Acquire(context.Background()); err == nil {
					tk.Done()
				}
			}()
			synctest.Wait()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l, first, _ := withOpenLane(t)
				time.Sleep(time.Millisecond)
				tc.change(l, first)
				assert.Nil(t, l.lane.Load(), "the lane is still open")
				if tc.name != "someone waits" {
					// Past the spacing, only the change holds tickets back.
					time.Sleep(20 * time.Millisecond)
					tk, ok := l.TryAcquire()
					assert.False(t, ok, "a ticket went through")
					if ok {
						tk.Done()
					}
				}
				first.Done()
			})
		})
	}
}

func TestUsedWithoutATokenBudgetLeavesTheLaneOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The transport reports every answer's usage: without a token
		// budget, that must not close the lane each time.
		l, tk, ln := withOpenLane(t)
		tk.Used(100, 200)
		tk.Done()
		assert.Same(t, ln, l.lane.Load())
	})
}

// waitCounter is an Observer that counts the waits it is told of.
type waitCounter struct {
	mu          sync.Mutex
	waits, zero int
}

func (c *waitCounter) ObserveWait(_ string, wait time.Duration, _ bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits++
	if wait == 0 {
		c.zero++
	}
}

func TestTheObserverIsToldOfTicketsIssuedThroughTheLane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs := &waitCounter{}
		l := newLimiter(t, 6000, WithRampUp(1, 1), WithObserver(obs))
		for i := range 6 {
			var tk *Ticket
			if i%2 == 0 {
				var err error
				tk, err = l.Acquire(context.Background())
				require.NoError(t, err)
			} else {
				var ok bool
				tk, ok = l.TryAcquire()
				require.True(t, ok)
			}
			tk.Done()
			time.Sleep(10 * time.Millisecond)
		}
		require.NotNil(t, l.lane.Load(), "the tickets after the first went through the lane")
		assert.Equal(t, 6, obs.waits)
		assert.Equal(t, 6, obs.zero)
	})
}

func TestHeadersReadAfterEveryTicketCostNoLaneApiece(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// As the transport does, read the server's headers after every
		// ticket: were each to close the lane, every ticket would open
		// (and allocate) a new one. One lane a second serves them all.
		l := newLimiter(t, 6000, WithRampUp(1, 1))
		headers := signals.Limits{Requests: signals.Budget{Limit: 6000, Remaining: 50, Known: true}}
		opened := 0
		var last *lane
		for range 300 { // 3 s, one ticket every 10 ms
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			if ln := l.lane.Load(); ln != nil && ln != last {
				opened++
				last = ln
			}
			l.observe(headers, time.Now())
			tk.Done()
			time.Sleep(10 * time.Millisecond)
		}
		assert.LessOrEqual(t, opened, 3)
		assert.Positive(t, opened, "a lane is still tried each second")
	})
}

func TestHeadersThatChangeNoRuleLeaveTheLaneOpen(t *testing.T) {
	for _, tc := range []struct {
		name     string
		budget   signals.Budget // the request budget the server reports
		reset    time.Duration  // when it resets
		stayOpen bool
	}{
		{"room left, the configured limit", signals.Budget{Limit: 6000, Remaining: 50, Known: true}, 500 * time.Millisecond, true},
		{"room left, no limit sent", signals.Budget{Remaining: 50, Known: true}, 500 * time.Millisecond, true},
		{"nothing left until the reset", signals.Budget{Limit: 6000, Remaining: 0, Known: true}, 500 * time.Millisecond, false},
		{"nothing left for the day", signals.Budget{Limit: 6000, Remaining: 0, Known: true}, 5 * time.Hour, false},
		{"a lower limit", signals.Budget{Limit: 3000, Remaining: 50, Known: true}, 500 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// As the transport does after each answer.
				l, tk, ln := withOpenLane(t)
				b := tc.budget
				b.Reset = time.Now().Add(tc.reset)
				l.observe(signals.Limits{Requests: b}, time.Now())
				if !tc.stayOpen {
					assert.Nil(t, l.lane.Load(), "the rule changed and the lane is still open")
				}
				time.Sleep(10 * time.Millisecond)
				next, ok := l.TryAcquire()
				if tc.stayOpen {
					assert.Same(t, ln, l.lane.Load())
				}
				assert.Equal(t, tc.stayOpen, ok, "a ticket 10 ms later")
				if ok {
					next.Done()
				}
				tk.Done()
			})
		})
	}
}
