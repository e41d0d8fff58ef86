package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
)

const demoUsage = `Usage:
  llmiter demo [flags]

Demo starts a fake LLM provider on 127.0.0.1 that throttles like the real
ones (a token bucket of -rpm requests per minute, 429 with retry-after, a
latency of about 300 ms, and a 10 s penalty for a client that sends more
than 5 refused requests within a second), and sends it the same workload
through each client of -clients in turn, each time to a fresh server:

  naive         naive backoff: plain net/http; on 429, sleep 2^k s and try
                again, at most 6 attempts; no pacing.
  openai-go     the official openai-go client with its built-in retries
                (2 retries, honouring the server's retry-after).
  x-time-rate   golang.org/x/time/rate at -limiter-rpm/60 a second (burst
                1) before every attempt; on 429, sleep max(retry-after,
                2^k s), at most 10 attempts.
  python        a model of the original Python rateLLMiter's policy at
                -limiter-rpm (per-second buckets, a ramp from 25%, a 10 s
                probe after a 429).
  ratellmiter   an http.Client on ratellmiter.NewTransport with a limiter
                at -limiter-rpm.

naive and openai-go are stopped after -naive-timeout, the others after
max(-naive-timeout, 3 x minimum + 30 s).

It needs no API key and no network. It prints one progress line a second,
then a comparison table, and writes a chart of each run and the minute log
of the ratellmiter run.

Flags:
  -clients LIST      the clients to run, comma-separated, or all
                     (default naive,ratellmiter)
  -requests N        chat completions to send (default 300)
  -workers N         concurrent callers (default 30)
  -rpm N             requests per minute the server allows (default 1200)
  -limiter-rpm N     the setting of the paced clients (default: -rpm);
                     set it above -rpm, as when the documented limit is
                     not your account's, to see ratellmiter take the
                     server's real limit from its x-ratelimit-* headers
  -naive-timeout D   wall-clock cap of the naive and openai-go runs
                     (default 75s)
  -out DIR           folder for the charts and logs, created if needed
                     (default llmiter-demo)
  -quiet             no progress lines

The minimum time of a run is what the server's limit allows at best: the
server's bucket admits a burst of RPM/60 requests at once, then RPM/60 a
second, and the last answer takes one median latency to come back:

  minimum = max(0, requests - RPM/60) / (RPM/60) s + 300 ms

"429s at server" counts every 429 the server sent; "429s to caller" those
the code that made the call had to handle: all of them for the retry
loops written by hand (naive backoff, x/time/rate, the Python model), and
only those left after their own retries for ratellmiter's transport and
openai-go.

Exit status: 0 when every run was made and the charts written (whatever
the clients managed), 1 on any other error, 2 on a bad command line.
`

// Settings of the fake server and of the naive client.
const (
	demoLatency          = 300 * time.Millisecond
	demoPenaltyThreshold = 5
	demoPenaltyDuration  = 10 * time.Second
	naiveMaxAttempts     = 6
	demoModel            = "gpt-4o-mini"
	demoMaxTokens        = 16
	demoLimiterName      = "ratellmiter"
	demoMaxRequests      = 1_000_000
	demoMaxWorkers       = 10_000
	demoMaxRPM           = 6_000_000
)

func init() {
	subcommands["demo"] = demo
	subcommandSummaries["demo"] = "compare exponential backoff, other clients and ratellmiter on a local fake provider"
}

// demoOptions are the flags of demo.
type demoOptions struct {
	clients                []demoClient
	requests, workers, rpm int
	limiterRPM             int // the limiter's setting; rpm when -limiter-rpm is not given
	naiveTimeout           time.Duration
	out                    string
	quiet                  bool
}

