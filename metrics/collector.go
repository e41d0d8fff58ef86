package metrics

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ratellmiter/ratellmiter"
)

const (
	namespace    = "ratellmiter"
	labelLimiter = "limiter"
)

// Collector is a prometheus.Collector of the limiters of one Monitor, and
// the ratellmiter.Observer of their waits. Create it with NewCollector. It
// is safe for concurrent use.
type Collector struct {
	m     *ratellmiter.Monitor
	descs descs
	wait  *prometheus.HistogramVec

	// Limiters that share a label are added up. When one of them closes,
	// its counts stay in the sum, as they were at the last scrape, so the
	// label's counters never go down (which Prometheus would read as a
	// reset). They are dropped once no limiter has the label.
	mu      sync.Mutex
	last    map[*ratellmiter.BucketRateLimiter]ratellmiter.Stats
	retired map[string]ratellmiter.Stats

	// waited holds the labels the wait histogram has a series of, each
	// with the number of the scrapes begun when it last had a wait, so
	// that a scrape can drop those no limiter has any more, but not
	// those with a wait since it began: a limiter created after it read
	// the Monitor's limiters may have the label. dropping is held for
	// reading by ObserveWait, which updates a series and its mark
	// together, and for writing by a scrape while it drops them.
	waited   sync.Map // string -> uint64
	scrapes  atomic.Uint64
	dropping sync.RWMutex
}

var (
	_ prometheus.Collector = (*Collector)(nil)
	_ ratellmiter.Observer = (*Collector)(nil)
)

// NewCollector returns a Collector of m's limiters (DefaultMonitor's when
// m is nil). It panics on an invalid option, a mistake in the program
// rather than at run time, as prometheus.MustRegister does.
//
// The wait histogram is fed only by limiters of m that have the Collector
// as their Observer: give it with ratellmiter.WithObserver to each of
// them (m, made before the Collector, cannot take it as its own
// Observer). The histogram is kept by limiter name alone: the waits of a
// limiter of another Monitor are dropped at each scrape, before they are
// sent, unless a limiter of m has the same name ("default", say, the name
// of the first unnamed limiter of every Monitor), whose histogram then
// counts them too. Give the Collector to the limiters of m only.
func NewCollector(m *ratellmiter.Monitor, opts ...Option) *Collector {
	cfg := config{buckets: DefaultWaitBuckets}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			panic(err)
		}
	}
	if m == nil {
		m = ratellmiter.DefaultMonitor()
	}
	return &Collector{
		m:       m,
		descs:   newDescs(cfg.labels),
		last:    map[*ratellmiter.BucketRateLimiter]ratellmiter.Stats{},
		retired: map[string]ratellmiter.Stats{},
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace:   namespace,
			Name:        "wait_seconds",
			Help:        "Time from asking for a ticket to its issue, rate-limited retries included.",
			Buckets:     cfg.buckets,
			ConstLabels: cfg.labels,
		}, []string{labelLimiter}),
	}
}

// ObserveWait adds a ticket's wait to the histogram of its limiter.
func (c *Collector) ObserveWait(limiter string, wait time.Duration, retry bool) {
	label := labelOf(limiter)
	c.dropping.RLock()
	defer c.dropping.RUnlock()
	c.wait.WithLabelValues(label).Observe(wait.Seconds())
	mark(&c.waited, label, c.scrapes.Load())
}

// mark marks label in waited with n, unless it has a later mark.
func mark(waited *sync.Map, label string, n uint64) {
	for {
		v, ok := waited.Load(label)
		switch {
		case ok && v.(uint64) >= n:
			return
		case !ok:
			if _, loaded := waited.LoadOrStore(label, n); !loaded {
				return
			}
		case waited.CompareAndSwap(label, v, n):
			return
		}
	}
}

// labelOf returns the value of the limiter label for a limiter's name:
// the name, with any bytes that are not UTF-8, which Prometheus refuses
// in a label value, replaced by U+FFFD.
func labelOf(name string) string { return strings.ToValidUTF8(name, "\uFFFD") }

// Describe sends the descriptions of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs.all() {
		ch <- d
	}
	c.wait.Describe(ch)
}

