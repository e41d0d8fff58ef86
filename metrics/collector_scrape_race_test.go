package metrics

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limiter created while a scrape is under way, after the scrape read
// the Monitor's limiters, is not seen by that scrape; the waits it
// observed in the meantime must not be dropped with the series of the
// names that are gone: its histogram would lose them for good.
func TestCollectorKeepsTheWaitsOfALimiterCreatedDuringAScrape(t *testing.T) {
	m := newMonitor(t)
	c := NewCollector(m)
	newLimiter(t, m, c, "old", 600)

	duringScrape(c, func() {
		l := newLimiter(t, m, c, "new", 600)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
	})

	waits := waitCounts(t, c)
	assert.Equal(t, map[string]uint64{"new": 1}, waits, "waits per limiter")
}

// duringScrape runs f while a scrape of c is under way: after it has read
// the Monitor's limiters and while it sends their metrics.
func duringScrape(c *Collector, f func()) {
	ch := make(chan prometheus.Metric)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Collect(ch)
	}()
	<-ch // the scrape has read the limiters, and sends the first one's metrics
	f()
	for draining := true; draining; {
		select {
		case <-ch:
		case <-done:
			draining = false
		}
	}
}
