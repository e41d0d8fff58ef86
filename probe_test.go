package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scriptedService is a RateLimitedService whose probe answers from a
// script and records when it was called.
type scriptedService struct {
	mu      sync.Mutex
	answers []func(ctx context.Context) (bool, error) // one per call; the last repeats
	calls   []time.Duration
	start   time.Time
}

func newScriptedService(answers ...func(ctx context.Context) (bool, error)) *scriptedService {
	return &scriptedService{answers: answers, start: time.Now()}
}

func blockedAnswer(context.Context) (bool, error) { return true, nil }
func openAnswer(context.Context) (bool, error)    { return false, nil }

func (s *scriptedService) ServiceName() string                     { return "scripted" }
func (s *scriptedService) Limiter(model string) *BucketRateLimiter { return nil }
func (s *scriptedService) IsBlocked(ctx context.Context) (bool, error) {
	s.mu.Lock()
	s.calls = append(s.calls, time.Since(s.start))
	i := min(len(s.calls), len(s.answers)) - 1
	answer := s.answers[i]
	s.mu.Unlock()
	return answer(ctx)
}

func (s *scriptedService) callTimes() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.calls...)
}

// handBack reports a rate limit on tk from a goroutine and returns the
// channel that receives RateLimited's result.
func handBack(tk *Ticket, hint time.Duration) <-chan error {
	c := make(chan error, 1)
	go func() { c <- tk.RateLimited(context.Background(), hint) }()
	return c
}

// giveUp reports a rate limit on tk, with the server's hint, from a caller
// that will not retry: the limiter pauses, and the ticket is finished.
func giveUp(t *testing.T, tk *Ticket, hint time.Duration) {
	t.Helper()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, tk.RateLimited(gone, hint), "the caller gave up its retry")
}

// acquireAsync starts an Acquire and returns the channel of its ticket.
func acquireAsync(l *BucketRateLimiter) <-chan *Ticket {
	c := make(chan *Ticket, 1)
	go func() {
		tk, err := l.Acquire(context.Background())
		if err != nil {
			tk = nil
		}
		c <- tk
	}()
	return c
}

func TestRateLimitPausesUntilHintThenCanaryResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithRampUp(1, 1))
		tk, _ := l.Acquire(context.Background())
		start := time.Now()
		retried := handBack(tk, 2*time.Second)
		synctest.Wait()
		fresh := acquireAsync(l)
		synctest.Wait()
		s := l.Stats()
		assert.True(t, s.Paused)
		assert.Equal(t, 2, s.Waiting)
		assert.Equal(t, 1, s.Retrying)

		time.Sleep(2*time.Second - time.Millisecond)
		synctest.Wait()
		assert.Equal(t, 0, l.Stats().InFlight, "nothing is issued before the hint expires")

		require.NoError(t, <-retried, "the rate-limited ticket goes out first, as the canary")
		assert.Equal(t, 2*time.Second, time.Since(start))
		synctest.Wait()
		assert.Equal(t, 1, l.Stats().Waiting, "the new request waits for the canary's answer")

		tk.Done() // the canary succeeded
		next := <-fresh
		require.NotNil(t, next)
		assert.Equal(t, 2100*time.Millisecond, time.Since(start), "the limiter resumed: one ticket spacing after the canary")
		next.Done()
		s = l.Stats()
		assert.False(t, s.Paused)
		assert.Equal(t, uint64(1), s.Pauses)
		assert.Equal(t, 2*time.Second, s.PausedTime)
		assertConserved(t, l)
	})
}

func TestCanaryRateLimitedBacksOffByGrowthUpToMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithProbeInterval(time.Second, 4*time.Second, 2))
		tk, _ := l.Acquire(context.Background())
		start := time.Now()
		var issued []time.Duration
		for range 5 {
			require.NoError(t, tk.RateLimited(context.Background(), 0))
			issued = append(issued, time.Since(start))
		}
		// 1 s, then intervals 2 s, 4 s, 4 s, 4 s.
		want := []time.Duration{1, 3, 7, 11, 15}
		for i := range want {
			want[i] *= time.Second
		}
		assert.Equal(t, want, issued)
		tk.Done()
		assert.False(t, l.Stats().Paused)
	})
}

