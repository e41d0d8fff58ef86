package ratellmiter

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

func TestRepeatedPauseHalvesTheLimitAndCleanMinutesRaiseIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(openAnswer)
		l := newLimiter(t, 1200, WithService(svc))
		tk, _ := l.Acquire(context.Background())
		require.NoError(t, <-handBack(tk, time.Second)) // first pause: an outage, maybe
		assert.Equal(t, 1200, l.RPM(), "one pause teaches nothing")
		time.Sleep(5 * time.Second)
		require.NoError(t, <-handBack(tk, time.Second)) // again soon after: too fast
		assert.Equal(t, 600, l.RPM())
		tk.Done()

		time.Sleep(61 * time.Second)
		tk, _ = l.Acquire(context.Background())
		tk.Done()
		assert.Equal(t, 660, l.RPM(), "a clean minute adds back 5%% of the configured limit")

		time.Sleep(61 * time.Second)
		tk, ok := l.TryAcquire()
		require.True(t, ok)
		tk.Done()
		assert.Equal(t, 720, l.RPM(), "TryAcquire takes the next minute's step as Acquire does")
	})
}

// A queue of waiters is served at a learned limit that still grows back
// after each clean minute, even when nobody new asks for a ticket.
func TestALearnedLimitGrowsBackWhileABacklogWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 1200, WithService(newScriptedService(openAnswer)), WithRampUp(1, 1))
		pauseTwiceQuickly(t, l)
		require.Equal(t, 600, l.RPM())

		var wg sync.WaitGroup
		for range 2000 {
			wg.Go(func() {
				tk, err := l.Acquire(context.Background())
				if assert.NoError(t, err) {
					tk.Done()
				}
			})
		}
		synctest.Wait() // everyone is in line
		time.Sleep(62 * time.Second)
		assert.Equal(t, 660, l.RPM(), "a clean minute adds back 5%% of the configured limit")
		time.Sleep(61 * time.Second)
		assert.Equal(t, 720, l.RPM(), "and the next one as much again")
		wg.Wait()
	})
}

func TestPauseWhereTheServerAdmittedPartOfTheTrafficHalvesTheLimit(t *testing.T) {
	// At 1200 RPM tickets go out 50 ms apart. Which of two tickets the
	// server refuses tells a wrong limit from an outage.
	cases := []struct {
		name    string
		refused string // the ticket handed back as rate limited
		both    bool   // the other one is refused too
		early   bool   // the other one succeeds before the refusal comes back
		want    int
	}{
		{"a later ticket got through: the rate is too high", "first", false, false, 600},
		{"everything after the first refusal refused: an outage", "first", true, false, 1200},
		{"only the last ticket refused: nothing after it got through", "second", false, false, 1200},
		{"a later ticket answered before the refusal: the server may have gone down between", "first", false, true, 1200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 1200, WithService(newScriptedService(openAnswer)))
				first, _ := l.Acquire(context.Background())
				second, _ := l.Acquire(context.Background())
				refused, other := first, second
				if c.refused == "second" {
					refused, other = second, first
				}
				if c.early {
					other.Done()
				}
				retried := handBack(refused, time.Second)
				synctest.Wait()
				var again <-chan error
				switch {
				case c.both:
					again = handBack(other, time.Second)
				case !c.early:
					other.Done()
				}
				require.NoError(t, <-retried)
				refused.Done()
				if again != nil {
					require.NoError(t, <-again)
					other.Done()
				}
				assert.Equal(t, c.want, l.RPM())
				assert.EqualValues(t, 1, l.Stats().Pauses, "one pause")
			})
		})
	}
}

func TestWithLearningOffKeepsTheLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(openAnswer)
		l := newLimiter(t, 1200, WithService(svc), WithLearning(false))
		tk, _ := l.Acquire(context.Background())
		require.NoError(t, <-handBack(tk, time.Second))
		require.NoError(t, <-handBack(tk, time.Second))
		tk.Done()
		assert.Equal(t, 1200, l.RPM())
	})
}

