// Command gemini sends a burst of generateContent calls through Google's
// official Go SDK, google.golang.org/genai, with a ratellmiter.Transport
// underneath, and reports what the limiter did.
//
// By default it starts a fake Gemini endpoint on 127.0.0.1 that allows
// 1200 requests per minute as a token bucket (20 at once), and configures
// the limiter at twice that, as when the documented limit is not your
// project's. Gemini sends no rate-limit headers: the limiter learns the
// real limit from the 429 RESOURCE_EXHAUSTED answers, whose
// google.rpc.RetryInfo says how long to pause. The transport retries the
// refused calls, so that every call succeeds and no 429 reaches the SDK.
// With GEMINI_API_KEY set it calls the real API instead (a few calls only,
// unless -n says otherwise).
//
//	cd examples/gemini && go run .
//	GEMINI_API_KEY=... go run . -rpm 10 -n 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"google.golang.org/genai"

	"github.com/ratellmiter/ratellmiter"
)

// Defaults on the fake endpoint and on the real API.
const (
	fakeRPM   = 1200 // the fake's limit
	fakeBurst = 20   // requests the fake's bucket holds: a second's worth
)

func main() {
	n := flag.Int("n", 0, "number of generateContent calls (default 120 on the fake endpoint, 3 on the real API)")
	workers := flag.Int("c", 10, "concurrent callers")
	rpm := flag.Int("rpm", 0, "limiter requests per minute (default 2400 on the fake endpoint, 10 on the real API)")
	model := flag.String("model", "gemini-2.5-flash", "model to call")
	flag.Parse()
	if *workers < 1 {
		fmt.Fprintf(os.Stderr, "-c %d: at least one caller is needed\n", *workers)
		flag.Usage()
		os.Exit(2)
	}
	_, err := run(config{n: *n, workers: *workers, rpm: *rpm, model: *model, key: os.Getenv("GEMINI_API_KEY"), out: os.Stdout})
	if err != nil {
		log.Fatal(err)
	}
}

// config says what run does.
type config struct {
	n, workers, rpm int
	model           string
	// key is a Gemini API key: run then calls the real API. Without
	// one it calls fake, starting its own when fake is nil.
	key  string
	fake *fakeGemini
	// base is the RoundTripper under the limiter's transport;
	// http.DefaultTransport when nil.
	base http.RoundTripper
	out  io.Writer
}

// summary is what run saw.
type summary struct {
	calls     int     // calls made, the streamed one included
	failed    []error // the errors the calls returned
	caller429 int     // of those, 429s that reached the caller
	chunks    int     // chunks of the streamed call
	elapsed   time.Duration
	stats     ratellmiter.Stats
	server    fakeStats // what the fake endpoint saw; zero on the real API
}

