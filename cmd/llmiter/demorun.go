package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
)

// demoResult is what one run did.
type demoResult struct {
	client      string
	total       int
	completed   int
	stopped     bool          // the wall-clock cap ended the run
	interrupted bool          // an interrupt ended the run before it was done
	wall        time.Duration // until the last request finished, or the cap
	server      fakeprovider.Stats
	client429   int64 // 429 answers the calling code saw
	busiest     int   // most requests accepted in any 1 s window
	seconds     []demoSecond
	limiter     *ratellmiter.Stats
	logPath     string
	startAt     time.Duration // when the run started, after the first second of seconds began
}

// demoSecond counts one second of a run.
type demoSecond struct {
	sent, accepted, refused, finished int
}

// secondCounter counts client events per second since an origin.
type secondCounter struct {
	origin time.Time
	mu     sync.Mutex
	sent   []int
	done   []int
}

func (c *secondCounter) add(counts *[]int, t time.Time) {
	i := int(t.Sub(c.origin) / time.Second)
	if i < 0 {
		i = 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(*counts) <= i {
		*counts = append(*counts, 0)
	}
	(*counts)[i]++
}

// countingTransport counts every request that goes on the wire.
type countingTransport struct {
	base http.RoundTripper
	c    *secondCounter
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.c.add(&t.c.sent, time.Now())
	return t.base.RoundTrip(r)
}

// demoServerConfig is the configuration of the demo's fake server at rpm.
func demoServerConfig(rpm int) fakeprovider.Config {
	return fakeprovider.Config{
		RPM:              rpm,
		LatencyMedian:    demoLatency,
		PenaltyThreshold: demoPenaltyThreshold,
		PenaltyDuration:  demoPenaltyDuration,
		Seed:             1,
	}
}

// demoRunOnce sends the workload through client c to a fresh fake server,
// stopping it after limit, or when ctx ends.
func demoRunOnce(ctx context.Context, o *demoOptions, c demoClient, limit time.Duration, stdout io.Writer) (*demoResult, error) {
	srv, baseURL, stop, err := fakeprovider.Start(demoServerConfig(o.rpm))
	if err != nil {
		return nil, err
	}
	defer stop()

	counter := &secondCounter{origin: srv.PerSecond()[0].Start}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = o.workers
	defer base.CloseIdleConnections()

	client := c.label
	res := &demoResult{client: client, total: o.requests}
	var completed, client429 atomic.Int64
	call, finish, err := c.start(&demoRun{
		o:       o,
		url:     baseURL + "/v1/chat/completions",
		baseURL: baseURL,
		rt:      &countingTransport{base: base, c: counter},
		seen429: &client429,
	})
	if err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	start := time.Now()
	res.startAt = start.Sub(counter.origin)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Go(func() {
			for i := range jobs {
				if call(runCtx, i) == nil {
					completed.Add(1)
					counter.add(&counter.done, time.Now())
				}
			}
		})
	}
	progressDone := make(chan struct{})
	progressStopped := make(chan struct{})
	go func() {
		defer close(progressStopped)
		if o.quiet {
			<-progressDone
			return
		}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-tick.C:
				fmt.Fprintf(stdout, "%-17s %4.0fs  done %*d/%d  429s so far %d\n", client,
					time.Since(start).Seconds(), len(fmt.Sprint(o.requests)), completed.Load(), o.requests, srv.Stats().Rejected429)
			}
		}
	}()
feed:
	for i := range o.requests {
		select {
		case jobs <- i:
		case <-runCtx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.wall = time.Since(start)
	close(progressDone)
	<-progressStopped
	if runCtx.Err() != nil && completed.Load() < int64(o.requests) {
		if ctx.Err() != nil {
			res.interrupted = true
		} else {
			res.stopped, res.wall = true, limit
		}
	}

	if finish != nil {
		if err := finish(res); err != nil {
			return nil, err
		}
	}
	res.completed = int(completed.Load())
	res.client429 = client429.Load()
	res.server = srv.Stats()
	res.busiest = srv.MaxInWindow(time.Second)
	per := srv.PerSecond()
	counter.mu.Lock()
	n := max(len(per), len(counter.sent), len(counter.done))
	res.seconds = make([]demoSecond, n)
	for i := range n {
		s := &res.seconds[i]
		if i < len(per) {
			s.accepted, s.refused = per[i].Accepted, per[i].Rejected
		}
		if i < len(counter.sent) {
			s.sent = counter.sent[i]
		}
		if i < len(counter.done) {
			s.finished = counter.done[i]
		}
	}
	counter.mu.Unlock()
	// Drop the empty seconds at the end.
	for len(res.seconds) > 1 && res.seconds[len(res.seconds)-1] == (demoSecond{}) {
		res.seconds = res.seconds[:len(res.seconds)-1]
	}
	state := "finished"
	switch {
	case res.stopped:
		state = fmt.Sprintf("stopped at the %v cap", limit)
	case res.interrupted:
		state = "interrupted"
	}
	fmt.Fprintf(stdout, "%-17s %s: %d/%d completed in %.1f s\n", client, state, res.completed, res.total, res.wall.Seconds())
	return res, nil
}