// Learning off stops a limiter learning on its own, not taking the limit
// learned on a quota it shares.
func TestWithLearningOffStillTakesTheSharedLearnedLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(openAnswer)
		store := NewMemoryStore()
		learner := sharedLimiters(t, store, FallbackLocal, 1, 1200, WithService(svc))[0]
		m := NewMonitor()
		t.Cleanup(func() { m.Stop() })
		off, err := NewBucketRateLimiter(1200, WithMonitor(m), WithService(svc), WithLearning(false),
			WithStore(store, "quota", WithProcessID("off")))
		require.NoError(t, err)
		tk, _ := learner.Acquire(context.Background())
		require.NoError(t, <-handBack(tk, time.Second))
		time.Sleep(5 * time.Second)
		require.NoError(t, <-handBack(tk, time.Second)) // paused again soon after: too fast
		tk.Done()
		require.Equal(t, 600, learner.RPM())
		time.Sleep(5 * time.Second)
		assert.Equal(t, 600, off.RPM(), "the quota's learned limit holds for every limiter sharing it")
	})
}

func TestServerHeadersCapTheLimitAndHoldUntilReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000)
		now := time.Now()
		l.observe(signals.Limits{Requests: signals.Budget{Limit: 600, Remaining: 10, Reset: now.Add(time.Second), Known: true}}, now)
		assert.Equal(t, 600, l.RPM(), "never above the reported limit")

		l.observe(signals.Limits{Requests: signals.Budget{Limit: 600, Remaining: 0, Reset: now.Add(3 * time.Second), Known: true}}, now)
		_, ok := l.TryAcquire()
		assert.False(t, ok, "nothing remains until the reset")
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 3*time.Second, time.Since(now))
		tk.Done()

		time.Sleep(time.Second)
		l.observe(signals.Limits{Requests: signals.Budget{Limit: 14400, Remaining: 0, Reset: now.Add(20 * time.Hour), Known: true}}, time.Now())
		_, ok = l.TryAcquire()
		assert.False(t, ok, "a spent daily budget refuses at once")
		_, err = l.Acquire(context.Background())
		assert.ErrorIs(t, err, ErrQuotaExhausted, "instead of waiting 20 hours")
		assert.True(t, l.Stats().HeldUntil.IsZero(), "the minute limiter itself is not held")
	})
}

func TestASpentDailyBudgetFailsThoseAlreadyWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		a, err := l.Acquire(context.Background())
		require.NoError(t, err)
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := l.Acquire(context.Background())
				errs <- err
			}()
		}
		synctest.Wait() // both wait for their slots
		now := time.Now()
		l.observe(signals.Limits{Requests: signals.Budget{Limit: 14400, Remaining: 0, Reset: now.Add(20 * time.Hour), Known: true}}, now)
		a.Done()
		for range 2 {
			err := <-errs
			require.ErrorIs(t, err, ErrQuotaExhausted)
			var qe *QuotaError
			require.ErrorAs(t, err, &qe)
			assert.Equal(t, now.Add(20*time.Hour), qe.Reset, "the error says when the budget resets")
		}
		assert.Zero(t, time.Since(now), "they fail at once, not when their slots come")
		assertConserved(t, l)
	})
}

func TestAReportedLimitFollowsTheServerUpToTheConfiguredOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000)
		report := func(limit int64) {
			now := time.Now()
			l.observe(signals.Limits{Requests: signals.Budget{Limit: limit, Remaining: 10, Reset: now.Add(time.Second), Known: true}}, now)
		}
		report(600)
		assert.Equal(t, 600, l.RPM())
		report(3000)
		assert.Equal(t, 3000, l.RPM(), "a higher tier")
		report(10000)
		assert.Equal(t, 6000, l.RPM(), "never above the configured limit, but no longer held below it")
	})
}

func TestARaisedReportedLimitLetsTheWaitersGoAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		report := func(limit int64) {
			now := time.Now()
			l.observe(signals.Limits{Requests: signals.Budget{Limit: limit, Remaining: limit - 1, Reset: now.Add(10 * time.Second), Known: true}}, now)
		}
		for _, raised := range []int64{60, 600} { // below and at the configured limit
			report(6) // a ticket every 10 s
			a, err := l.Acquire(context.Background())
			require.NoError(t, err)
			a.Done()
			start := time.Now()
			got := make(chan *Ticket, 1)
			go func() {
				b, err := l.Acquire(context.Background())
				assert.NoError(t, err)
				got <- b
			}()
			synctest.Wait()
			report(raised)
			b := <-got
			b.Done()
			assert.Equal(t, time.Duration(int64(time.Minute)/raised), time.Since(start),
				"raised to %d RPM, the waiter goes at the new spacing", raised)
			time.Sleep(time.Minute) // a quiet minute before the next round
		}
	})
}