func TestProbeScheduleWithService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(blockedAnswer, blockedAnswer, blockedAnswer, openAnswer)
		l := newLimiter(t, 600, WithService(svc), WithRampUp(0.5, 0.5))
		tk, _ := l.Acquire(context.Background())
		retried := handBack(tk, 3*time.Second)
		require.NoError(t, <-retried)
		// First probe when the hint expires, then ×1.5 each time.
		want := []time.Duration{3000, 4500, 6750, 10125}
		for i := range want {
			want[i] *= time.Millisecond
		}
		assert.Equal(t, want, svc.callTimes())
		assert.Equal(t, want[3], time.Since(svc.start), "the retry is issued at the resume")
		assert.False(t, l.Stats().Paused)
		tk.Done()
	})
}

func TestRampRestartsAfterPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(openAnswer)
		l := newLimiter(t, 600, WithService(svc), WithRampUp(0.3, 0.3))
		tk, _ := l.Acquire(context.Background())
		// Wait to a second's start so that seconds are counted cleanly.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		require.NoError(t, <-handBack(tk, time.Second))
		tk.Done()
		got := acquireAll(t, l, 3+6+9)
		// 3 per second at first (the retry took one), then +3 a second.
		assert.Equal(t, map[int]int{0: 2, 1: 6, 2: 9, 3: 1}, bySecond(got))
	})
}

func TestRetriesAreServedBeforeNewRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(openAnswer)
		l := newLimiter(t, 60, WithService(svc), WithRampUp(1, 1)) // one per second
		a, _ := l.Acquire(context.Background())
		b := acquireAsync(l) // waiting for the next second
		c := acquireAsync(l)
		synctest.Wait()
		retried := handBack(a, 5*time.Second)
		require.NoError(t, <-retried, "the retry is issued first")
		assert.Equal(t, 2, l.Stats().Waiting)
		a.Done()
		bt, ct := <-b, <-c
		require.NotNil(t, bt)
		require.NotNil(t, ct)
		bt.Done()
		ct.Done()
		assertConserved(t, l)
	})
}

func TestStragglerRateLimitExtendsProbeToItsHint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(openAnswer)
		l := newLimiter(t, 600, WithService(svc), WithRampUp(1, 1))
		a, _ := l.Acquire(context.Background())
		_, ok := l.TryAcquire()
		require.False(t, ok, "tickets are 100 ms apart")
		time.Sleep(100 * time.Millisecond)
		b, _ := l.Acquire(context.Background())
		ra := handBack(a, time.Second)
		synctest.Wait()
		rb := handBack(b, 4*time.Second) // issued before the pause, answered later
		require.NoError(t, <-ra)
		require.NoError(t, <-rb)
		assert.Equal(t, []time.Duration{4100 * time.Millisecond}, svc.callTimes())
		a.Done()
		b.Done()
	})
}

// A straggler's refusal whose hint comes while a probe runs is kept: the
// probe decides, but should it find the server still blocked, the next
// probe waits for that hint too rather than the probe interval alone.
func TestAHintThatComesDuringAProbeHoldsOffTheNextProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		svc := newScriptedService(func(context.Context) (bool, error) { <-release; return true, nil }, openAnswer)
		l := newLimiter(t, 600, WithService(svc), WithRampUp(1, 1))
		a, _ := l.Acquire(context.Background())
		time.Sleep(100 * time.Millisecond)
		b, _ := l.Acquire(context.Background())
		ra := handBack(a, time.Second) // the pause; the probe is due at 1.1 s
		time.Sleep(1400 * time.Millisecond)
		synctest.Wait()
		require.Len(t, svc.callTimes(), 1, "the probe runs")
		rb := handBack(b, 30*time.Second) // issued before the pause, refused at 1.5 s
		synctest.Wait()
		close(release) // the probe finds the server blocked
		require.NoError(t, <-ra)
		require.NoError(t, <-rb)
		calls := svc.callTimes()
		require.Len(t, calls, 2)
		assert.Equal(t, 31500*time.Millisecond, calls[1], "the next probe waits for the straggler's hint")
		a.Done()
		b.Done()
	})
}

