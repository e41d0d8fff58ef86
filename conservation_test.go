package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Ticket conservation under random schedules. Each schedule drives one
// limiter, in virtual time, with a seeded mix of callers that take tickets
// and finish them, hand them back as rate limited, give up through their
// context or deadline, run Do with functions that succeed, fail, are rate
// limited or panic; of probes that answer, fail, panic or hang until their
// timeout; and of Close or Stop. After every step, Stats must account for
// every ticket asked for:
//
//	Requested = Waiting + InFlight + Finished + Cancelled
//
// and at the end no caller is left blocked: each got a ticket or an error
// of its context or of the limiter, the queue is empty, and Finished is
// exactly the number of tickets the callers finished.

const (
	conservationSchedules = 3000
	conservationSteps     = 60
)

func TestTicketConservationUnderRandomSchedules(t *testing.T) {
	schedules := conservationSchedules
	if testing.Short() {
		schedules /= 10
	}
	var total Stats
	for seed := range uint64(schedules) {
		synctest.Test(t, func(t *testing.T) {
			s := newChaos(t, seed)
			st := s.run()
			total.Requested += st.Requested
			total.Finished += st.Finished
			total.Cancelled += st.Cancelled
			total.RateLimited += st.RateLimited
			total.Pauses += st.Pauses
		})
		if t.Failed() {
			t.Fatalf("schedule with seed %d failed", seed)
		}
	}
	t.Logf("%d schedules: %d tickets asked for, %d finished, %d cancelled, %d rate limits, %d pauses",
		schedules, total.Requested, total.Finished, total.Cancelled, total.RateLimited, total.Pauses)
}

// chaos is one random schedule.
type chaos struct {
	t    *testing.T
	seed uint64
	rng  *rand.Rand // used by the test goroutine only
	m    *Monitor
	l    *BucketRateLimiter
	svc  *chaosService

	randomCallers
	finished atomic.Int64 // tickets the callers finished
	cancels  []context.CancelFunc
	ended    bool // Close or Stop happened
}

func newChaos(t *testing.T, seed uint64) *chaos {
	s := &chaos{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x5eed))}
	s.m = NewMonitor()
	opts := []Option{
		WithMonitor(s.m),
		WithMaxRetries(s.rng.IntN(4)),
		WithProbeInterval(time.Second, 8*time.Second, 2),
		WithProbeTimeout(time.Duration(1+s.rng.IntN(3)) * time.Second),
	}
	if s.rng.IntN(2) == 0 {
		s.svc = &chaosService{rng: rand.New(rand.NewPCG(seed, 0x9e0b))}
		opts = append(opts, WithService(s.svc))
	}
	if s.rng.IntN(3) == 0 {
		opts = append(opts, WithMaxInFlight(1+s.rng.IntN(4)))
	}
	if s.rng.IntN(4) == 0 {
		opts = append(opts, WithMaxWait(time.Duration(1+s.rng.IntN(10))*time.Second))
	}
	rpms := []int{6, 60, 600, 6000}
	l, err := NewBucketRateLimiter(rpms[s.rng.IntN(len(rpms))], opts...)
	if err != nil {
		t.Fatal(err)
	}
	s.l = l
	return s
}

// run plays the schedule, then ends it, checks the end state and returns
// the last Stats.
func (s *chaos) run() Stats {
	for step := range conservationSteps {
		s.step()
		synctest.Wait()
		s.checkConserved(fmt.Sprintf("after step %d", step))
	}
	if s.rng.IntN(2) == 0 {
		time.Sleep(10 * time.Minute) // let the callers drain on their own
	}
	for _, cancel := range s.cancels {
		cancel()
	}
	if err := s.m.Stop(); err != nil {
		s.t.Errorf("seed %d: Stop: %v", s.seed, err)
	}
	// Callers holding a ticket still sleep through their call; none may
	// wait for the limiter any more.
	s.waitAll(s.t, s.seed)
	s.reportUnexpected(s.t, s.seed)
	st := s.checkConserved("at the end")
	if st.Waiting != 0 || st.InFlight != 0 {
		s.t.Errorf("seed %d: %d waiting and %d in flight at the end, want none", s.seed, st.Waiting, st.InFlight)
	}
	if got := s.finished.Load(); st.Finished != uint64(got) {
		s.t.Errorf("seed %d: Stats.Finished = %d, callers finished %d", s.seed, st.Finished, got)
	}
	return st
}

func (s *chaos) checkConserved(when string) Stats {
	st := s.l.Stats()
	if st.Requested != uint64(st.Waiting+st.InFlight)+st.Finished+st.Cancelled {
		s.t.Fatalf("seed %d %s: requested %d != waiting %d + in flight %d + finished %d + cancelled %d",
			s.seed, when, st.Requested, st.Waiting, st.InFlight, st.Finished, st.Cancelled)
	}
	return st
}

// step takes one random action.
func (s *chaos) step() {
	switch n := s.rng.IntN(100); {
	case n < 35:
		s.spawn(s.acquirer(s.callerCtx()))
	case n < 55:
		s.spawn(s.doer(s.callerCtx()))
	case n < 60:
		if tk, ok := s.l.TryAcquire(); ok {
			tk.Done()
			s.finished.Add(1)
		}
	case n < 70:
		if len(s.cancels) > 0 {
			s.cancels[s.rng.IntN(len(s.cancels))]()
		}
	case n < 98:
		time.Sleep(time.Duration(s.rng.IntN(3000)) * time.Millisecond)
	default:
		if !s.ended {
			s.ended = true
			if s.rng.IntN(2) == 0 {
				s.l.Close()
			} else {
				s.m.Stop()
			}
		}
	}
}

