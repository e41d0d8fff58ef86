package metrics

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ratellmiter/ratellmiter"
)

// newMonitor returns a Monitor that stops when the test ends.
func newMonitor(t *testing.T) *ratellmiter.Monitor {
	t.Helper()
	m := ratellmiter.NewMonitor()
	t.Cleanup(func() { m.Stop() })
	return m
}

// newLimiter returns a limiter of m observed by c.
func newLimiter(t *testing.T, m *ratellmiter.Monitor, c *Collector, name string, rpm int, opts ...ratellmiter.Option) *ratellmiter.BucketRateLimiter {
	t.Helper()
	opts = append([]ratellmiter.Option{ratellmiter.WithMonitor(m), ratellmiter.WithName(name), ratellmiter.WithObserver(c)}, opts...)
	l, err := ratellmiter.NewBucketRateLimiter(rpm, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// compare fails unless the collector's metrics of the given names are
// exactly want, in the text exposition format.
func compare(t *testing.T, c prometheus.Collector, want string, names ...string) {
	t.Helper()
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestCollectorReportsTicketsAndPauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMonitor(t)
		c := NewCollector(m)
		l := newLimiter(t, m, c, "gpt", 60, ratellmiter.WithRampUp(1, 1)) // one a second
		ctx := context.Background()

		first, _ := l.Acquire(ctx) // at once
		first.Done()
		second, _ := l.Acquire(ctx) // at 1 s, after waiting 1 s
		third, _ := l.Acquire(ctx)  // at 2 s, after waiting 1 s
		second.Done()
		retried := make(chan error, 1)
		go func() { retried <- third.RateLimited(ctx, 5*time.Second) }()
		synctest.Wait()

		compare(t, c, `
# HELP ratellmiter_tickets_requested_total Tickets asked for.
# TYPE ratellmiter_tickets_requested_total counter
ratellmiter_tickets_requested_total{limiter="gpt"} 3
# HELP ratellmiter_tickets_finished_total Tickets finished: the call is over.
# TYPE ratellmiter_tickets_finished_total counter
ratellmiter_tickets_finished_total{limiter="gpt"} 2
# HELP ratellmiter_rate_limited_total Rate-limit errors reported by calls.
# TYPE ratellmiter_rate_limited_total counter
ratellmiter_rate_limited_total{limiter="gpt"} 1
# HELP ratellmiter_waiting Tickets waiting to be issued.
# TYPE ratellmiter_waiting gauge
ratellmiter_waiting{limiter="gpt"} 1
# HELP ratellmiter_retrying Rate-limited tickets waiting to be issued again.
# TYPE ratellmiter_retrying gauge
ratellmiter_retrying{limiter="gpt"} 1
# HELP ratellmiter_in_flight Tickets issued and not finished.
# TYPE ratellmiter_in_flight gauge
ratellmiter_in_flight{limiter="gpt"} 0
# HELP ratellmiter_paused 1 while the limiter is paused after a rate limit, else 0.
# TYPE ratellmiter_paused gauge
ratellmiter_paused{limiter="gpt"} 1
# HELP ratellmiter_pauses_total Pauses after a rate limit.
# TYPE ratellmiter_pauses_total counter
ratellmiter_pauses_total{limiter="gpt"} 1
# HELP ratellmiter_rpm Requests per minute the limiter works at now.
# TYPE ratellmiter_rpm gauge
ratellmiter_rpm{limiter="gpt"} 60
# HELP ratellmiter_configured_rpm Requests per minute the limiter is configured with: at its creation, or by SetRPM.
# TYPE ratellmiter_configured_rpm gauge
ratellmiter_configured_rpm{limiter="gpt"} 60
`, "ratellmiter_tickets_requested_total", "ratellmiter_tickets_finished_total", "ratellmiter_rate_limited_total",
			"ratellmiter_waiting", "ratellmiter_retrying", "ratellmiter_in_flight", "ratellmiter_paused",
			"ratellmiter_pauses_total", "ratellmiter_rpm", "ratellmiter_configured_rpm", "ratellmiter_learned_rpm",
			"ratellmiter_server_remaining_requests")

		time.Sleep(3 * time.Second)
		if got := testutil.ToFloat64(onlyMetric(c, "ratellmiter_paused_seconds_total")); got != 3 {
			t.Errorf("paused seconds = %v, want 3", got)
		}

		if err := <-retried; err != nil { // the retry waits 5 s and goes out as the canary
			t.Fatal(err)
		}
		third.Done()
		compare(t, c, `
# HELP ratellmiter_wait_seconds Time from asking for a ticket to its issue, rate-limited retries included.
# TYPE ratellmiter_wait_seconds histogram
ratellmiter_wait_seconds_bucket{limiter="gpt",le="0.001"} 1
ratellmiter_wait_seconds_bucket{limiter="gpt",le="0.0025"} 1
ratellmiter_wait_seconds_bucket{limiter="gpt",le="0.005"} 1
ratellmiter_wait_seconds_bucket{limiter="gpt",le="0.01"} 1
ratellmiter_wait_seconds_bucket{limiter="gpt",le="0.025"} 1
ratellmiter_wait_seconds_bucket{limiter="gpt",le="0.05"} 1
ratellmiter_wait_seconds_bucket{limiter="gpt",le="0.1"} 1
ratellmiter_wait_seconds_bucket{limiter="gpt",le="0.25"} 1
ratellmiter_wait_seconds_bucket{limiter="gpt",le="0.5"} 1
ratellmiter_wait_seconds_bucket{limiter="gpt",le="1"} 3
ratellmiter_wait_seconds_bucket{limiter="gpt",le="2.5"} 3
ratellmiter_wait_seconds_bucket{limiter="gpt",le="5"} 4
ratellmiter_wait_seconds_bucket{limiter="gpt",le="10"} 4
ratellmiter_wait_seconds_bucket{limiter="gpt",le="30"} 4
ratellmiter_wait_seconds_bucket{limiter="gpt",le="60"} 4
ratellmiter_wait_seconds_bucket{limiter="gpt",le="+Inf"} 4
ratellmiter_wait_seconds_sum{limiter="gpt"} 7
ratellmiter_wait_seconds_count{limiter="gpt"} 4
`, "ratellmiter_wait_seconds")
	})
}

