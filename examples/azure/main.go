// Command azure sends a burst of chat completions to Azure OpenAI through
// the official OpenAI Go SDK's azure package (azure.WithEndpoint,
// azure.WithAPIKey), with a ratellmiter.Transport underneath routing each
// call to the limiter of its deployment, and reports what the limiters
// did.
//
// By default it starts a fake Azure OpenAI endpoint on 127.0.0.1, over
// TLS, with two deployments, and paces each at the requests and tokens
// per minute of its quota. Like Azure, the endpoint counts the requests
// per minute over 10-second windows, sends x-ratelimit-remaining-requests
// and x-ratelimit-remaining-tokens without a reset, and refuses a request
// over a limit with 429, Retry-After and retry-after-ms; the transport
// absorbs those, so that no 429 reaches the SDK. With
// AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY set it calls that
// resource instead (a few calls to one deployment, unless -n and
// -deployment say otherwise).
//
//	cd examples/azure && go run .
//	AZURE_OPENAI_ENDPOINT=https://NAME.openai.azure.com AZURE_OPENAI_API_KEY=... go run . -deployment gpt-4o-mini -rpm 10 -n 3
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
	"slices"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"

	"github.com/ratellmiter/ratellmiter"
)

// The fake endpoint's deployments and their quotas.
const (
	mini, big             = "gpt-4o-mini", "gpt-4o"
	miniRPM, miniTPM      = 600, 100_000
	bigRPM, bigTPM        = 120, 20_000
	defaultCalls, maxTok  = 120, 50
	realCalls, realRPM    = 3, 10
	defaultWorkers        = 10
	defaultRealDeployment = mini
)

func main() {
	n := flag.Int("n", 0, "number of chat completions (default 120 on the fake endpoint, 3 on Azure)")
	workers := flag.Int("c", defaultWorkers, "concurrent callers")
	rpm := flag.Int("rpm", realRPM, "requests per minute of -deployment's limiter on Azure")
	dep := flag.String("deployment", defaultRealDeployment, "deployment to call on Azure")
	flag.Parse()
	_, err := run(config{
		n: *n, workers: *workers, rpm: *rpm, deployment: *dep,
		endpoint: os.Getenv("AZURE_OPENAI_ENDPOINT"), key: os.Getenv("AZURE_OPENAI_API_KEY"),
		out: os.Stdout,
	})
	if err != nil {
		log.Fatal(err)
	}
}

// config says what run does.
type config struct {
	n, workers int
	// rpm and deployment are the limiter and the deployment on Azure.
	rpm        int
	deployment string
	// endpoint and key are an Azure OpenAI resource's: run then calls
	// it. Without them it calls fake, starting its own when fake is nil.
	endpoint, key string
	fake          *fakeAzure
	// base is the RoundTripper under the limiters' transport; on the
	// fake endpoint, one trusting its certificate when nil.
	base http.RoundTripper
	out  io.Writer
}

// summary is what run saw.
type summary struct {
	calls     int                    // calls made, the streamed one included
	failed    []error                // the errors the calls returned
	caller429 int                    // of those, 429s that reached the caller
	chunks    int                    // events of the streamed call that carried text
	usage     openai.CompletionUsage // the streamed call's usage
	elapsed   time.Duration
	stats     map[string]ratellmiter.Stats // per deployment
	server    fakeStats                    // what the fake endpoint saw; zero on Azure
}