func run(cfg config) (summary, error) {
	var sum summary
	if cfg.out == nil {
		cfg.out = io.Discard
	}
	cfg.workers = max(cfg.workers, 1)
	httpOpts := genai.HTTPOptions{}
	fake := cfg.fake
	if cfg.key == "" {
		if fake == nil {
			fake = newFakeGemini(fakeRPM, fakeBurst, nil)
			fake.start()
			defer fake.close()
		}
		httpOpts.BaseURL = fake.srv.URL
		fmt.Fprintf(cfg.out, "fake Gemini endpoint at %s allowing %d RPM\n", httpOpts.BaseURL, int(fake.rpm))
		cfg.key = "fake"
		cfg.n, cfg.rpm = orDefault(cfg.n, 120), orDefault(cfg.rpm, 2*int(fake.rpm))
	} else {
		fake = nil
		fmt.Fprintln(cfg.out, "calling the Gemini API")
		cfg.n, cfg.rpm = orDefault(cfg.n, 3), orDefault(cfg.rpm, 10)
	}

	mon := ratellmiter.NewMonitor()
	defer mon.Stop()
	limiter, err := ratellmiter.NewBucketRateLimiter(cfg.rpm, ratellmiter.WithMonitor(mon), ratellmiter.WithName(cfg.model))
	if err != nil {
		return sum, err
	}
	tr, err := ratellmiter.NewTransport(cfg.base, ratellmiter.WithLimiter(limiter))
	if err != nil {
		return sum, err
	}
	defer tr.CloseIdleConnections()
	ctx := context.Background()
	// The SDK retries only when HTTPOptions.RetryOptions is set: it is
	// left nil, so that the transport's retries are not multiplied by the
	// SDK's.
	client, err := genai.NewClient(ctx, &genai.ClientConfig{
		APIKey:      cfg.key,
		Backend:     genai.BackendGeminiAPI,
		HTTPClient:  tr.Client(),
		HTTPOptions: httpOpts,
	})
	if err != nil {
		return sum, err
	}
	fmt.Fprintf(cfg.out, "limiter at %d RPM, %d calls from %d goroutines\n", cfg.rpm, cfg.n, cfg.workers)

	prompt := genai.Text("Say hello in five words.")
	gc := &genai.GenerateContentConfig{MaxOutputTokens: 20}
	start := time.Now()
	jobs := make(chan int)
	var (
		mu   sync.Mutex
		last string
		wg   sync.WaitGroup
	)
	for range cfg.workers {
		wg.Go(func() {
			for range jobs {
				res, err := client.Models.GenerateContent(ctx, cfg.model, prompt, gc)
				mu.Lock()
				if err != nil {
					sum.failed = append(sum.failed, err)
				} else {
					last = res.Text()
				}
				mu.Unlock()
			}
		})
	}
	for i := range cfg.n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	// One streamed call: its ticket is held until the stream is over.
	for _, err := range client.Models.GenerateContentStream(ctx, cfg.model, prompt, gc) {
		if err != nil {
			sum.failed = append(sum.failed, err)
			break
		}
		sum.chunks++
	}
	sum.elapsed = time.Since(start)
	sum.calls = cfg.n + 1
	for _, err := range sum.failed {
		var apiErr genai.APIError
		if errors.As(err, &apiErr) && apiErr.Code == http.StatusTooManyRequests {
			sum.caller429++
		}
	}
	sum.stats = limiter.Stats()
	if fake != nil {
		sum.server = fake.Stats()
	}

	st := sum.stats
	fmt.Fprintf(cfg.out, "%d calls + 1 stream (%d chunks) in %v: %d failed, %d of them with a 429\n",
		cfg.n, sum.chunks, sum.elapsed.Round(time.Millisecond), len(sum.failed), sum.caller429)
	for _, err := range sum.failed {
		fmt.Fprintln(cfg.out, "  error:", err)
	}
	fmt.Fprintf(cfg.out, "429s absorbed by the transport: %d (limiter paused %d times, %v in all)\n",
		st.RateLimited, st.Pauses, st.PausedTime.Round(time.Millisecond))
	learned := "nothing learned"
	if st.LearnedRPM > 0 {
		learned = fmt.Sprintf("learned %d RPM", st.LearnedRPM)
	}
	fmt.Fprintf(cfg.out, "limiter now at %d RPM (configured %d, %s); tickets: %d requested, %d issued, %d finished\n",
		st.RPM, st.ConfiguredRPM, learned, st.Requested, st.Issued, st.Finished)
	if fake != nil {
		fs := sum.server
		fmt.Fprintf(cfg.out, "server: %d requests, %d accepted, %d refused with 429 RESOURCE_EXHAUSTED\n",
			fs.Requests, fs.Accepted, fs.Rejected429)
	}
	if last != "" {
		fmt.Fprintf(cfg.out, "last reply: %q\n", last)
	}
	if len(sum.failed) > 0 {
		return sum, fmt.Errorf("%d calls failed", len(sum.failed))
	}
	return sum, nil
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
