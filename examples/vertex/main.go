// Command vertex sends a burst of Messages calls to Anthropic's models on
// Google Vertex AI through anthropic-sdk-go's vertex package, with a
// ratellmiter.Transport underneath, and reports what the limiter did.
//
// It starts a fake Vertex AI endpoint over TLS on 127.0.0.1 that allows
// 1200 requests per minute as a token bucket (20 at once), and authorizes
// its requests with a static fake OAuth token, so it needs no project.
// The limiter is configured at twice the endpoint's limit, as when the
// documented quota is not your project's. Vertex AI sends no rate-limit
// headers, and its 429 RESOURCE_EXHAUSTED no retry delay: the limiter
// learns the real limit from the 429s, and the transport retries the
// refused calls, so that every call succeeds and no 429 reaches the SDK.
// The model is in Vertex AI's URL path (.../models/{model}:rawPredict),
// not in the body: the transport reads it there to take the model's
// limiter. Before the calls it counts the prompt's tokens, which takes a
// ticket but no tokens; the last call is streamed.
//
//	cd examples/vertex && go run .
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

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/anthropics/anthropic-sdk-go/vertex"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/ratellmiter/ratellmiter"
)

// The fake endpoint's limit.
const (
	fakeRPM   = 1200
	fakeBurst = 20 // a second's worth
)

const defaultModel = "claude-sonnet-4@20250514"

func main() {
	n := flag.Int("n", 120, "number of Messages calls")
	workers := flag.Int("c", 10, "concurrent callers")
	rpm := flag.Int("rpm", 2*fakeRPM, "limiter requests per minute")
	model := flag.String("model", defaultModel, "Vertex AI model to call")
	flag.Parse()
	if _, err := run(config{n: *n, workers: *workers, rpm: *rpm, model: *model, out: os.Stdout}); err != nil {
		log.Fatal(err)
	}
}

// config says what run does.
type config struct {
	n, workers, rpm int
	model           string
	// fake is the endpoint to call; run starts its own when nil.
	fake *fakeVertex
	// base is the RoundTripper under the limiter's transport; one that
	// trusts fake's certificate when nil.
	base http.RoundTripper
	out  io.Writer
}

// summary is what run saw.
type summary struct {
	calls     int     // calls made, the streamed one included
	failed    []error // the errors the calls returned
	caller429 int     // of those, 429s that reached the caller
	counted   int64   // the tokens the count reported
	text      string  // the streamed call's text
	elapsed   time.Duration
	stats     ratellmiter.Stats
	server    fakeStats
}

// newClient returns an Anthropic client for Vertex AI at baseURL that
// sends through rt, authorized with a static fake OAuth token, with the
// SDK's own retries off. The HTTP client is given before the vertex
// option, which then puts its OAuth transport on top of rt.
func newClient(ctx context.Context, baseURL string, rt http.RoundTripper) anthropic.Client {
	creds := &google.Credentials{
		ProjectID:   "my-project",
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "fake-token", TokenType: "Bearer"}),
	}
	return anthropic.NewClient(
		option.WithHTTPClient(&http.Client{Transport: rt}),
		vertex.WithCredentials(ctx, "us-east5", creds.ProjectID, creds),
		option.WithBaseURL(baseURL),
		option.WithMaxRetries(0),
	)
}

// message is the call each caller makes.
func message(model string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: 256,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello in three words."))},
	}
}

func run(cfg config) (summary, error) {
	var sum summary
	fake := cfg.fake
	if fake == nil {
		fake = newFakeVertex(fakeRPM, fakeBurst, nil)
		fake.start()
		defer fake.close()
	}
	base := cfg.base
	if base == nil {
		tr := fake.srv.Client().Transport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		base = tr
	}

	mon := ratellmiter.NewMonitor()
	defer func() { _ = mon.Stop() }()
	svc := ratellmiter.NewService("vertex", nil)
	defer func() { _ = svc.Close() }()
	l, err := svc.NewLimiter(cfg.model, cfg.rpm, ratellmiter.WithMonitor(mon),
		ratellmiter.WithInputTokensPerMinute(400_000), ratellmiter.WithMaxInFlight(cfg.workers))
	if err != nil {
		return sum, err
	}
	tr, err := ratellmiter.NewTransport(base, ratellmiter.WithServiceLimiters(svc))
	if err != nil {
		return sum, err
	}
	ctx := context.Background()
	client := newClient(ctx, fake.srv.URL, tr)

	start := time.Now()
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		sum.failed = append(sum.failed, err)
		var apiErr *anthropic.Error
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests {
			sum.caller429++
		}
	}
	p := message(cfg.model)
	count, err := client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: p.Model, Messages: p.Messages})
	if err != nil {
		fail(err)
	} else {
		sum.counted = count.InputTokens
	}
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range max(cfg.workers, 1) {
		wg.Go(func() {
			for range jobs {
				if _, err := client.Messages.New(ctx, p); err != nil {
					fail(err)
				}
			}
		})
	}
	for range cfg.n {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()

	stream := client.Messages.NewStreaming(ctx, p)
	for stream.Next() {
		if d, ok := stream.Current().AsAny().(anthropic.ContentBlockDeltaEvent); ok {
			sum.text += d.Delta.Text
		}
	}
	if err := stream.Err(); err != nil {
		fail(err)
	}
	_ = stream.Close()

	sum.calls = cfg.n + 1
	sum.elapsed = time.Since(start)
	sum.stats = l.Stats()
	sum.server = fake.Stats()
	st, fs := sum.stats, sum.server
	_, _ = fmt.Fprintf(cfg.out, "counted %d input tokens; %d calls to %s in %v: %d failed (%d with a 429)\n",
		sum.counted, sum.calls, cfg.model, sum.elapsed.Round(time.Millisecond), len(sum.failed), sum.caller429)
	_, _ = fmt.Fprintf(cfg.out, "endpoint: %d predictions, %d accepted, %d refused with 429 RESOURCE_EXHAUSTED\n",
		fs.Requests, fs.Accepted, fs.Rejected429)
	_, _ = fmt.Fprintf(cfg.out, "limiter: configured %d RPM, learned %d, %d pauses, %d rate-limited tickets retried\n",
		st.ConfiguredRPM, st.LearnedRPM, st.Pauses, st.RateLimited)
	_, _ = fmt.Fprintf(cfg.out, "streamed answer: %q\n", sum.text)
	return sum, nil
}
