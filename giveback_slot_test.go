package ratellmiter

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A waiter whose context ends as its ticket is issued gives the ticket
// back: the next caller may take it at once, not a spacing later. At 1
// RPM a spacing is a minute, and the ticket given back would be lost.
func TestATicketGivenBackFreesItsSlot(t *testing.T) {
	for _, rpm := range []int{1, 7, 60, 6000} {
		t.Run(fmt.Sprint(rpm), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, rpm, WithRampUp(1, 1))
				first, err := l.Acquire(context.Background())
				require.NoError(t, err)
				first.Done()

				// A waiter, queued as Acquire queues it, is issued
				// its ticket at its slot; its context has ended
				// meanwhile, and all it sees is that.
				time.Sleep(time.Duration(l.b.gap))
				w := &Ticket{l: l, ready: make(chan struct{}, 1)}
				l.lock()
				l.stats.requested++
				l.q.pushBack(w)
				l.dispatch(l.now())
				l.mu.Unlock()
				<-w.ready
				require.Equal(t, stateIssued, w.state.Load(), "issued at its slot")
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				require.ErrorIs(t, l.wait(ctx, w), context.Canceled)

				start := time.Now()
				tk, err := l.Acquire(context.Background())
				require.NoError(t, err)
				tk.Done()
				assert.Zero(t, time.Since(start), "the ticket given back is issued again at once")
				assertConserved(t, l)
			})
		})
	}
}

// Of two tickets issued at the same instant, the bucket cannot tell which
// one is given back: the slot of the later one stays taken.
func TestATicketGivenBackBesideATwinKeepsTheLaterSlot(t *testing.T) {
	b := newBucket(600_000, 1, 1, false)
	const now = 5 * nsPerSec
	b.take(now)
	b.take(now)
	slot := b.slot
	b.refund(now)
	assert.Equal(t, slot, b.slot, "the slot stays taken")
	assert.Equal(t, 1, b.issuedIn(secOf(now)), "the count is given back")

	b.take(now + nsPerSec/1000)
	b.refund(now + nsPerSec/1000)
	assert.Equal(t, slot, b.slot, "a ticket alone at its instant frees its slot")
}
