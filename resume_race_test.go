package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Acquire reads the clock before it takes the lock. A caller that read it
// just before the pause ended, and got the lock just after, must still get
// a ticket of the new run: the server's 429 on it is news, not a
// straggler's, and pauses the limiter again.
func TestATicketIssuedAsThePauseEndsIsNoStraggler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		first, err := l.Acquire(context.Background())
		require.NoError(t, err)
		giveUp(t, first, time.Second) // paused; nobody waits
		time.Sleep(2 * time.Second)
		require.True(t, l.Stats().Paused)

		// Another goroutine holds the lock and ends the pause 1 ms after
		// the caller read the clock: virtual time stands still while the
		// caller waits for the lock, so the resume is dated 1 ms on.
		l.lock()
		got := make(chan *Ticket, 1)
		go func() {
			tk, err := l.Acquire(context.Background())
			assert.NoError(t, err)
			got <- tk
		}()
		l.resume(l.now()+int64(time.Millisecond), "probe: service accepts requests")
		l.mu.Unlock()
		tk := <-got
		time.Sleep(time.Millisecond) // the clock catches up with the resume

		giveUp(t, tk, time.Second)
		assert.True(t, l.Stats().Paused, "a 429 on a ticket issued after the resume pauses the limiter")
		assertConserved(t, l)
	})
}