func run(cfg config) (summary, error) {
	sum := summary{stats: map[string]ratellmiter.Stats{}}
	if cfg.out == nil {
		cfg.out = io.Discard
	}
	cfg.workers = max(cfg.workers, 1)
	fake := cfg.fake
	quotas := map[string][2]int{mini: {miniRPM, miniTPM}, big: {bigRPM, bigTPM}}
	if cfg.endpoint == "" || cfg.key == "" {
		if fake == nil {
			fake = newFakeAzure(nil, quotas)
			fake.start()
			defer fake.close()
		}
		if cfg.base == nil {
			base := fake.srv.Client().Transport.(*http.Transport).Clone()
			defer base.CloseIdleConnections()
			cfg.base = base
		}
		cfg.endpoint, cfg.key = fake.srv.URL, "fake"
		cfg.n = orDefault(cfg.n, defaultCalls)
		fmt.Fprintf(cfg.out, "fake Azure OpenAI endpoint at %s allowing %s\n", cfg.endpoint, fake.quotas())
	} else {
		fake = nil
		quotas = map[string][2]int{cfg.deployment: {orDefault(cfg.rpm, realRPM), 0}}
		cfg.n = orDefault(cfg.n, realCalls)
		fmt.Fprintf(cfg.out, "calling Azure OpenAI at %s\n", cfg.endpoint)
	}

	// One limiter per deployment, at its quota: the transport routes each
	// call by the model the SDK writes in its body, which on Azure is the
	// deployment's name.
	mon := ratellmiter.NewMonitor()
	defer mon.Stop()
	svc := ratellmiter.NewService("azure-openai", nil)
	defer svc.Close()
	deployments := make([]string, 0, len(quotas))
	limiters := map[string]*ratellmiter.BucketRateLimiter{}
	for name, q := range quotas {
		opts := []ratellmiter.Option{ratellmiter.WithMonitor(mon)}
		if q[1] > 0 {
			opts = append(opts, ratellmiter.WithTokensPerMinute(q[1]))
		}
		l, err := svc.NewLimiter(name, q[0], opts...)
		if err != nil {
			return sum, err
		}
		limiters[name] = l
		deployments = append(deployments, name)
	}
	slices.Sort(deployments)
	tr, err := ratellmiter.NewTransport(cfg.base, ratellmiter.WithServiceLimiters(svc))
	if err != nil {
		return sum, err
	}
	defer tr.CloseIdleConnections()
	client := openai.NewClient(
		azure.WithEndpoint(cfg.endpoint, apiVersion),
		azure.WithAPIKey(cfg.key),
		option.WithHTTPClient(tr.Client()),
		option.WithMaxRetries(0), // the transport retries; the SDK must not as well
	)
	fmt.Fprintf(cfg.out, "%d calls from %d goroutines over %v\n", cfg.n, cfg.workers, deployments)

	ctx := context.Background()
	params := func(dep string) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{
			Model:     dep,
			Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello in five words.")},
			MaxTokens: openai.Int(maxTok),
		}
	}
	start := time.Now()
	jobs := make(chan string)
	var (
		mu   sync.Mutex
		last string
		wg   sync.WaitGroup
	)
	for range cfg.workers {
		wg.Go(func() {
			for dep := range jobs {
				res, err := client.Chat.Completions.New(ctx, params(dep))
				mu.Lock()
				if err != nil {
					sum.failed = append(sum.failed, err)
				} else if len(res.Choices) > 0 {
					last = res.Choices[0].Message.Content
				}
				mu.Unlock()
			}
		})
	}
	for i := range cfg.n {
		jobs <- deployments[i%len(deployments)]
	}
	close(jobs)
	wg.Wait()

	// One streamed call, its usage in its last event: its ticket is held
	// until the stream is over, and its token charge corrected then.
	p := params(deployments[0])
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, p)
	for stream.Next() {
		ev := stream.Current()
		if len(ev.Choices) > 0 && ev.Choices[0].Delta.Content != "" {
			sum.chunks++
		}
		if ev.Usage.TotalTokens > 0 {
			sum.usage = ev.Usage
		}
	}
	if err := stream.Err(); err != nil {
		sum.failed = append(sum.failed, err)
	}
	_ = stream.Close()
	sum.elapsed = time.Since(start)
	sum.calls = cfg.n + 1
	for _, err := range sum.failed {
		var apiErr *openai.Error
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests {
			sum.caller429++
		}
	}
	if fake != nil {
		sum.server = fake.Stats()
	}

	fmt.Fprintf(cfg.out, "%d calls + 1 stream (%d chunks, %d tokens) in %v: %d failed, %d of them with a 429\n",
		cfg.n, sum.chunks, sum.usage.TotalTokens, sum.elapsed.Round(time.Millisecond), len(sum.failed), sum.caller429)
	for _, err := range sum.failed {
		fmt.Fprintln(cfg.out, "  error:", err)
	}
	for _, name := range deployments {
		st := limiters[name].Stats()
		sum.stats[name] = st
		fmt.Fprintf(cfg.out, "%s: %d RPM, %d finished, %d 429s absorbed (%d pauses, %v paused); the server reports %s requests and %s tokens remaining\n",
			name, st.RPM, st.Finished, st.RateLimited, st.Pauses, st.PausedTime.Round(time.Millisecond),
			remaining(st.Server.Requests), remaining(st.Server.Tokens))
	}
	if fake != nil {
		fs := sum.server
		fmt.Fprintf(cfg.out, "server: %d requests, %d accepted, %d refused with 429\n", fs.Requests, fs.Accepted, fs.Rejected429)
	}
	if last != "" {
		fmt.Fprintf(cfg.out, "last reply: %q\n", last)
	}
	if len(sum.failed) > 0 {
		return sum, fmt.Errorf("%d calls failed", len(sum.failed))
	}
	return sum, nil
}

// remaining says what a budget has left, or "?" when the server did not
// say.
func remaining(b ratellmiter.ServerBudget) string {
	if !b.Known {
		return "?"
	}
	return fmt.Sprint(b.Remaining)
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
