package metrics

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
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

	ch := make(chan prometheus.Metric)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Collect(ch)
	}()
	<-ch // the scrape has read the limiters, and sends the first one's metrics
	l := newLimiter(t, m, c, "reused", 600)
	tk, err = l.Acquire(context.Background())
	require.NoError(t, err)
	tk.Done()
	for draining := true; draining; {
		select {
		case <-ch:
		case <-done:
			draining = false
		}
	}

	waits := waitCounts(t, c)
	assert.Equal(t, map[string]uint64{"reused": 2}, waits, "waits per limiter")
}