func TestStragglerAnsweredAfterTheResumeDoesNotPauseAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(openAnswer)
		l := newLimiter(t, 600, WithService(svc), WithRampUp(1, 1))
		a, _ := l.Acquire(context.Background())
		b, _ := l.Acquire(context.Background()) // 100 ms later, a slow call
		require.NoError(t, <-handBack(a, time.Second))
		a.Done()
		resumed := time.Now()
		// b's 429 comes back after the probe found the server open: it
		// is retried first, and nothing pauses.
		require.NoError(t, b.RateLimited(context.Background(), time.Second))
		assert.Less(t, time.Since(resumed), time.Second, "retried at the next slot, not after a probe")
		b.Done()
		s := l.Stats()
		assert.EqualValues(t, 1, s.Pauses)
		assert.EqualValues(t, 2, s.RateLimited, "the straggler's 429 still counts")
		assert.Equal(t, 600, l.RPM())
		assert.Len(t, svc.callTimes(), 1, "one probe")
	})
}

func TestProbeFailuresCountAsBlocked(t *testing.T) {
	tests := []struct {
		name   string
		answer func(ctx context.Context) (bool, error)
	}{
		{"error", func(context.Context) (bool, error) { return false, errors.New("connection refused") }},
		{"panic", func(context.Context) (bool, error) { panic("probe bug") }},
		{"hang past timeout", func(ctx context.Context) (bool, error) { <-ctx.Done(); return false, ctx.Err() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := newScriptedService(tc.answer, openAnswer)
				l := newLimiter(t, 600, WithService(svc), WithProbeTimeout(2*time.Second))
				tk, _ := l.Acquire(context.Background())
				require.NoError(t, <-handBack(tk, time.Second))
				calls := svc.callTimes()
				require.Len(t, calls, 2)
				assert.Equal(t, time.Second, calls[0])
				// The second probe comes one grown interval after the
				// first one ended.
				wantGap := 1500 * time.Millisecond
				if tc.name == "hang past timeout" {
					wantGap += 2 * time.Second
				}
				assert.Equal(t, wantGap, calls[1]-calls[0])
				tk.Done()
			})
		})
	}
}

func TestServiceWithoutProbeUsesCanary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := NewService("svc", nil)
		l, err := svc.NewLimiter("", 600, WithMonitor(newStoppedAtEnd(t)))
		require.NoError(t, err)
		assert.Same(t, l, svc.Limiter("any-model"))
		tk, _ := l.Acquire(context.Background())
		require.NoError(t, <-handBack(tk, time.Second), "a canary goes out")
		tk.Done()
		assert.False(t, l.Stats().Paused)
	})
}

func TestAClosedServiceRefusesNewLimitersAndKeepsItsOwnClosed(t *testing.T) {
	svc := NewService("svc", nil)
	l, err := svc.NewLimiter("model-a", 600, WithMonitor(newStoppedAtEnd(t)))
	require.NoError(t, err)
	require.NoError(t, svc.Close())
	require.NoError(t, svc.Close(), "closing twice is harmless")
	_, err = svc.NewLimiter("model-b", 600, WithMonitor(newStoppedAtEnd(t)))
	require.ErrorIs(t, err, ErrClosed)
	assert.Same(t, l, svc.Limiter("model-a"), "a late caller finds the closed limiter, not another one")
	_, err = l.Acquire(context.Background())
	require.ErrorIs(t, err, ErrClosed)
}

func TestUnansweredCanaryCountsAsBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithProbeTimeout(5*time.Second))
		a, _ := l.Acquire(context.Background())
		time.Sleep(time.Second)
		b, _ := l.Acquire(context.Background())
		ra := handBack(a, time.Second)
		rb := handBack(b, time.Second)
		synctest.Wait()
		start := time.Now()
		first := <-ra // a was handed back first: it is the canary
		require.NoError(t, first)
		// a never answers: after the timeout the probe backs off and b
		// goes out as the next canary 1.5 s later.
		require.NoError(t, <-rb)
		assert.Equal(t, time.Second+5*time.Second+1500*time.Millisecond, time.Since(start))
		b.Done()
		a.Done()
		assert.False(t, l.Stats().Paused)
		assertConserved(t, l)
	})
}

// newStoppedAtEnd returns a Monitor that stops when the test ends.
func newStoppedAtEnd(t *testing.T) *Monitor {
	m := NewMonitor()
	t.Cleanup(func() { m.Stop() })
	return m
}

func TestCanaryKeepsToThePerSecondCapAndSpacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 60) // one ticket a second, a second apart
		start := time.Now()
		time.Sleep(100 * time.Millisecond)
		tk, _ := l.Acquire(context.Background())
		// A hint far shorter than the spacing: the canary still waits for
		// the next slot.
		require.NoError(t, tk.RateLimited(context.Background(), 150*time.Millisecond))
		assert.Equal(t, 1100*time.Millisecond, time.Since(start))
		tk.Done()
		assert.False(t, l.Stats().Paused)
		assertConserved(t, l)
	})
}