func parseDemoFlags(args []string) (*demoOptions, error) {
	o := &demoOptions{}
	fs := flag.NewFlagSet("llmiter demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	clients := fs.String("clients", defaultDemoClients, "")
	fs.IntVar(&o.requests, "requests", 300, "")
	fs.IntVar(&o.workers, "workers", 30, "")
	fs.IntVar(&o.rpm, "rpm", 1200, "")
	fs.IntVar(&o.limiterRPM, "limiter-rpm", 0, "")
	fs.DurationVar(&o.naiveTimeout, "naive-timeout", 75*time.Second, "")
	fs.StringVar(&o.out, "out", "llmiter-demo", "")
	fs.BoolVar(&o.quiet, "quiet", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	limiterRPMSet := false
	fs.Visit(func(f *flag.Flag) { limiterRPMSet = limiterRPMSet || f.Name == "limiter-rpm" })
	switch {
	case o.requests < 1 || o.requests > demoMaxRequests:
		return nil, fmt.Errorf("-requests %d: must be 1 to %d", o.requests, demoMaxRequests)
	case o.workers < 1 || o.workers > demoMaxWorkers:
		return nil, fmt.Errorf("-workers %d: must be 1 to %d", o.workers, demoMaxWorkers)
	case o.rpm < 1 || o.rpm > demoMaxRPM:
		return nil, fmt.Errorf("-rpm %d: must be 1 to %d", o.rpm, demoMaxRPM)
	case limiterRPMSet && (o.limiterRPM < 1 || o.limiterRPM > demoMaxRPM):
		return nil, fmt.Errorf("-limiter-rpm %d: must be 1 to %d", o.limiterRPM, demoMaxRPM)
	case o.naiveTimeout <= 0:
		return nil, fmt.Errorf("-naive-timeout %v: must be positive", o.naiveTimeout)
	case o.out == "":
		return nil, errors.New("-out: empty folder name")
	}
	if o.limiterRPM == 0 {
		o.limiterRPM = o.rpm
	}
	var err error
	if o.clients, err = parseDemoClients(*clients); err != nil {
		return nil, err
	}
	return o, nil
}

// demo runs the demo subcommand and returns the exit status.
func demo(args []string, stdout, stderr io.Writer) int {
	o, err := parseDemoFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, demoUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "llmiter demo: %v (llmiter help demo)\n", err)
		return 2
	}
	if err := runDemoWith(o, stdout); err != nil {
		fmt.Fprintf(stderr, "llmiter demo: %v\n", err)
		return 1
	}
	return 0
}

// runDemoWith makes the runs, prints the table and writes the charts.
func runDemoWith(o *demoOptions, stdout io.Writer) error {
	if err := checkDemoOut(o); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	minimum := physicalMinimum(o.requests, o.rpm, demoLatency)
	fmt.Fprintf(stdout, "fake provider: %d RPM token bucket (burst %s, refill %s/s), latency ~%v, penalty %v after %d refusals within 1 s\n",
		o.rpm, fmtNum(bucketBurst(o.rpm)), fmtNum(float64(o.rpm)/60), demoLatency, demoPenaltyDuration, demoPenaltyThreshold)
	fmt.Fprintf(stdout, "workload: %d chat completions from %d workers; physical minimum %.1f s\n",
		o.requests, o.workers, minimum.Seconds())
	var paced []string
	for _, c := range o.clients {
		if c.paced {
			paced = append(paced, c.label)
		}
	}
	if len(paced) > 0 {
		fmt.Fprintf(stdout, "configured at %d RPM: %s\n", o.limiterRPM, strings.Join(paced, ", "))
	}

	pacedCap := max(o.naiveTimeout, 3*minimum+30*time.Second)
	var runs []*demoResult
	var paths []string
	for _, c := range o.clients {
		fmt.Fprintln(stdout)
		limit := o.naiveTimeout
		if c.paced {
			limit = pacedCap
		}
		res, err := demoRunOnce(o, c, limit, stdout)
		if err != nil {
			return err
		}
		runs = append(runs, res)
		paths = append(paths, filepath.Join(o.out, "demo-"+c.key+".png"))
	}

	fmt.Fprintln(stdout)
	printDemoTable(stdout, o, runs, minimum)

	if err := writeDemoCharts(o, runs, paths); err != nil {
		return fmt.Errorf("writing the charts: %w", err)
	}
	fmt.Fprintf(stdout, "\ncharts (requests per second: sent, accepted, 429s, finished):\n")
	for _, p := range paths {
		fmt.Fprintf(stdout, "  %s\n", p)
	}
	for _, r := range runs {
		if r.logPath != "" {
			fmt.Fprintf(stdout, "%s's minute log: %s\n  graph it with: llmiter -dir %s -name %s -lines rief\n",
				r.client, r.logPath, demoLogDir(o), demoLimiterName)
		}
	}
	return nil
}