func TestAcquireFailsAtOnceWhenTheServersHoldOutlastsTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		now := time.Now()
		l.observe(signals.Limits{Requests: signals.Budget{Limit: 600, Remaining: 0, Reset: now.Add(500 * time.Millisecond), Known: true}}, now)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := l.Acquire(ctx)
		require.ErrorIs(t, err, ErrWouldExceedDeadline)
		assert.Zero(t, time.Since(now), "at once, not at the deadline")
		// With time enough, the ticket comes when the hold ends.
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 500*time.Millisecond, time.Since(now))
		tk.Done()
	})
}

// An overloadCase is a limiter at 1200 RPM whose calls are refused every
// other time, by an overloaded server (529) or a rate limit (429), with
// retries or without, and the limit that leaves.
type overloadCase struct {
	name       string
	status     int
	maxRetries int
	want       int
}

// overloadCases are the cases Do and the transport are tested with.
var overloadCases = []overloadCase{
	{"overloaded, retried", 529, DefaultMaxRetries, 1200},
	{"rate limited, retried", http.StatusTooManyRequests, DefaultMaxRetries, 600},
	{"overloaded, no retry", 529, 0, 1200},
	{"rate limited, no retry", http.StatusTooManyRequests, 0, 600},
}

// calls returns how many calls make two pauses: with retries, two calls,
// each refused and then retried as the canary; without, three: refused
// (a pause), admitted as the canary (the resume), refused (a pause).
func (tc *overloadCase) calls() int {
	if tc.maxRetries == 0 {
		return 3
	}
	return 2
}

// TestOverloadsTeachNothingAboutTheLimit has Do's calls refused every
// other time, 5 s apart, by an overloaded server or by a rate limit, with
// retries or without: each refusal pauses the limiter, but only the rate
// limits lower its limit.
func TestOverloadsTeachNothingAboutTheLimit(t *testing.T) {
	for _, tc := range overloadCases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 1200, WithMaxRetries(tc.maxRetries))
				calls := 0
				for range tc.calls() {
					_, _ = Do(context.Background(), l, func(context.Context) (int, error) {
						calls++
						if calls%2 == 1 {
							return 0, &sdkLikeError{StatusCode: tc.status}
						}
						return 1, nil
					})
					time.Sleep(5 * time.Second)
				}
				assert.EqualValues(t, 2, l.Stats().Pauses)
				assert.Equal(t, tc.want, l.RPM())
			})
		})
	}
}

func TestAnOverloadIsNoPartialRefusal(t *testing.T) {
	for _, tc := range []struct {
		name       string
		overloaded bool
		want       int
	}{
		{"overloaded", true, 600},
		{"rate limited", false, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 600) // tickets 100 ms apart
				a, _ := l.Acquire(context.Background())
				b, _ := l.Acquire(context.Background())
				gone, cancel := context.WithCancel(context.Background())
				cancel()
				require.Error(t, a.waitRetry(gone, 0, tc.overloaded), "paused")
				b.Done() // b, sent after a, admitted during the pause
				c, _ := l.Acquire(context.Background())
				c.Done() // the canary: resume
				require.False(t, l.Stats().Paused)
				assert.Equal(t, tc.want, l.RPM())
			})
		})
	}
}

func TestARetryAfterTheDailyBudgetIsSpentFailsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		now := time.Now()
		// The 429 comes with headers that say the day's requests are used up.
		l.observe(signals.Limits{Requests: signals.Budget{Limit: 14400, Remaining: 0, Reset: now.Add(20 * time.Hour), Known: true}}, now)
		err = tk.RateLimited(context.Background(), 0)
		require.ErrorIs(t, err, ErrQuotaExhausted, "not a wait in line for a retry the server will refuse")
		var qe *QuotaError
		require.ErrorAs(t, err, &qe)
		assert.Equal(t, now.Add(20*time.Hour), qe.Reset)
		assert.Zero(t, time.Since(now), "at once")
		assert.ErrorIs(t, tk.RateLimited(context.Background(), 0), ErrTicketFinished, "the ticket is finished")
		assertConserved(t, l)
	})
}

