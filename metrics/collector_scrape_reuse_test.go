package metrics

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limiter that takes the name of one closed just before a scrape, and
// is created while that scrape is under way, after it read the Monitor's
// limiters, keeps the waits it observed meanwhile. The scrape found no
// limiter of the name and dropped its histogram, the new limiter's wait
// with it: the name's histogram then counted none of the new limiter's
// waits. It now keeps the histogram, with the closed limiter's wait.
func TestCollectorKeepsTheWaitsOfALimiterTakingAGoneNameDuringAScrape(t *testing.T) {
	m := newMonitor(t)
	c := NewCollector(m)
	newLimiter(t, m, c, "other", 600)
	gone := newLimiter(t, m, c, "reused", 600)
	tk, err := gone.Acquire(context.Background())
	require.NoError(t, err)
	tk.Done()
	gone.Close()

	duringScrape(c, func() {
		l := newLimiter(t, m, c, "reused", 600)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
	})

	waits := waitCounts(t, c)
	assert.Equal(t, map[string]uint64{"reused": 2}, waits, "waits per limiter")
}