// callerCtx returns a context that may be cancelled by a later step or
// end at a deadline.
func (s *chaos) callerCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancels = append(s.cancels, cancel)
	if s.rng.IntN(3) == 0 {
		ctx, cancel = context.WithTimeout(ctx, time.Duration(s.rng.IntN(20_000))*time.Millisecond)
		s.cancels = append(s.cancels, cancel)
	}
	return ctx
}

// randomCallers are the caller goroutines of a randomized test, and the
// outcomes they saw that the limiter's contract rules out.
type randomCallers struct {
	wg       sync.WaitGroup
	started  atomic.Int64 // callers started
	returned atomic.Int64 // callers whose every call returned

	mu   sync.Mutex
	errs []string // unexpected outcomes, reported by the test goroutine
}

// spawn runs a caller on its own goroutine.
func (c *randomCallers) spawn(caller func()) {
	c.started.Add(1)
	c.wg.Go(func() {
		defer c.returned.Add(1)
		caller()
	})
}

// unexpected records an outcome the limiter's contract rules out.
func (c *randomCallers) unexpected(format string, args ...any) {
	c.mu.Lock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// waitAll waits for every caller to return, and fails the test if one is
// still blocked an hour later.
func (c *randomCallers) waitAll(t *testing.T, seed uint64) {
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Hour):
		n, r := c.started.Load(), c.returned.Load()
		t.Fatalf("seed %d: %d of %d callers still blocked an hour after Stop", seed, n-r, n)
	}
}

// reportUnexpected fails the test with every unexpected outcome.
func (c *randomCallers) reportUnexpected(t *testing.T, seed uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.errs {
		t.Errorf("seed %d: %s", seed, e)
	}
}

// refusal reports whether err is one a waiter may be given instead of a
// ticket: its context's, or the limiter's.
func refusal(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrWouldExceedDeadline) || errors.Is(err, ErrStopped) || errors.Is(err, ErrClosed)
}

// acquirer returns a caller that takes a ticket, holds it, hands it back as
// rate limited a few times, and finishes it.
func (s *chaos) acquirer(ctx context.Context) func() {
	hold := time.Duration(s.rng.IntN(2000)) * time.Millisecond
	limits := s.rng.IntN(4)
	hints := make([]time.Duration, limits)
	for i := range hints {
		hints[i] = time.Duration(s.rng.IntN(4)) * time.Second
	}
	return func() {
		tk, err := s.l.Acquire(ctx)
		if err != nil {
			if !refusal(err) {
				s.unexpected("Acquire: %v", err)
			}
			return
		}
		for _, hint := range hints {
			time.Sleep(hold)
			if err := tk.RateLimited(ctx, hint); err != nil {
				if !refusal(err) {
					s.unexpected("RateLimited: %v", err)
				}
				return // the ticket is finished as cancelled
			}
		}
		time.Sleep(hold)
		tk.Done()
		s.finished.Add(1)
	}
}

// isServerError reports whether err is the chaos server error.
func isServerError(err error) bool {
	var se *sdkLikeError
	return errors.As(err, &se) && se.StatusCode == 500
}

// errChaos is what the functions given to Do fail with.
var errChaos = errors.New("chaos: call failed")

// doer returns a caller that runs Do with a function whose every attempt
// succeeds, fails, is rate limited, overloaded or answered with a server
// error, or panics.
func (s *chaos) doer(ctx context.Context) func() {
	latency := time.Duration(s.rng.IntN(1500)) * time.Millisecond
	outcomes := make([]int, 6)
	for i := range outcomes {
		outcomes[i] = s.rng.IntN(12)
	}
	return func() {
		attempt := 0
		defer func() {
			if r := recover(); r != nil {
				if r != "chaos: panic" {
					s.unexpected("Do panicked with %v", r)
				}
				s.finished.Add(1) // Do finishes the ticket before the panic goes on
			}
		}()
		_, err := Do(ctx, s.l, func(context.Context) (int, error) {
			o := outcomes[min(attempt, len(outcomes)-1)]
			attempt++
			time.Sleep(latency)
			switch {
			case o < 4:
				return 1, nil
			case o < 5:
				return 0, errChaos
			case o < 9:
				return 0, &RateLimitError{StatusCode: 429, RetryAfter: time.Duration(o-5) * time.Second}
			case o < 10:
				return 0, &sdkLikeError{StatusCode: 529} // an overload
			case o < 11:
				return 0, &sdkLikeError{StatusCode: 500} // the ticket is abandoned
			}
			panic("chaos: panic")
		})
		switch {
		case err == nil, errors.Is(err, errChaos), errors.Is(err, ErrRateLimited), isServerError(err):
			s.finished.Add(1)
		case !refusal(err):
			s.unexpected("Do: %v", err)
		}
	}
}

// chaosService is a RateLimitedService whose probe answers at random:
// open, blocked, an error, a panic, or no answer until its context ends.
type chaosService struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func (c *chaosService) ServiceName() string                     { return "chaos" }
func (c *chaosService) Limiter(model string) *BucketRateLimiter { return nil }
func (c *chaosService) IsBlocked(ctx context.Context) (bool, error) {
	c.mu.Lock()
	n := c.rng.IntN(5)
	c.mu.Unlock()
	switch n {
	case 0:
		return false, nil
	case 1:
		return true, nil
	case 2:
		return false, errors.New("chaos: probe failed")
	case 3:
		panic("chaos: probe panicked")
	}
	<-ctx.Done()
	return false, ctx.Err()
}