// nilProbe is a service whose IsBlocked dereferences its receiver: a nil
// *nilProbe in the interface panics there.
type nilProbe struct{ blocked bool }

func (*nilProbe) ServiceName() string                       { return "nil-probe" }
func (p *nilProbe) IsBlocked(context.Context) (bool, error) { return p.blocked, nil }
func (*nilProbe) Limiter(string) *BucketRateLimiter         { return nil }

func TestAProbeThatPanicsOnANilServiceCountsAsBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithService((*nilProbe)(nil)))
		tk, _ := l.Acquire(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.ErrorIs(t, tk.RateLimited(ctx, time.Second), context.DeadlineExceeded)
		st := l.Stats()
		assert.True(t, st.Paused, "every probe panicked: still blocked")
		assert.Greater(t, st.NextProbe, time.Now(), "and the next probe is planned")
	})
}

// namelessProbe is a nilProbe whose ServiceName dereferences its receiver.
type namelessProbe struct{ nilProbe }

func (p *namelessProbe) ServiceName() string { return p.nilProbe.ServiceName() }

func TestAServiceWhoseNamePanicsFailsWhenTheLimiterIsCreated(t *testing.T) {
	m := newStoppedAtEnd(t)
	// On the caller's goroutine, at once; never later on the Monitor's,
	// where nobody could recover it.
	assert.Panics(t, func() {
		_, _ = NewBucketRateLimiter(60, WithMonitor(m), WithService((*namelessProbe)(nil)))
	})
}

func TestCloseEndsARunningProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ended := make(chan error, 1)
		svc := newScriptedService(func(ctx context.Context) (bool, error) {
			<-ctx.Done()
			ended <- ctx.Err()
			return true, ctx.Err()
		})
		l := newLimiter(t, 600, WithService(svc), WithProbeTimeout(time.Minute))
		tk, _ := l.Acquire(context.Background())
		retried := handBack(tk, time.Second)
		time.Sleep(2 * time.Second) // the probe started at 1 s and hangs
		start := time.Now()
		require.NoError(t, l.Close())
		require.ErrorIs(t, <-ended, context.Canceled)
		assert.Zero(t, time.Since(start), "the probe ended with the limiter, not at its timeout")
		require.ErrorIs(t, <-retried, ErrClosed)
	})
}

func TestACanaryThatSucceedsPastItsTimeoutEndsThePause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithProbeTimeout(5*time.Second))
		tk, _ := l.Acquire(context.Background())
		require.NoError(t, tk.RateLimited(context.Background(), time.Second), "the retry goes out as the canary")
		// The canary is a long generation: 12 s, past its 5 s timeout.
		time.Sleep(12 * time.Second)
		st := l.Stats()
		require.True(t, st.Paused)
		tk.Done()
		assert.False(t, l.Stats().Paused, "a late success still shows the server accepts requests")
		start := time.Now()
		next, err := l.Acquire(context.Background())
		require.NoError(t, err)
		assert.Zero(t, time.Since(start), "requests flow again at once")
		next.Done()
		assertConserved(t, l)
	})
}

func TestACanaryFromAnEarlierPauseDoesNotEndThisOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithProbeTimeout(5*time.Second))
		old, _ := l.Acquire(context.Background())
		require.NoError(t, old.RateLimited(context.Background(), time.Second), "old is the first pause's canary")
		time.Sleep(6 * time.Second) // old times out; the next canary resumes
		b, _ := l.Acquire(context.Background())
		b.Done()
		require.False(t, l.Stats().Paused)
		c, _ := l.Acquire(context.Background())
		giveUp(t, c, 30*time.Second) // a second pause
		old.Done()                   // the first pause's canary, long after
		assert.True(t, l.Stats().Paused, "it says nothing of the second pause")
		assertConserved(t, l)
	})
}

