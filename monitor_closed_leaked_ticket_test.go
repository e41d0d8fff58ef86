package ratellmiter

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A program that creates a limiter per job and closes it when the job is
// done may drop a ticket without finishing it, on an error path it
// forgot. With logs on, the Monitor keeps a closed limiter to log the
// finishes of its tickets; once nothing can reach the limiter, the
// forgotten tickets included, no finish can come, and the Monitor does not
// keep it either: it is collected as it is with logs off.
func TestAClosedLimiterWhoseTicketWasDroppedUnfinishedIsCollected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(WithLogDir(t.TempDir()))
		defer m.Stop()
		const jobs = 200
		var gone []weak.Pointer[BucketRateLimiter]
		for i := range jobs {
			l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName(fmt.Sprint("job-", i)))
			require.NoError(t, err)
			_, err = l.Acquire(context.Background()) // never finished
			require.NoError(t, err)
			require.NoError(t, l.Close())
			gone = append(gone, weak.Make(l))
			time.Sleep(time.Second)
		}
		time.Sleep(2 * time.Minute)
		// Nothing of the bubble runs during the collection: a weak pointer
		// read meanwhile would keep its limiter for one more.
		synctest.Wait()
		runtime.GC()
		kept := 0
		for _, p := range gone {
			if p.Value() != nil {
				kept++
			}
		}
		assert.Zero(t, kept, "closed limiters of %d whose only unfinished ticket was dropped are still kept", jobs)
	})
}

// A ticket of a closed limiter finished long after Close is logged even
// when the program drops the limiter and its ticket at once, before the
// Monitor collects the minute.
func TestAFinishAfterCloseIsLoggedWhenTheLimiterIsDroppedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, tk := closedWithATicket(t) // nothing but tk holds the limiter
		time.Sleep(90 * time.Second)
		tk.Done()
		tk = nil
		runtime.GC()
		time.Sleep(2 * time.Minute)
		issued, finished := stopAndCount(t, m, "a")
		assert.Equal(t, uint64(1), issued, "issued")
		assert.Equal(t, uint64(1), finished, "finished")
	})
}
