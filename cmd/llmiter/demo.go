package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/shell"
)

const demoUsage = `Usage:
  llmiter demo [flags]

Demo starts a fake LLM provider on 127.0.0.1 that throttles like the real
ones (a token bucket of -rpm requests per minute, 429 with retry-after, a
latency of about 300 ms, and a 10 s penalty from 7 refusals within a
second, each less than a second after the one before), and sends it the
same workload through each client of -clients in turn, each time to a
fresh server:

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

An interrupt (Ctrl-C) or a SIGTERM (timeout, docker stop) stops the run
under way and skips the rest: the table of the runs made, their charts
and the minute log are written all the same, and the demo exits with
status 130 (interrupt) or 143 (SIGTERM). A second signal ends it at once.

Exit status: 0 when every run was made and the charts written (whatever
the clients managed), 130 or 143 when stopped by a signal, 1 on any other
error, 2 on a bad command line.
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

// demoPenaltyRefusals is how many refusals within a second start the fake
// server's penalty: it tolerates a first one and then demoPenaltyThreshold
// more, each within a second of the one before.
const demoPenaltyRefusals = demoPenaltyThreshold + 2

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
	ctx, caught, stop := stopOnSignal()
	defer stop()
	err = runDemoWith(ctx, o, stdout)
	switch {
	case errors.Is(err, errDemoInterrupted):
		fmt.Fprintf(stderr, "llmiter demo: %v\n", err)
		if <-caught == syscall.SIGTERM {
			return 128 + int(syscall.SIGTERM)
		}
		return 130
	case err != nil:
		fmt.Fprintf(stderr, "llmiter demo: %v\n", err)
		return 1
	}
	return 0
}

// stopOnSignal returns a context that ends at the first interrupt or
// SIGTERM, and a channel that then holds that signal. Once the first is
// taken, the signals are let go, so that a second one ends the program
// at once. stop lets them go in any case.
func stopOnSignal() (ctx context.Context, caught <-chan os.Signal, stop func()) {
	sigs := make(chan os.Signal, 1)
	first := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			first <- sig
		case <-done:
		}
		signal.Stop(sigs)
		cancel()
	}()
	var once sync.Once
	return ctx, first, func() { once.Do(func() { close(done) }) }
}

// errDemoInterrupted is the error of runDemoWith when its context ends
// before every run was made.
var errDemoInterrupted = errors.New("interrupted")

// runDemoWith makes the runs, prints the table and writes the charts.
// When ctx ends, the run under way stops and no other is made; the table
// and the charts of the runs made are written, and the error is
// errDemoInterrupted.
func runDemoWith(ctx context.Context, o *demoOptions, stdout io.Writer) error {
	if err := checkDemoOut(o); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	minimum := physicalMinimum(o.requests, o.rpm, demoLatency)
	fmt.Fprintln(stdout, demoServerLine(o.rpm))
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
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintln(stdout)
		limit := o.naiveTimeout
		if c.paced {
			limit = pacedCap
		}
		res, err := demoRunOnce(ctx, o, c, limit, stdout)
		if err != nil {
			return err
		}
		runs = append(runs, res)
		paths = append(paths, demoChartPath(o, c))
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
			fmt.Fprintf(stdout, "%s's minute log: %s\n  graph it with: llmiter -file %s -name %s -lines rief\n",
				r.client, r.logPath, shell.Word(r.logPath), demoLimiterName)
		}
	}
	if len(runs) < len(o.clients) || slices.ContainsFunc(runs, func(r *demoResult) bool { return r.interrupted }) {
		return errDemoInterrupted
	}
	return nil
}

// demoServerLine describes the demo's fake server at rpm.
func demoServerLine(rpm int) string {
	return fmt.Sprintf("fake provider: %d RPM token bucket (burst %s, refill %s/s), latency ~%v, penalty %v from %d refusals within 1 s",
		rpm, fmtNum(bucketBurst(rpm)), fmtNum(float64(rpm)/60), demoLatency, demoPenaltyDuration, demoPenaltyRefusals)
}

// checkDemoOut creates the output folder, and the folder of the minute
// log when the ratellmiter client runs, and checks that files can be
// written in them and that no folder has a chart's name, so that an
// output the demo cannot write is reported before the runs rather than
// after them.
func checkDemoOut(o *demoOptions) error {
	for _, c := range o.clients {
		path := demoChartPath(o, c)
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			return fmt.Errorf("%s: %w", path, errChartIsFolder)
		}
	}
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

// demoChartPath is the file of the chart of client c's run.
func demoChartPath(o *demoOptions, c demoClient) string {
	return filepath.Join(o.out, "demo-"+c.key+".png")
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