// onlyMetric returns a collector of c's metric called name alone, for
// testutil.ToFloat64.
func onlyMetric(c prometheus.Collector, name string) prometheus.Collector {
	return filtered{c, name}
}

type filtered struct {
	c    prometheus.Collector
	name string
}

func (f filtered) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(f, ch) }
func (f filtered) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() { f.c.Collect(all); close(all) }()
	for m := range all {
		if strings.Contains(m.Desc().String(), `"`+f.name+`"`) {
			ch <- m
		}
	}
}

func TestCollectorReportsServerBudgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMonitor(t)
		c := NewCollector(m)
		l := newLimiter(t, m, c, "gpt", 600)
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			h := http.Header{}
			h.Set("x-ratelimit-limit-requests", "500")
			h.Set("x-ratelimit-remaining-requests", "499")
			h.Set("x-ratelimit-reset-requests", "120ms")
			h.Set("x-ratelimit-limit-tokens", "30000")
			h.Set("x-ratelimit-remaining-tokens", "29000")
			h.Set("x-ratelimit-reset-tokens", "2s")
			return &http.Response{StatusCode: http.StatusOK, Header: h, Body: http.NoBody, Request: r}, nil
		})
		tr, err := ratellmiter.NewTransport(base, ratellmiter.WithLimiter(l))
		if err != nil {
			t.Fatal(err)
		}
		compare(t, c, "", "ratellmiter_server_remaining_requests", "ratellmiter_server_remaining_tokens")
		resp, err := tr.Client().Get("http://api.invalid/v1/models")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		compare(t, c, `
# HELP ratellmiter_server_remaining_requests Requests the server said remain in its window; absent until it says.
# TYPE ratellmiter_server_remaining_requests gauge
ratellmiter_server_remaining_requests{limiter="gpt"} 499
# HELP ratellmiter_server_remaining_tokens Tokens the server said remain in its window; absent until it says.
# TYPE ratellmiter_server_remaining_tokens gauge
ratellmiter_server_remaining_tokens{limiter="gpt"} 29000
# HELP ratellmiter_rpm Requests per minute the limiter works at now.
# TYPE ratellmiter_rpm gauge
ratellmiter_rpm{limiter="gpt"} 500
`, "ratellmiter_server_remaining_requests", "ratellmiter_server_remaining_tokens", "ratellmiter_rpm")
	})
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCollectorAddsUpLimitersSharingAName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMonitor(t)
		c := NewCollector(m)
		for range 2 {
			l := newLimiter(t, m, c, "shared", 300)
			tk, _ := l.Acquire(context.Background())
			tk.Done()
		}
		other := newLimiter(t, m, c, "other", 60)
		tk, _ := other.Acquire(context.Background())
		tk.Done()
		compare(t, c, `
# HELP ratellmiter_tickets_issued_total Times a ticket was issued, re-issues after rate limits included.
# TYPE ratellmiter_tickets_issued_total counter
ratellmiter_tickets_issued_total{limiter="other"} 1
ratellmiter_tickets_issued_total{limiter="shared"} 2
# HELP ratellmiter_configured_rpm Requests per minute the limiter is configured with: at its creation, or by SetRPM.
# TYPE ratellmiter_configured_rpm gauge
ratellmiter_configured_rpm{limiter="other"} 60
ratellmiter_configured_rpm{limiter="shared"} 600
`, "ratellmiter_tickets_issued_total", "ratellmiter_configured_rpm")
	})
}

