// Command bedrock sends a burst of Messages calls to Anthropic's models on
// Amazon Bedrock through anthropic-sdk-go's bedrock package, with a
// ratellmiter.Transport underneath, and reports what the limiter did.
//
// It starts a fake Bedrock runtime endpoint over TLS on 127.0.0.1 that
// allows 1200 requests per minute as a token bucket (20 at once), and
// signs its requests with static fake AWS credentials, so it needs no
// account. The limiter is configured at twice the endpoint's limit, as
// when the documented quota is not your account's. Bedrock sends no
// rate-limit headers, and its 429 ThrottlingException no Retry-After: the
// limiter learns the real limit from the 429s, and the transport retries
// the refused calls, so that every call succeeds and no 429 reaches the
// SDK. The model is in Bedrock's URL path, not in the body: the transport
// reads it there to take the model's limiter. The last call is streamed:
// Bedrock sends it as an AWS event stream, whose usage corrects the
// call's token charge.
//
//	cd examples/bedrock && go run .
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
	"github.com/anthropics/anthropic-sdk-go/bedrock"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ratellmiter/ratellmiter"
)

// The fake endpoint's limit.
const (
	fakeRPM   = 1200
	fakeBurst = 20 // a second's worth
)

// defaultModel is a cross-region inference profile, as most accounts call
// Claude through.
const defaultModel = "us.anthropic.claude-sonnet-4-20250514-v1:0"

func main() {
	n := flag.Int("n", 120, "number of Messages calls")
	workers := flag.Int("c", 10, "concurrent callers")
	rpm := flag.Int("rpm", 2*fakeRPM, "limiter requests per minute")
	model := flag.String("model", defaultModel, "Bedrock model id to call")
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
	fake *fakeBedrock
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
	text      string  // the streamed call's text
	elapsed   time.Duration
	stats     ratellmiter.Stats
	server    fakeStats
}

// fakeCredentials are static AWS credentials: the fake endpoint checks
// only that requests are signed.
var fakeCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", Source: "example"}, nil
})

// newClient returns an Anthropic client for Amazon Bedrock at baseURL
// that sends through rt, with the SDK's own retries off.
func newClient(baseURL string, rt http.RoundTripper) anthropic.Client {
	return anthropic.NewClient(append(clientOptions(baseURL, rt), option.WithMaxRetries(0))...)
}

// clientOptions are the options of a client for Amazon Bedrock at baseURL
// that sends through rt, signing with fakeCredentials.
func clientOptions(baseURL string, rt http.RoundTripper) []option.RequestOption {
	return []option.RequestOption{
		bedrock.WithConfig(aws.Config{Region: "us-east-1", Credentials: fakeCredentials}),
		option.WithBaseURL(baseURL),
		option.WithHTTPClient(&http.Client{Transport: rt}),
	}
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
		fake = newFakeBedrock(fakeRPM, fakeBurst, nil)
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
	svc := ratellmiter.NewService("bedrock", nil)
	defer func() { _ = svc.Close() }()
	l, err := svc.NewLimiter(cfg.model, cfg.rpm, ratellmiter.WithMonitor(mon),
		ratellmiter.WithOutputTokensPerMinute(400_000), ratellmiter.WithMaxInFlight(cfg.workers))
	if err != nil {
		return sum, err
	}
	tr, err := ratellmiter.NewTransport(base, ratellmiter.WithServiceLimiters(svc))
	if err != nil {
		return sum, err
	}
	client := newClient(fake.srv.URL, tr)

	ctx := context.Background()
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
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range max(cfg.workers, 1) {
		wg.Go(func() {
			for range jobs {
				if _, err := client.Messages.New(ctx, message(cfg.model)); err != nil {
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

	stream := client.Messages.NewStreaming(ctx, message(cfg.model))
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
	_, _ = fmt.Fprintf(cfg.out, "%d calls to %s in %v: %d failed (%d with a 429)\n",
		sum.calls, cfg.model, sum.elapsed.Round(time.Millisecond), len(sum.failed), sum.caller429)
	_, _ = fmt.Fprintf(cfg.out, "endpoint: %d requests, %d accepted, %d refused with 429 ThrottlingException\n",
		fs.Requests, fs.Accepted, fs.Rejected429)
	_, _ = fmt.Fprintf(cfg.out, "limiter: configured %d RPM, learned %d, %d pauses, %d rate-limited tickets retried\n",
		st.ConfiguredRPM, st.LearnedRPM, st.Pauses, st.RateLimited)
	_, _ = fmt.Fprintf(cfg.out, "streamed answer: %q\n", sum.text)
	return sum, nil
}
