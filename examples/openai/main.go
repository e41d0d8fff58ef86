// Command openai sends a burst of chat completions through the official
// OpenAI Go SDK with a ratellmiter.Transport underneath, and reports what
// the limiter did.
//
// By default it starts a local fake provider on 127.0.0.1 that allows
// 1200 requests per minute, and deliberately configures the limiter at
// twice that, as when the documented limit is not your account's: the
// first response's x-ratelimit-* headers bring the limiter down to the
// server's real limit before any request is refused, and every call
// succeeds. With OPENAI_API_KEY set it
// calls the real API instead (a few calls only, unless -n says otherwise).
//
//	go run ./examples/openai
//	OPENAI_API_KEY=sk-... go run ./examples/openai -rpm 500 -n 5
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
)

func main() {
	n := flag.Int("n", 0, "number of calls (default 60 on the fake provider, 3 on the real API)")
	workers := flag.Int("c", 10, "concurrent callers")
	rpm := flag.Int("rpm", 0, "limiter requests per minute (default 2400 on the fake provider, 500 on the real API)")
	model := flag.String("model", "gpt-4o-mini", "model to call")
	flag.Parse()
	if *workers < 1 {
		fmt.Fprintf(os.Stderr, "-c %d: at least one caller is needed\n", *workers)
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*n, *workers, *rpm, *model); err != nil {
		log.Fatal(err)
	}
}

func run(n, workers, rpm int, model string) error {
	key := os.Getenv("OPENAI_API_KEY")
	var opts []option.RequestOption
	var fake *fakeprovider.Server
	if key == "" {
		s, url, stop, err := fakeprovider.Start(fakeprovider.Config{RPM: 1200})
		if err != nil {
			return err
		}
		defer stop()
		fake = s
		opts = append(opts, option.WithBaseURL(url+"/v1/"), option.WithAPIKey("fake"))
		fmt.Printf("fake provider at %s allowing 1200 RPM\n", url)
		n, rpm = orDefault(n, 60), orDefault(rpm, 2400)
	} else {
		opts = append(opts, option.WithAPIKey(key))
		n, rpm = orDefault(n, 3), orDefault(rpm, 500)
		fmt.Println("calling the OpenAI API")
	}

	mon := ratellmiter.NewMonitor()
	defer mon.Stop()
	limiter, err := ratellmiter.NewBucketRateLimiter(rpm, ratellmiter.WithMonitor(mon), ratellmiter.WithName(model))
	if err != nil {
		return err
	}
	tr, err := ratellmiter.NewTransport(nil, ratellmiter.WithLimiter(limiter))
	if err != nil {
		return err
	}
	defer tr.CloseIdleConnections()
	// The transport retries rate-limited calls; the SDK must not as well.
	opts = append(opts, option.WithHTTPClient(&http.Client{Transport: tr}), option.WithMaxRetries(0))
	client := openai.NewClient(opts...)
	fmt.Printf("limiter at %d RPM, %d calls from %d goroutines\n", rpm, n, workers)

	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:               model,
		Messages:            []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello in five words.")},
		MaxCompletionTokens: openai.Int(20),
	}
	start := time.Now()
	jobs := make(chan int)
	var (
		mu     sync.Mutex
		failed []error
		last   string
		wg     sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for range jobs {
				res, err := client.Chat.Completions.New(ctx, params)
				mu.Lock()
				if err != nil {
					failed = append(failed, err)
				} else if len(res.Choices) > 0 {
					last = res.Choices[0].Message.Content
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	// One streamed call: its ticket is held until the stream is closed.
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	chunks := 0
	for stream.Next() {
		chunks++
	}
	if err := stream.Err(); err != nil {
		failed = append(failed, err)
	}
	_ = stream.Close()
	elapsed := time.Since(start)

	st := limiter.Stats()
	fmt.Printf("%d calls + 1 stream (%d chunks) in %v: %d failed\n", n, chunks, elapsed.Round(time.Millisecond), len(failed))
	for _, err := range failed {
		fmt.Println("  error:", err)
	}
	fmt.Printf("429s absorbed by the transport: %d (limiter paused %d times, %v in all)\n",
		st.RateLimited, st.Pauses, st.PausedTime.Round(time.Millisecond))
	fmt.Printf("limiter now at %d RPM (configured %d)\n", st.RPM, st.ConfiguredRPM)
	if fake != nil {
		fs := fake.Stats()
		fmt.Printf("server: %d requests, %d accepted, %d refused with 429; at most %d in any second\n",
			fs.Requests, fs.Accepted, fs.Rejected429, fake.MaxInWindow(time.Second))
	}
	if last != "" {
		fmt.Printf("last reply: %q\n", last)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d calls failed", len(failed))
	}
	return nil
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
