package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Close leaves the tickets already issued to be finished: their finishes
// are logged like any other, in the minute they happen, whether that
// minute is over before the Monitor stops or is the one Stop writes.
func TestTicketsFinishedAfterCloseAreLogged(t *testing.T) {
	for _, c := range []struct {
		name     string
		finishIn time.Duration // after Close
	}{
		{"in the minute of Close", 5 * time.Second},
		{"in a later minute", 90 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := NewMonitor(WithLogDir(t.TempDir()))
				l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
				require.NoError(t, err)
				var tks []*Ticket
				for range 3 {
					tk, err := l.Acquire(context.Background())
					require.NoError(t, err)
					tks = append(tks, tk)
				}
				time.Sleep(time.Second)
				require.NoError(t, l.Close())
				time.Sleep(c.finishIn)
				for _, tk := range tks {
					tk.Done()
				}
				time.Sleep(3 * time.Minute)
				issued, finished := stopAndCount(t, m, "a")
				assert.Equal(t, uint64(3), issued, "issued")
				assert.Equal(t, l.Stats().Finished, finished, "finished, as Stats counts them")
			})
		})
	}
}

// A ticket of a closed limiter finished in a minute that is not over when
// the Monitor stops is written by Stop, as the minute in progress of a
// limiter still open is.
func TestStopWritesTheFinishesOfAClosedLimitersTickets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, tk := closedWithATicket(t)
		time.Sleep(2 * time.Second)
		tk.Done()
		issued, finished := stopAndCount(t, m, "a")
		assert.Equal(t, uint64(1), issued, "issued")
		assert.Equal(t, uint64(1), finished, "finished")
	})
}

// closedWithATicket returns a Monitor that writes logs and a ticket of
// its limiter "a", issued and not finished, which is closed since.
func closedWithATicket(t *testing.T) (*Monitor, *Ticket) {
	t.Helper()
	m := NewMonitor(WithLogDir(t.TempDir()))
	l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
	require.NoError(t, err)
	tk, err := l.Acquire(context.Background())
	require.NoError(t, err)
	require.NoError(t, l.Close())
	return m, tk
}

// stopAndCount stops m and returns the tickets its log shows the limiter
// name issued and finished.
func stopAndCount(t *testing.T, m *Monitor, name string) (issued, finished uint64) {
	t.Helper()
	require.NoError(t, m.Stop())
	lf, err := ReadLog(m.LogPath())
	require.NoError(t, err)
	s := lf.Series(name)
	return logSum(s.Issued), logSum(s.Finished)
}