// Collect reads the Stats of every limiter of the Monitor and sends them,
// with the wait histogram. Like the counters, the histogram of a label is
// dropped once no limiter of the Monitor has it.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	// Only the labels without a wait since the scrape began may be
	// dropped: one with a wait since may be that of a limiter created
	// after the limiters were read, a new name or that of one closed
	// before, whose waits would be lost.
	n := c.scrapes.Add(1)
	stats := c.byName()
	live := make(map[string]bool, len(stats))
	for _, s := range stats {
		c.descs.collect(ch, s)
		live[s.Name] = true
	}
	c.dropping.Lock()
	c.waited.Range(func(k, v any) bool {
		if label := k.(string); v.(uint64) < n && !live[label] {
			c.waited.Delete(label)
			c.wait.DeleteLabelValues(label)
		}
		return true
	})
	c.dropping.Unlock()
	c.wait.Collect(ch)
}

// byName returns the Stats of the limiters, named by their label, those
// that share a label added up into one, with the counts of the closed
// limiters that had the label. It reads the Monitor's limiters under the
// lock: a scrape that read them before another one ran would otherwise
// take a limiter that one retired for a new one, and count it twice.
func (c *Collector) byName() []ratellmiter.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	ls := c.m.Limiters()
	var out []ratellmiter.Stats
	index := map[string]int{}
	live := make(map[*ratellmiter.BucketRateLimiter]bool, len(ls))
	for _, l := range ls {
		s := l.Stats()
		s.Name = labelOf(s.Name)
		if prev, ok := c.last[l]; ok {
			s = atLeast(s, prev)
		}
		live[l] = true
		c.last[l] = s
		i, ok := index[s.Name]
		if !ok {
			index[s.Name] = len(out)
			out = append(out, s)
			continue
		}
		out[i] = add(out[i], s)
	}
	for l, s := range c.last {
		if !live[l] {
			c.retired[s.Name] = addCounts(c.retired[s.Name], s)
			delete(c.last, l)
		}
	}
	for name, r := range c.retired {
		i, ok := index[name]
		if !ok {
			delete(c.retired, name)
			continue
		}
		out[i] = addCounts(out[i], r)
	}
	return out
}

// atLeast returns s with each count no lower than in prev, an earlier
// Stats of the same limiter. A ticket issued as its waiter gave up goes
// back unused and Stats stops counting it issued; a scrape in between saw
// it, and a counter must not go down.
func atLeast(s, prev ratellmiter.Stats) ratellmiter.Stats {
	s.Requested = max(s.Requested, prev.Requested)
	s.Issued = max(s.Issued, prev.Issued)
	s.Finished = max(s.Finished, prev.Finished)
	s.Cancelled = max(s.Cancelled, prev.Cancelled)
	s.RateLimited = max(s.RateLimited, prev.RateLimited)
	s.Overflow = max(s.Overflow, prev.Overflow)
	s.Pauses = max(s.Pauses, prev.Pauses)
	s.PausedTime = max(s.PausedTime, prev.PausedTime)
	return s
}

// addCounts returns a with b's counts (the counters, not the gauges) added.
func addCounts(a, b ratellmiter.Stats) ratellmiter.Stats {
	a.Requested += b.Requested
	a.Issued += b.Issued
	a.Finished += b.Finished
	a.Cancelled += b.Cancelled
	a.RateLimited += b.RateLimited
	a.Overflow += b.Overflow
	a.Pauses += b.Pauses
	a.PausedTime += b.PausedTime
	return a
}

// add returns the sum of two limiters' Stats: counts and limits add up,
// a limiter is paused if either is, and the server's budgets are the
// latest reported.
func add(a, b ratellmiter.Stats) ratellmiter.Stats {
	a = addCounts(a, b)
	a.Waiting += b.Waiting
	a.Retrying += b.Retrying
	a.InFlight += b.InFlight
	a.Paused = a.Paused || b.Paused
	a.RPM += b.RPM
	a.ConfiguredRPM += b.ConfiguredRPM
	a.LearnedRPM += b.LearnedRPM
	a.SharedRPM += b.SharedRPM
	if b.Server.Seen.After(a.Server.Seen) {
		a.Server = b.Server
	}
	return a
}
