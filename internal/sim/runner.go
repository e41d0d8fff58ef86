package sim

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultDeadline is the virtual time after which a run is stopped and
// marked incomplete.
const DefaultDeadline = 2 * time.Hour

// Scenario is a workload: a backlog of requests, the workers that drain it,
// the provider they call and what the client is told about its limit.
type Scenario struct {
	Name string
	// Requests is the number of requests in the backlog.
	Requests int
	// Workers is the number of goroutines pulling from the backlog (at
	// least one).
	Workers int
	// ClientRPM is the limit the client is configured with, which need not
	// be the server's.
	ClientRPM int
	// ClientTPM is the token limit a token-aware client is configured
	// with; 0 means the client is not told about tokens.
	ClientTPM int
	// Server is the simulated provider.
	Server ServerConfig
	// Arrivals optionally gives, per request, the offset from the start at
	// which it enters the backlog; nil means all requests are there at 0.
	Arrivals []time.Duration
	// Models optionally names the models, assigned round robin.
	Models []string
	// TokensPerRequest optionally gives the tokens of request i; nil means 0.
	TokensPerRequest func(i int) int
	// Deadline overrides DefaultDeadline when positive.
	Deadline time.Duration
}

func (s Scenario) arrival(i int) time.Duration {
	if s.Arrivals == nil || i >= len(s.Arrivals) {
		return 0
	}
	return s.Arrivals[i]
}

func (s Scenario) request(i int) Request {
	r := Request{ID: i}
	if len(s.Models) > 0 {
		r.Model = s.Models[i%len(s.Models)]
	}
	if s.TokensPerRequest != nil {
		r.Tokens = s.TokensPerRequest(i)
	}
	return r
}

// order returns the request indices sorted by arrival, ties by index.
func (s Scenario) order() []int {
	idx := make([]int, s.Requests)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return int(s.arrival(a) - s.arrival(b))
	})
	return idx
}

// Record is what a run observed of one request. Times are offsets from the
// start of the run.
type Record struct {
	Request Request
	// Submit is when the request entered the backlog.
	Submit time.Duration
	// FirstStart is when its first attempt reached the server, LastStart
	// when its last one did (the successful one if Completed).
	FirstStart, LastStart time.Duration
	// Done is when the client's Do returned.
	Done        time.Duration
	Attempts    int
	RateLimited int // 429 responses seen
	Completed   bool
	Err         error // the final error when Do failed
}

// Wait is the time the request spent before the attempt that succeeded:
// queued in the backlog and in the client, and in failed attempts.
func (r Record) Wait() time.Duration { return r.LastStart - r.Submit }

// Run drains the scenario's backlog through a fresh client from c against a
// fresh server and reports what happened.
//
// Run uses the time package's clock and sleeps as long as the simulated
// traffic lasts, so it is meant to be called inside a synctest bubble
// (synctest.Test), where minutes of virtual traffic take milliseconds; it
// starts no goroutine that outlives it. Outside a bubble it runs in real
// time. Results are reproducible up to the order in which goroutines that
// act at the same virtual instant are scheduled.
func Run(s Scenario, c ClientFactory) Result {
	start := time.Now()
	srv := NewServer(s.Server)
	cl := c.New(s)
	deadline := s.Deadline
	if deadline <= 0 {
		deadline = DefaultDeadline
	}
	// The deadline cancels the context rather than being attached to it, so
	// that policies see it end instead of planning around it (x/time/rate
	// refuses up front a wait that would pass a context's deadline).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := time.AfterFunc(deadline, cancel)
	defer stop.Stop()

	order := s.order()
	recs := make([]Record, s.Requests)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(s.Workers, 1) {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(order) || ctx.Err() != nil {
					return
				}
				i := order[k]
				if sleepCtx(ctx, time.Until(start.Add(s.arrival(i)))) != nil {
					return
				}
				runOne(ctx, start, srv, cl, s.request(i), s.arrival(i), &recs[i])
			}
		})
	}
	wg.Wait()

	res := Result{
		Scenario:    s.Name,
		Client:      cl.Name(),
		Requests:    s.Requests,
		PhysicalMin: PhysicalMin(s),
		RateLimited: srv.RateLimitedCount(),
		Limit1s:     srv.Limit(time.Second),
		Limit60s:    srv.Limit(time.Minute),
		Records:     recs,
	}
	var waits []time.Duration
	for _, r := range recs {
		if r.RateLimited > 0 {
			res.RequestsSeeing429++
		}
		switch {
		case r.Completed:
			res.Completed++
			waits = append(waits, r.Wait())
			res.Completion = max(res.Completion, r.Done)
		case r.Err != nil:
			res.Failed++
			res.Completion = max(res.Completion, r.Done)
		}
	}
	if res.Completed+res.Failed < res.Requests {
		res.Incomplete = true
		res.Completion = deadline
	}
	if res.PhysicalMin > 0 {
		res.Ratio = float64(res.Completion) / float64(res.PhysicalMin)
	}
	accepted := srv.Accepted()
	res.Worst1s = WorstWindow(accepted, time.Second)
	res.Worst60s = WorstWindow(accepted, time.Minute)
	slices.Sort(waits)
	res.WaitP50 = percentile(waits, 0.50)
	res.WaitP99 = percentile(waits, 0.99)
	return res
}

func runOne(ctx context.Context, start time.Time, srv *Server, cl Client, req Request, submit time.Duration, rec *Record) {
	rec.Request = req
	rec.Submit = submit
	call := func(ctx context.Context) (http.Header, error) {
		now := time.Since(start)
		if rec.Attempts == 0 {
			rec.FirstStart = now
		}
		rec.LastStart = now
		rec.Attempts++
		h, err := srv.Respond(ctx, req)
		if _, ok := asRateLimited(err); ok {
			rec.RateLimited++
		}
		return h, err
	}
	err := cl.Do(ctx, req, call)
	rec.Done = time.Since(start)
	switch {
	case err == nil:
		rec.Completed = true
	case ctx.Err() == nil:
		rec.Err = err
	}
}

// percentile returns the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// PhysicalMin returns the least time a perfect client needs to complete the
// scenario against its server: a client that knows the server's buckets
// exactly and sends every request, in arrival order, at the first instant
// the server would admit it, then waits the median latency for the last
// answer.
//
// For a backlog of N requests at t=0 against a token bucket of capacity C
// refilling at r per second this is (N-C)/r + LatencyMedian. With arrivals
// it is the time of the last admission of that greedy schedule, which is
// max over i of (arrival_i + (requests from i on, less what the bucket holds
// then)/r), plus the median latency. The same schedule accounts for the
// token limit, FixedSecond windows and outages (the buckets keep refilling
// during an outage). Admitting as early as possible is optimal for these
// buckets, since waiting can only let refills overflow the capacity. The
// order is fixed, though: against a token limit counted in FixedSecond
// windows, a client that sent the same requests in another order could
// pack some seconds fuller and finish sooner.
func PhysicalMin(s Scenario) time.Duration {
	if s.Requests == 0 {
		return 0
	}
	rep := newReplica(s.Server)
	var t int64
	for _, i := range s.order() {
		t = rep.admit(max(t, int64(s.arrival(i))), s.request(i))
	}
	return time.Duration(t) + s.Server.LatencyMedian
}