// checkDemoOut creates the output folder, and the folder of the minute
// log when the ratellmiter client runs, and checks that files can be
// written in them, so that a folder the demo cannot write to is reported
// before the runs rather than after them.
func checkDemoOut(o *demoOptions) error {
	dirs := []string{o.out}
	if slices.ContainsFunc(o.clients, func(c demoClient) bool { return c.key == demoLimiterName }) {
		dirs = append(dirs, demoLogDir(o))
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		f, err := os.CreateTemp(dir, ".llmiter-demo-*")
		if err != nil {
			return fmt.Errorf("cannot write in %s: %w", dir, errors.Unwrap(err))
		}
		f.Close()
		if err := os.Remove(f.Name()); err != nil {
			return err
		}
	}
	return nil
}

// demoLogDir is the folder of the ratellmiter run's minute log.
func demoLogDir(o *demoOptions) string { return filepath.Join(o.out, "logs") }

// bucketBurst is how many requests the fake server's full bucket admits at
// once: RPM/60, at least one.
func bucketBurst(rpm int) float64 { return max(1, float64(rpm)/60) }

// physicalMinimum is the shortest time in which n requests can be answered
// by a server that allows rpm requests a minute: the bucket's initial burst
// goes at once, the rest at rpm/60 a second, and the last answer comes one
// latency later.
func physicalMinimum(n, rpm int, latency time.Duration) time.Duration {
	rest := max(0, float64(n)-bucketBurst(rpm))
	return time.Duration(rest/(float64(rpm)/60)*float64(time.Second)) + latency
}