// A minute spent paused is no clean minute: a learned limit is not raised
// the moment a long pause ends, but a clean minute after it.
func TestALearnedLimitIsNotRaisedByTheTimeSpentPaused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The first pause's probe finds the server open; the second's
		// finds it blocked for a while (1 s, 1.5 s, ... apart, then 65 s).
		svc := newScriptedService(openAnswer, blockedAnswer, blockedAnswer, blockedAnswer,
			blockedAnswer, blockedAnswer, blockedAnswer, blockedAnswer, blockedAnswer, openAnswer)
		l := newLimiter(t, 1200, WithService(svc))
		tk, _ := l.Acquire(context.Background())
		require.NoError(t, <-handBack(tk, time.Second))
		time.Sleep(5 * time.Second)
		start := time.Now()
		require.NoError(t, <-handBack(tk, time.Second)) // paused again soon after: too fast
		tk.Done()
		paused := time.Since(start)
		require.Greater(t, paused, time.Minute, "the second pause lasted over a minute")
		require.Equal(t, 600, l.RPM())

		assert.Equal(t, 600, rpmAfterATicket(t, l), "the minute paused was not clean")

		time.Sleep(61 * time.Second)
		assert.Equal(t, 660, rpmAfterATicket(t, l), "a clean minute after the resume adds back 5%%")
	})
}

// A learned limit that grows back to the limit the server reports is done
// with: the limiter does not go on saying it raised a limit it works at
// already, minute after minute.
func TestALearnedLimitEndsAtTheReportedLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &logRecorder{}
		l := newLimiter(t, 6000, WithService(newScriptedService(openAnswer)), WithLogger(slog.New(rec)))
		now := time.Now()
		l.observe(signals.Limits{Requests: signals.Budget{Limit: 600, Remaining: 500, Reset: now.Add(time.Second), Known: true}}, now)
		require.Equal(t, 600, l.RPM())
		pauseTwiceQuickly(t, l)
		require.Equal(t, 300, l.RPM())

		for range 5 {
			time.Sleep(61 * time.Second)
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			tk.Done()
		}
		assert.Equal(t, 600, l.RPM(), "back at the reported limit")
		assert.Zero(t, l.Stats().LearnedRPM, "the learned limit is done with")
		assert.Len(t, rec.matching("limit raised"), 1, "one raise, from 300 to 600 RPM: %q", rec.matching("limit raised"))
	})
}

// Every clean minute adds back its step, whether or not a ticket was asked
// for in it: a limiter that was idle for ten minutes has had ten of them.
func TestALearnedLimitGrowsBackByEveryCleanMinuteOfAnIdleSpell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 1200, WithService(newScriptedService(openAnswer)))
		pauseTwiceQuickly(t, l)
		require.Equal(t, 600, l.RPM())

		time.Sleep(5*time.Minute + time.Second)
		assert.Equal(t, 900, rpmAfterATicket(t, l), "five clean minutes add back 5%% of the configured limit each")

		time.Sleep(61 * time.Second)
		tk, ok := l.TryAcquire()
		require.True(t, ok)
		tk.Done()
		assert.Equal(t, 960, l.RPM(), "and the next one its own")

		time.Sleep(time.Hour)
		assert.Equal(t, 1200, rpmAfterATicket(t, l), "never above the configured limit")
		assert.Zero(t, l.Stats().LearnedRPM)
	})
}