func TestStatsShowNoNextProbeWhileACanaryIsOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithProbeTimeout(5*time.Second))
		tk, _ := l.Acquire(context.Background())
		other, _ := l.Acquire(context.Background())
		start := time.Now()
		giveUp(t, other, 2*time.Second) // paused
		assert.Equal(t, start.Add(2*time.Second), l.Stats().NextProbe)
		require.NoError(t, tk.RateLimited(context.Background(), 0), "tk goes out as the canary")
		time.Sleep(3 * time.Second) // the canary is still out
		st := l.Stats()
		assert.True(t, st.Paused)
		assert.True(t, st.NextProbe.IsZero(), "no probe time in the past: %v", st.NextProbe)
		tk.Done()
		assertConserved(t, l)
	})
}

func TestALateCanaryDoesNotOverrideANewerRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithProbeTimeout(5*time.Second))
		a, _ := l.Acquire(context.Background())
		require.NoError(t, a.RateLimited(context.Background(), time.Second), "a goes out as the canary")
		next := make(chan *Ticket)
		go func() {
			b, err := l.Acquire(context.Background())
			assert.NoError(t, err)
			next <- b
		}()
		time.Sleep(6 * time.Second)  // a is past its timeout
		b := <-next                  // b went out as the next canary
		giveUp(t, b, 30*time.Second) // the server refuses b: retry after 30 s
		time.Sleep(2 * time.Second)
		a.Done() // a, sent before b, ends well
		st := l.Stats()
		assert.True(t, st.Paused, "the server's newer refusal stands")
		assert.Equal(t, 30*time.Second-2*time.Second, time.Until(st.NextProbe))
		assertConserved(t, l)
	})
}

// tryForCanary calls TryAcquire on the paused l every 100 ms, for at most
// a minute, and returns the ticket it gets: the pause's canary.
func tryForCanary(t *testing.T, l *BucketRateLimiter) *Ticket {
	t.Helper()
	start := time.Now()
	var canary *Ticket
	for canary == nil && time.Since(start) < time.Minute {
		time.Sleep(100 * time.Millisecond)
		canary, _ = l.TryAcquire()
	}
	require.NotNil(t, canary, "TryAcquire never got the canary")
	return canary
}

func TestAProgramThatOnlyTriesSendsTheCanaryWhenTheProbeIsDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600) // no service: canaries decide
		tk, ok := l.TryAcquire()
		require.True(t, ok)
		giveUp(t, tk, 2*time.Second) // paused, and the ticket given up
		start := time.Now()

		canary := tryForCanary(t, l)
		assert.Equal(t, 2*time.Second, time.Since(start), "the canary goes when the hint expires")
		_, ok = l.TryAcquire()
		assert.False(t, ok, "one canary at a time")
		canary.Done()
		assert.False(t, l.Stats().Paused, "the canary's success ends the pause")
		time.Sleep(200 * time.Millisecond) // the ramp's first second: 5 tickets
		next, ok := l.TryAcquire()
		require.True(t, ok, "tickets flow again")
		next.Done()
	})
}

func TestAResumeEarlyInAMinuteLogsItsFirstSecondPaused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(WithLogDir(t.TempDir()))
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithService(newScriptedService(openAnswer)))
		require.NoError(t, err)
		time.Sleep(50 * time.Second)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		// Paused from 50 s until the probe at 60.5 s, before anything
		// else happens in the minute that begins at 60 s.
		require.NoError(t, tk.RateLimited(context.Background(), 10500*time.Millisecond))
		tk.Done()
		require.NoError(t, m.Stop())

		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		require.Len(t, lf.Minutes, 2)
		second := lf.Minutes[1]
		assert.True(t, second.Paused[0], "second 0 of the minute was paused until 0.5 s")
		assert.False(t, second.Paused[1], "the pause ended in second 0")
		assert.True(t, lf.Minutes[0].Paused[59], "the minute before ended paused")
	})
}

func TestARateLimitLateInAQuietMinuteLogsThePauseFromItsSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(WithLogDir(t.TempDir()))
		l, err := NewBucketRateLimiter(600, WithMonitor(m))
		require.NoError(t, err)
		time.Sleep(50 * time.Second)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		// A slow call: its 429 comes at 90 s, in a minute with nothing
		// else logged yet.
		time.Sleep(40 * time.Second)
		giveUp(t, tk, 5*time.Second)
		require.NoError(t, m.Stop())

		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		require.Len(t, lf.Minutes, 2)
		second := lf.Minutes[1]
		for s := range 30 {
			require.False(t, second.Paused[s], "second %d, before the 429, logged as paused", s)
		}
		assert.True(t, second.Paused[30], "the pause begins at second 30")
	})
}