// fmtNum prints a count that may have a fraction.
func fmtNum(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// demoResult is what one run did.
type demoResult struct {
	client    string
	total     int
	completed int
	stopped   bool          // the wall-clock cap ended the run
	wall      time.Duration // until the last request finished, or the cap
	server    fakeprovider.Stats
	client429 int64 // 429 answers the calling code saw
	busiest   int   // most requests accepted in any 1 s window
	seconds   []demoSecond
	limiter   *ratellmiter.Stats
	logPath   string
	startAt   time.Duration // when the run started, after the first second of seconds began
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

// demoRunOnce sends the workload through client c to a fresh fake server,
// stopping it after limit.
func demoRunOnce(o *demoOptions, c demoClient, limit time.Duration, stdout io.Writer) (*demoResult, error) {
	srv, baseURL, stop, err := fakeprovider.Start(fakeprovider.Config{
		RPM:              o.rpm,
		LatencyMedian:    demoLatency,
		PenaltyThreshold: demoPenaltyThreshold,
		PenaltyDuration:  demoPenaltyDuration,
		Seed:             1,
	})
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

	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()

	start := time.Now()
	res.startAt = start.Sub(counter.origin)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Go(func() {
			for i := range jobs {
				if call(ctx, i) == nil {
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
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.wall = time.Since(start)
	close(progressDone)
	<-progressStopped
	if ctx.Err() != nil && completed.Load() < int64(o.requests) {
		res.stopped, res.wall = true, limit
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
	if res.stopped {
		state = fmt.Sprintf("stopped at the %v cap", limit)
	}
	fmt.Fprintf(stdout, "%-17s %s: %d/%d completed in %.1f s\n", client, state, res.completed, res.total, res.wall.Seconds())
	return res, nil
}

// demoPrompt is the prompt of chat completion i.
func demoPrompt(i int) string { return fmt.Sprintf("Summarise document %d in one sentence.", i) }

// demoBody is the JSON body of chat completion i, in OpenAI's shape.
func demoBody(i int) []byte {
	return fmt.Appendf(nil, `{"model":%q,"messages":[{"role":"user","content":%q}],"max_tokens":%d}`,
		demoModel, demoPrompt(i), demoMaxTokens)
}

// demoPost sends one chat completion and returns the HTTP status and the
// response's headers.
func demoPost(ctx context.Context, hc *http.Client, url string, body []byte) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer demo")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, resp.Header, nil
}

// errGaveUp is the naive client's answer after its last attempt.
var errGaveUp = errors.New("still rate limited after the last attempt")

// naiveCall is the retry loop of countless tutorials: on 429, sleep 1, 2,
// 4, 8, 16 s and try again, with no pacing and no shared state between
// callers.
func naiveCall(ctx context.Context, hc *http.Client, url string, body []byte, seen429 *atomic.Int64) error {
	for attempt := range naiveMaxAttempts {
		status, _, err := demoPost(ctx, hc, url, body)
		switch {
		case err != nil:
			return err
		case status == http.StatusOK:
			return nil
		case status != http.StatusTooManyRequests:
			return fmt.Errorf("HTTP %d", status)
		}
		seen429.Add(1)
		if attempt == naiveMaxAttempts-1 {
			break
		}
		t := time.NewTimer(time.Duration(1<<attempt) * time.Second)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return errGaveUp
}

// printDemoTable prints the comparison of the runs.
func printDemoTable(w io.Writer, o *demoOptions, runs []*demoResult, minimum time.Duration) {
	header := []string{"client", "completed", "wall time", "vs minimum", "429s at server", "429s to caller", "most accepted in 1 s"}
	rows := [][]string{header}
	for _, r := range runs {
		ratio := fmt.Sprintf("%.2fx", r.wall.Seconds()/minimum.Seconds())
		wall := fmt.Sprintf("%.1f s", r.wall.Seconds())
		switch {
		case r.stopped:
			// An unfinished run would have taken longer still; a cap
			// below the minimum says nothing about it.
			ratio, wall = ">"+ratio, wall+" (cap)"
			if r.wall < minimum {
				ratio = "n/a"
			}
		case r.completed < r.total:
			// A run that gave up on requests did not do the workload
			// the minimum is for: its time compares with nothing.
			ratio = "n/a"
		}
		rows = append(rows, []string{
			r.client,
			fmt.Sprintf("%d/%d", r.completed, r.total),
			wall,
			ratio,
			fmt.Sprint(r.server.Rejected429),
			fmt.Sprint(r.client429),
			fmt.Sprint(r.busiest),
		})
	}
	widths := make([]int, len(header))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	for k, row := range rows {
		var b strings.Builder
		for i, c := range row {
			if i == 0 {
				fmt.Fprintf(&b, "%-*s", widths[i], c)
			} else {
				fmt.Fprintf(&b, "  %*s", widths[i], c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if k == 0 {
			fmt.Fprintln(w, strings.Repeat("-", b.Len()))
		}
	}
	fmt.Fprintf(w, "\nminimum = (requests - RPM/60) / (RPM/60) s + median latency = (%d - %s) / %s + %.1f = %.1f s\n",
		o.requests, fmtNum(bucketBurst(o.rpm)), fmtNum(float64(o.rpm)/60), demoLatency.Seconds(), minimum.Seconds())
	fmt.Fprintf(w, "the server's bucket allows at most %s requests in any 1 s window (a full bucket plus one second of refill)\n",
		fmtNum(bucketBurst(o.rpm)+float64(o.rpm)/60))
	for _, r := range runs {
		if s := r.limiter; s != nil {
			fmt.Fprintf(w, "%s limiter: %d requested, %d issued, %d rate limited, %d pauses (%.1f s paused), %d RPM at the end (configured %d)\n",
				r.client, s.Requested, s.Issued, s.RateLimited, s.Pauses, s.PausedTime.Seconds(), s.RPM, o.limiterRPM)
		}
	}
}

// The lines of a demo chart, in the colors graph uses for the matching
// limiter counts.
var demoLines = []struct {
	label string
	color color.Color
	value func(s demoSecond) int
}{
	{"sent (on the wire)", color.NRGBA{31, 119, 180, 110}, func(s demoSecond) int { return s.sent }},
	{"accepted by the server", color.RGBA{44, 160, 44, 255}, func(s demoSecond) int { return s.accepted }},
	{"429s", color.RGBA{214, 39, 40, 255}, func(s demoSecond) int { return s.refused }},
	{"finished", color.RGBA{148, 103, 189, 255}, func(s demoSecond) int { return s.finished }},
}

// writeDemoCharts draws one chart per run, on the same axes so that they
// can be compared at a glance.
func writeDemoCharts(o *demoOptions, runs []*demoResult, paths []string) error {
	n, ymax := 1, float64(o.rpm)/60
	for _, r := range runs {
		n = max(n, len(r.seconds), int(math.Ceil((r.startAt + r.wall).Seconds())))
		for _, s := range r.seconds {
			for _, l := range demoLines {
				ymax = max(ymax, float64(l.value(s)))
			}
		}
	}
	for i, r := range runs {
		p, leg := demoChart(o, r, n, ymax)
		if err := save(p, []*plot.Legend{leg}, 1200, 600, "png", paths[i]); err != nil {
			return fmt.Errorf("%s: %w", paths[i], err)
		}
	}
	return nil
}

// demoChart builds the chart of one run over n seconds, with the Y axis up
// to ymax.
func demoChart(o *demoOptions, r *demoResult, n int, ymax float64) (*plot.Plot, *plot.Legend) {
	state := fmt.Sprintf("all %d done in %.1f s", r.total, r.wall.Seconds())
	if r.stopped {
		state = fmt.Sprintf("%d/%d done when stopped at %.0f s", r.completed, r.total, r.wall.Seconds())
	} else if r.completed < r.total {
		state = fmt.Sprintf("%d/%d done in %.1f s", r.completed, r.total, r.wall.Seconds())
	}
	title := fmt.Sprintf("%s: %d requests, %d workers, server at %d RPM — %s", r.client, r.total, o.workers, o.rpm, state)
	p := newChart(title, "seconds, from the wall-clock second the run started in", n)
	p.Y.Max = ymax * 1.12

	leg := newLegend()

	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{200}
	grid.Horizontal.Color = color.Gray{200}
	p.Add(grid)

	// The fake server refills its bucket at RPM/60 requests a second.
	capv := float64(o.rpm) / 60
	capLine := mustLine(plotter.XYs{{X: 0, Y: capv}, {X: float64(n), Y: capv}})
	capLine.Color = color.RGBA{70, 70, 70, 255}
	capLine.Width = vg.Points(1.2)
	capLine.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
	p.Add(capLine)

	end := (r.startAt + r.wall).Seconds()
	endLine := mustLine(plotter.XYs{{X: end, Y: 0}, {X: end, Y: p.Y.Max}})
	endLine.Color = color.RGBA{120, 120, 120, 255}
	endLine.Width = vg.Points(1)
	endLine.Dashes = []vg.Length{vg.Points(2), vg.Points(3)}
	p.Add(endLine)

	for k, l := range demoLines {
		xys := make(plotter.XYs, len(r.seconds))
		for j, s := range r.seconds {
			xys[j] = plotter.XY{X: float64(j) + 0.5, Y: float64(l.value(s))}
		}
		line := mustLine(xys)
		line.Width = vg.Points(1.4)
		if k == 0 {
			// Wide and pale, so that it shows around the lines it shares
			// values with.
			line.Width = vg.Points(4)
		}
		line.Color = l.color
		p.Add(line)
		leg.Add(l.label, line)
	}
	leg.Add(fmt.Sprintf("server limit %s/s (%d RPM)", fmtNum(capv), o.rpm), capLine)
	endLabel := fmt.Sprintf("last call finished, %.1f s", r.wall.Seconds())
	if r.stopped {
		endLabel = fmt.Sprintf("stopped at the %.0f s cap", r.wall.Seconds())
	}
	leg.Add(endLabel, endLine)
	return p, leg
}