func TestCollectorPassesTheLinter(t *testing.T) {
	m := newMonitor(t)
	c := NewCollector(m, WithConstLabels(prometheus.Labels{"app": "test"}))
	l := newLimiter(t, m, c, "gpt", 600)
	tk, _ := l.Acquire(context.Background())
	tk.Done()
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	// A pedantic registry checks that Collect matches Describe.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if _, err := reg.Gather(); err != nil {
		t.Error(err)
	}
}

func TestCollectorRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
	}{
		{"no buckets", WithWaitBuckets()},
		{"decreasing buckets", WithWaitBuckets(1, 0.5)},
		{"repeated bucket", WithWaitBuckets(1, 1)},
		// Accepted alone, NaN made a histogram whose one bucket counted
		// no wait, not even a wait of zero.
		{"NaN bucket", WithWaitBuckets(math.NaN())},
		{"NaN bucket after others", WithWaitBuckets(1, 2, math.NaN())},
		{"limiter as a constant label", WithConstLabels(prometheus.Labels{"limiter": "x"})},
		// Accepted, "le" made the first ticket's ObserveWait panic in the
		// caller's goroutine; the others failed only at registration.
		{"le as a constant label", WithConstLabels(prometheus.Labels{"le": "x"})},
		{"reserved constant label", WithConstLabels(prometheus.Labels{"__job": "x"})},
		{"empty constant label name", WithConstLabels(prometheus.Labels{"": "x"})},
		{"constant label value not UTF-8", WithConstLabels(prometheus.Labels{"job": "a\xff"})},
	}
	m := newMonitor(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewCollector accepted the option")
				}
			}()
			NewCollector(m, tc.opt)
		})
	}
}

// TestScrapeOverHTTP scrapes a promhttp handler on 127.0.0.1, as
// Prometheus would.
func TestScrapeOverHTTP(t *testing.T) {
	m := newMonitor(t)
	c := NewCollector(m)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server at %s, want loopback", srv.URL)
	}
	l := newLimiter(t, m, c, "claude", 6000)
	for range 3 {
		tk, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		tk.Done()
	}
	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s, %v", resp.Status, err)
	}
	for _, want := range []string{
		`ratellmiter_tickets_issued_total{limiter="claude"} 3`,
		`ratellmiter_tickets_finished_total{limiter="claude"} 3`,
		`ratellmiter_paused{limiter="claude"} 0`,
		`ratellmiter_wait_seconds_count{limiter="claude"} 3`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q:\n%s", want, body)
		}
	}
}

// The counters of a label shared by several limiters never go down when one
// of them closes: Prometheus would take the drop for a reset and see a
// burst of increase. Once no limiter has the label, its counts start anew.
func TestCollectorCountersOfASharedNameSurviveAClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMonitor(t)
		c := NewCollector(m)
		issue := func(l *ratellmiter.BucketRateLimiter, n int) {
			for range n {
				tk, err := l.Acquire(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				tk.Done()
			}
		}
		issued := func(v int) string {
			return fmt.Sprintf(`
# HELP ratellmiter_tickets_issued_total Times a ticket was issued, re-issues after rate limits included.
# TYPE ratellmiter_tickets_issued_total counter
ratellmiter_tickets_issued_total{limiter="shared"} %d
`, v)
		}
		a := newLimiter(t, m, c, "shared", 600)
		b := newLimiter(t, m, c, "shared", 600)
		issue(a, 1)
		issue(b, 2)
		compare(t, c, issued(3), "ratellmiter_tickets_issued_total")
		b.Close()
		compare(t, c, issued(3), "ratellmiter_tickets_issued_total")
		issue(a, 1)
		compare(t, c, issued(4), "ratellmiter_tickets_issued_total")

		a.Close()
		compare(t, c, "", "ratellmiter_tickets_issued_total")
		issue(newLimiter(t, m, c, "shared", 600), 1)
		compare(t, c, issued(1), "ratellmiter_tickets_issued_total")
	})
}

