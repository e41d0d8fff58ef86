package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// A waiter whose context ends just as the server reports its daily budget
// spent gets an error, never a ticket that was not issued. The waiter's
// select sees both at once and picks either, so the race is run many
// times.
func TestAWaiterGivingUpAsTheDailyBudgetIsSpentGetsNoTicket(t *testing.T) {
	for i := range 64 {
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(t, 60)
			first, err := l.Acquire(context.Background())
			require.NoError(t, err)
			defer first.Done()
			ctx, cancel := context.WithCancel(context.Background())
			type result struct {
				tk  *Ticket
				err error
			}
			got := make(chan result, 1)
			go func() {
				tk, err := l.Acquire(ctx)
				got <- result{tk, err}
			}()
			synctest.Wait() // it waits for the next second's slot
			cancel()
			now := time.Now()
			l.observe(signals.Limits{Requests: signals.Budget{Limit: 14400, Remaining: 0, Reset: now.Add(20 * time.Hour), Known: true}}, now)
			r := <-got
			if !assert.Error(t, r.err, "run %d: Acquire returned no error", i) {
				assert.Equal(t, stateIssued, r.tk.state.Load(), "run %d: the ticket returned is not issued", i)
			}
			assert.Nil(t, r.tk, "run %d", i)
			assertConserved(t, l)
		})
	}
}

// A waiter refused because the server reports its daily budget spent gets
// that refusal even when it wakes only after the reset passed, as on a
// machine that slept through the window: never a ticket that was not
// issued with no error. The refusal and the late waking are set up under
// the limiter's lock, since in a bubble a refused waiter wakes at once.
func TestAWaiterThatWakesAfterTheSpentWindowStillGetsItsRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 60)
		first, err := l.Acquire(context.Background())
		require.NoError(t, err)
		defer first.Done()
		type result struct {
			tk  *Ticket
			err error
		}
		got := make(chan result, 1)
		go func() {
			tk, err := l.Acquire(context.Background())
			got <- result{tk, err}
		}()
		synctest.Wait() // it waits for the next second's slot
		l.mu.Lock()
		l.lim.spentUntil = l.now() // the window the refusal named is over
		l.refuseWaiters()
		l.mu.Unlock()
		r := <-got
		var qe *QuotaError
		require.ErrorAs(t, r.err, &qe)
		assert.ErrorIs(t, r.err, ErrQuotaExhausted)
		assert.Nil(t, r.tk)
		assertConserved(t, l)
	})
}