// A per-minute request budget used up, whose reset a server with a clock
// a second ahead puts a minute after its own time, holds the limiter until
// the reset: it is no daily budget, whose refusal would fail every call.
func TestASpentMinuteBudgetOnAServerClockAheadHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 50)
		now := time.Now()
		server := now.Add(time.Second) // within the skew taken for truncation and travel
		h := http.Header{}
		h.Set("Date", server.UTC().Format(http.TimeFormat))
		h.Set("Anthropic-Ratelimit-Requests-Limit", "50")
		h.Set("Anthropic-Ratelimit-Requests-Remaining", "0")
		h.Set("Anthropic-Ratelimit-Requests-Reset", server.Add(time.Minute).UTC().Format(time.RFC3339))
		l.observe(signals.ParseHeaders(h, now), now)

		tk, err := l.Acquire(context.Background())
		require.NoError(t, err, "a minute's budget is waited for")
		assert.Equal(t, 61*time.Second, time.Since(now), "until the reset")
		tk.Done()
	})
}

// pauseTwiceQuickly has one ticket rate limited twice, 5 s apart, each
// time retried once the pause ends: a second pause so soon after the
// first halves the limit.
func pauseTwiceQuickly(t *testing.T, l *BucketRateLimiter) {
	t.Helper()
	tk, err := l.Acquire(context.Background())
	require.NoError(t, err)
	require.NoError(t, <-handBack(tk, time.Second))
	time.Sleep(5 * time.Second)
	require.NoError(t, <-handBack(tk, time.Second)) // paused again soon after: too fast
	tk.Done()
}

// The part of a minute left over when a learned limit is raised counts
// toward the next clean minute: a limiter asked for a ticket five and a
// half minutes after its limit was halved, and again at six, has had six
// clean minutes.
func TestALearnedLimitKeepsThePartOfAMinuteLeftOverAtARaise(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 1200, WithService(newScriptedService(openAnswer)))
		pauseTwiceQuickly(t, l)
		require.Equal(t, 600, l.RPM())

		time.Sleep(5*time.Minute + 30*time.Second)
		require.Equal(t, 900, rpmAfterATicket(t, l), "five clean minutes")

		time.Sleep(31 * time.Second)
		assert.Equal(t, 960, rpmAfterATicket(t, l), "six clean minutes")
	})
}

// rpmAfterATicket takes a ticket and finishes it, which raises a learned
// limit if a clean minute has passed, and returns the limit then.
func rpmAfterATicket(t *testing.T, l *BucketRateLimiter) int {
	t.Helper()
	tk, err := l.Acquire(context.Background())
	require.NoError(t, err)
	tk.Done()
	return l.RPM()
}

// A learned limit that ends because the server reports a lower one ends
// without a word of a raise: the limit the limiter works at did not change.
func TestALearnedLimitAboveTheReportedOneEndsWithoutARaise(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &logRecorder{}
		l := newLimiter(t, 1200, WithService(newScriptedService(openAnswer)), WithLogger(slog.New(rec)))
		pauseTwiceQuickly(t, l)
		require.Equal(t, 600, l.RPM())
		now := time.Now()
		l.observe(signals.Limits{Requests: signals.Budget{Limit: 300, Remaining: 200, Reset: now.Add(time.Second), Known: true}}, now)
		require.Equal(t, 300, l.RPM(), "the server reports less than the learned limit")

		time.Sleep(61 * time.Second)
		assert.Equal(t, 300, rpmAfterATicket(t, l))
		assert.Zero(t, l.Stats().LearnedRPM, "the learned limit is done with")
		assert.Empty(t, rec.matching("limit raised"), "the limit was not raised")
	})
}

// A reset absurdly far away is garbage, as a retry hint that far is: a
// spent budget whose reset a confused server puts years ahead does not
// make every call fail until then.
func TestASpentBudgetWithAnAbsurdResetIsNotBelieved(t *testing.T) {
	for _, h := range []http.Header{
		{"X-Ratelimit-Limit-Requests": {"14400"}, "X-Ratelimit-Remaining-Requests": {"0"}, "X-Ratelimit-Reset-Requests": {"1000000h"}},
		{"Anthropic-Ratelimit-Requests-Limit": {"50"}, "Anthropic-Ratelimit-Requests-Remaining": {"0"}, "Anthropic-Ratelimit-Requests-Reset": {"2099-01-01T00:00:00Z"}},
	} {
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(t, 600)
			now := time.Now()
			l.observe(signals.ParseHeaders(h, now), now)
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err, "headers %v", h)
			tk.Done()
		})
	}
}
