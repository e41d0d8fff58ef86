package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
)

// A probe may call the service through the paused limiter itself, with
// the context it is given: one client for everything. Its call is sent
// at once, outside the limiter's counts, and sent once: a 429 goes back
// to the probe, whose error carries the server's hint.
func TestAProbeMayCallThroughThePausedLimiter(t *testing.T) {
	for _, way := range []string{"Transport", "Do"} {
		t.Run(way, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := tpProvider(t, fakeprovider.Config{RPM: 600})
				var call func(context.Context) error
				probes := 0
				svc := NewService("api", func(ctx context.Context) (bool, error) {
					probes++
					if err := call(ctx); err != nil {
						return true, err
					}
					return false, nil
				})
				m := NewMonitor()
				t.Cleanup(func() { m.Stop() })
				l, err := svc.NewLimiter("", 600, WithMonitor(m))
				require.NoError(t, err)

				client := tpOpenAI(fakeURL, tpTransport(t, s.Transport(), WithServiceLimiters(svc)))
				bare := tpOpenAI(fakeURL, s.Transport())
				call = func(ctx context.Context) error {
					if way == "Transport" {
						_, err := client.Chat.Completions.New(ctx, tpChat("gpt-4o-mini"))
						return err
					}
					_, err := Do(ctx, l, func(ctx context.Context) (*openai.ChatCompletion, error) {
						return bare.Chat.Completions.New(ctx, tpChat("gpt-4o-mini"))
					})
					return err
				}

				// Down for 20 s, then, 10 s in, for 20 s more: the
				// first probe (at 20 s, as the 429 said) is refused
				// and says to come back at 30 s.
				s.Outage(20 * time.Second)
				time.AfterFunc(10*time.Second, func() { s.Outage(20 * time.Second) })
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				require.NoError(t, call(ctx))

				took := time.Since(start)
				assert.GreaterOrEqual(t, took, 30*time.Second)
				assert.Less(t, took, 31*time.Second, "resumed by the second probe, at 30 s")
				assert.Equal(t, 2, probes)
				st := s.Stats()
				assert.Equal(t, 4, st.Requests, "the call, two probes' calls, the call again")
				assert.Equal(t, 2, st.Accepted)
				ls := l.Stats()
				assert.False(t, ls.Paused)
				assert.Equal(t, uint64(1), ls.Requested, "the probes' calls count nowhere")
				assert.Equal(t, uint64(1), ls.Finished)
				assert.Equal(t, uint64(1), ls.RateLimited)
				assertConserved(t, l)
			})
		})
	}
}

// A ticket a probe's call took ends quietly however it is reported.
func TestAProbeCallsTicketReportsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(openAnswer)
		l := newLimiter(t, 600, WithService(svc))
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.rateLimitedFinal(time.Minute, false) // pauses l
		require.True(t, l.Stats().Paused)

		ctx := context.WithValue(context.Background(), probeKey{}, &probeRun{svc: svc})
		for _, report := range []func(*Ticket) error{
			func(p *Ticket) error { p.Done(); return nil },
			func(p *Ticket) error { p.Abandon(); return nil },
			func(p *Ticket) error { p.Used(10, 10); p.Done(); return nil },
			func(p *Ticket) error { return p.RateLimited(context.Background(), time.Second) },
		} {
			p, err := l.Acquire(ctx)
			require.NoError(t, err, "issued at once during the pause")
			err = report(p)
			if err != nil {
				assert.ErrorIs(t, err, ErrRateLimited)
			}
			p.Done()
			assert.ErrorIs(t, p.RateLimited(context.Background(), 0), ErrTicketFinished)
		}
		st := l.Stats()
		assert.True(t, st.Paused)
		assert.Equal(t, uint64(1), st.Requested)
		assert.Equal(t, uint64(1), st.RateLimited)
		assertConserved(t, l)
	})
}

// A Ticket made by hand was never issued: reporting on it does nothing.
func TestAZeroTicketIsInert(t *testing.T) {
	var z Ticket
	require.NotPanics(t, func() {
		z.Done()
		z.Abandon()
		z.Used(1, 1)
	})
	assert.ErrorIs(t, z.RateLimited(context.Background(), time.Second), ErrTicketFinished)
}

// A probe's context passes a pause only while the probe runs: one kept
// past it, cut from its cancellation (context.WithoutCancel, for work the
// probe left running), waits out a later pause like any other call
// instead of going to the refusing server uncounted.
func TestASpentProbesContextPassesNoLaterPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var kept context.Context
		svc := newScriptedService(func(ctx context.Context) (bool, error) {
			kept = context.WithoutCancel(ctx)
			return false, nil
		})
		m := NewMonitor()
		t.Cleanup(func() { m.Stop() })
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithService(svc),
			WithProbeInterval(time.Hour, 2*time.Hour, 2))
		require.NoError(t, err)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		giveUp(t, tk, time.Second)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.False(t, l.Stats().Paused, "the probe ended the pause")
		require.NotNil(t, kept)

		tk, err = l.Acquire(context.Background())
		require.NoError(t, err)
		giveUp(t, tk, time.Hour) // paused again, for an hour
		require.True(t, l.Stats().Paused)
		ctx, cancel := context.WithTimeout(kept, time.Minute)
		defer cancel()
		tk, err = l.Acquire(ctx)
		assert.Nil(t, tk)
		assert.ErrorIs(t, err, ErrWouldExceedDeadline)
		assert.Equal(t, uint64(3), l.Stats().Requested)
		assertConserved(t, l)
	})
}

// A probe passes the pauses of its own service's limiters only: its
// context gets no ticket from a paused limiter of another service.
func TestAProbesContextPassesOnlyItsOwnServicesPauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mine, other := newScriptedService(openAnswer), newScriptedService(openAnswer)
		var ls []*BucketRateLimiter
		for _, svc := range []RateLimitedService{mine, mine, other} {
			l := newLimiter(t, 600, WithService(svc))
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			tk.rateLimitedFinal(time.Minute, false) // pauses l
			ls = append(ls, l)
		}
		ctx := context.WithValue(context.Background(), probeKey{}, &probeRun{svc: mine})
		for _, l := range ls[:2] {
			tk, err := l.Acquire(ctx)
			require.NoError(t, err, "a limiter of the probed service lets the probe's call go")
			tk.Done()
		}
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := ls[2].Acquire(short)
		assert.ErrorIs(t, err, ErrWouldExceedDeadline, "another service's pause holds it")
	})
}

// uncomparable is a service of a type that == cannot compare.
type uncomparable struct{ _ map[string]int }

func (uncomparable) ServiceName() string                     { return "u" }
func (uncomparable) IsBlocked(context.Context) (bool, error) { return false, nil }
func (uncomparable) Limiter(string) *BucketRateLimiter       { return nil }

func TestSameServiceNeverPanics(t *testing.T) {
	a := newScriptedService(openAnswer)
	assert.True(t, sameService(a, a, "a", "a"))
	assert.False(t, sameService(a, newScriptedService(openAnswer), "a", "a"))
	assert.False(t, sameService(nil, a, "", "a"))
	assert.True(t, sameService(uncomparable{}, uncomparable{}, "u", "u"), "an uncomparable service is the same by type and name")
	assert.False(t, sameService(uncomparable{}, uncomparable{}, "u", "v"), "not under another name")
	assert.False(t, sameService(uncomparable{}, selfProbing{}, "u", "u"), "nor of another type")
}