// A straggler's longer hint puts the canary off even when the probe was
// already due and waited only for a request to send: the server's latest
// word is to wait.
func TestStragglerHintPutsOffACanaryThatWasDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithRampUp(1, 1))
		a, _ := l.Acquire(context.Background())
		time.Sleep(100 * time.Millisecond)
		b, _ := l.Acquire(context.Background())
		time.Sleep(100 * time.Millisecond)
		giveUp(t, a, time.Second) // pauses; the probe is due at 1.2 s
		time.Sleep(1300 * time.Millisecond)
		// The probe came due with nobody to send: the next request
		// would be the canary. b, sent before the pause, is refused
		// now with a longer hint.
		giveUp(t, b, 30*time.Second)
		start := time.Now()
		c, err := l.Acquire(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 30*time.Second, time.Since(start), "the canary waits out the straggler's hint")
		c.Done()
		assert.False(t, l.Stats().Paused, "the canary resumed the limiter")
		assertConserved(t, l)
	})
}

// A probe that makes a call and returns its error, a 429 that says when
// to retry, counts as blocked, and the next probe waits as long as the
// server said.
func TestAProbeRefusedWithAHintWaitsForIt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		wantGap time.Duration
	}{
		{"rate limit error", &RateLimitError{StatusCode: 429, RetryAfter: 30 * time.Second}, 30 * time.Second},
		{"wrapped SDK error", fmt.Errorf("listing models: %w", &sdkLikeError{StatusCode: 429,
			Response: &http.Response{Header: http.Header{"Retry-After": {"20"}}}}), 20 * time.Second},
		{"short hint", &RateLimitError{StatusCode: 429, RetryAfter: time.Millisecond}, 1500 * time.Millisecond},
		{"no hint", &sdkLikeError{StatusCode: 429}, 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := newScriptedService(func(context.Context) (bool, error) { return true, tc.err }, openAnswer)
				l := newLimiter(t, 600, WithService(svc))
				tk, _ := l.Acquire(context.Background())
				require.NoError(t, <-handBack(tk, time.Second))
				calls := svc.callTimes()
				require.Len(t, calls, 2)
				assert.Equal(t, tc.wantGap, calls[1]-calls[0])
				tk.Done()
			})
		})
	}
}

// derefError is an error whose methods dereference it, as most do.
type derefError struct{ msg string }

func (e *derefError) Error() string { return e.msg }

// nilErrorProbe returns a nil *derefError as its error: a typed nil,
// whose Error panics.
type nilErrorProbe struct{}

func (nilErrorProbe) ServiceName() string               { return "nil-error" }
func (nilErrorProbe) Limiter(string) *BucketRateLimiter { return nil }
func (nilErrorProbe) IsBlocked(context.Context) (bool, error) {
	var e *derefError
	return false, e
}

// A probe whose error panics when read (a typed nil) counts as a probe
// that panicked: blocked, said through the logger, and no crash of the
// Monitor's goroutine, where nobody could recover it.
func TestAProbeReturningATypedNilErrorCountsAsBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &logRecorder{}
		l := newLimiter(t, 600, WithService(nilErrorProbe{}), WithLogger(slog.New(rec)))
		tk, _ := l.Acquire(context.Background())
		giveUp(t, tk, time.Second)
		time.Sleep(10 * time.Second)
		st := l.Stats()
		assert.True(t, st.Paused, "every probe failed: still blocked")
		assert.Greater(t, st.NextProbe, time.Now(), "and the next probe is planned")
		assert.NotEmpty(t, rec.matching("probe failed", "panicked"))
	})
}

func TestAModelWhoseLimiterWasClosedGetsANewOne(t *testing.T) {
	svc := NewService("svc", nil)
	m := newStoppedAtEnd(t)
	old, err := svc.NewLimiter("model-a", 600, WithMonitor(m))
	require.NoError(t, err)
	_, err = svc.NewLimiter("model-a", 600, WithMonitor(m))
	require.Error(t, err, "an open limiter is not replaced")
	require.NoError(t, old.Close())
	l, err := svc.NewLimiter("model-a", 1200, WithMonitor(m))
	require.NoError(t, err)
	assert.Same(t, l, svc.Limiter("model-a"))
	assert.Equal(t, "svc/model-a", l.Name())
	tk, err := l.Acquire(context.Background())
	require.NoError(t, err)
	tk.Done()
}