// The wait histogram keeps a series only for the labels of live limiters,
// as the counters do: a program that makes limiters of passing names does
// not grow it for ever.
func TestCollectorDropsTheWaitsOfAGoneName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMonitor(t)
		c := NewCollector(m)
		keep := newLimiter(t, m, c, "keep", 600)
		for i := range 50 {
			l := newLimiter(t, m, c, fmt.Sprintf("passing-%d", i), 600)
			for _, l := range []*ratellmiter.BucketRateLimiter{keep, l} {
				tk, err := l.Acquire(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				tk.Done()
			}
			if i%10 == 0 {
				if n := testutil.CollectAndCount(c, "ratellmiter_wait_seconds"); n != 2 {
					t.Fatalf("after limiter %d: %d wait series, want 2 (keep and the open one)", i, n)
				}
			}
			l.Close()
		}
		if n := testutil.CollectAndCount(c, "ratellmiter_wait_seconds"); n != 1 {
			t.Fatalf("%d wait series, want 1 (keep)", n)
		}
		if got := waitCounts(t, c); !reflect.DeepEqual(got, map[string]uint64{"keep": 50}) {
			t.Errorf("waits per limiter: %v, want keep's 50", got)
		}
	})
}

// The wait histogram is kept by name: the waits of a limiter of another
// Monitor are dropped unless a limiter of the Collector's Monitor has the
// same name, whose histogram then counts them.
func TestCollectorKeepsTheWaitsOfAnotherMonitorOnlyUnderANameOfItsOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, other := newMonitor(t), newMonitor(t)
		c := NewCollector(m)
		mine := newLimiter(t, m, c, "default", 600)
		alike := newLimiter(t, other, c, "default", 600)
		apart := newLimiter(t, other, c, "apart", 600)
		for _, l := range []*ratellmiter.BucketRateLimiter{mine, alike, alike, apart} {
			tk, err := l.Acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			tk.Done()
		}
		if got := waitCounts(t, c); !reflect.DeepEqual(got, map[string]uint64{"default": 3}) {
			t.Errorf("waits per limiter: %v, want the default histogram's 3 (one of m's limiter, two of the other Monitor's)", got)
		}
	})
}

// waitCounts gathers c through a pedantic registry, which checks that
// Collect matches Describe, and returns how many waits the histogram of
// each limiter label counts.
func waitCounts(t *testing.T, c prometheus.Collector) map[string]uint64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	waits := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != "ratellmiter_wait_seconds" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			waits[metric.GetLabel()[0].GetValue()] = metric.GetHistogram().GetSampleCount()
		}
	}
	return waits
}

// A limiter that a shared quota holds below its own limit (another
// limiter sharing it has a lower one) shows the rate it is held to; one
// that nothing holds below its own shows none.
func TestCollectorReportsTheRateASharedQuotaHoldsALimiterTo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMonitor(t)
		c := NewCollector(m)
		store := ratellmiter.NewMemoryStore()
		share := func(id string) ratellmiter.Option {
			return ratellmiter.WithStore(store, "quota", ratellmiter.WithProcessID(id))
		}
		newLimiter(t, m, c, "hi", 600, share("hi"))
		newLimiter(t, m, c, "lo", 300, share("lo"))
		time.Sleep(2 * time.Second) // both have synced
		compare(t, c, `
# HELP ratellmiter_shared_rpm Requests per minute a shared quota holds the limiter to, below its own; absent otherwise.
# TYPE ratellmiter_shared_rpm gauge
ratellmiter_shared_rpm{limiter="hi"} 300
`, "ratellmiter_shared_rpm")
	})
}
