// Command go-openai sends a burst of chat completions through
// github.com/sashabaranov/go-openai with a ratellmiter.Transport under its
// HTTP client, and reports what the limiter did.
//
// By default it starts a local fake provider on 127.0.0.1 that allows
// 1200 requests per minute, and configures the limiter at twice that, as
// when the documented limit is not your account's: the first response's
// x-ratelimit-* headers bring the limiter down to the server's real limit
// before any request is refused, and every call succeeds. With
// OPENAI_API_KEY set it calls the real API instead (a few calls only,
// unless -n says otherwise).
//
// go-openai does not retry; the transport does, for rate-limited calls,
// so the client sees answers only. Without the transport, wrap each call
// in ratellmiter.Do, which reads go-openai's errors (see do_test.go).
//
//	cd examples/go-openai && go run .
//	OPENAI_API_KEY=sk-... go run . -rpm 500 -n 5
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

	openai "github.com/sashabaranov/go-openai"

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
	if err := run(os.Stdout, os.Getenv("OPENAI_API_KEY"), *n, *workers, *rpm, *model); err != nil {
		log.Fatal(err)
	}
}

// run makes n calls from workers goroutines and one streamed call, through
// the real API when key is set, else through a fake provider it starts,
// and writes what happened to out.
func run(out io.Writer, key string, n, workers, rpm int, model string) error {
	cfg := openai.DefaultConfig(key)
	var fake *fakeprovider.Server
	if key == "" {
		s, url, stop, err := fakeprovider.Start(fakeprovider.Config{RPM: 1200})
		if err != nil {
			return err
		}
		defer stop()
		fake = s
		cfg.BaseURL = url + "/v1"
		fmt.Fprintf(out, "fake provider at %s allowing 1200 RPM\n", url)
		n, rpm = orDefault(n, 60), orDefault(rpm, 2400)
	} else {
		n, rpm = orDefault(n, 3), orDefault(rpm, 500)
		fmt.Fprintln(out, "calling the OpenAI API")
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
	cfg.HTTPClient = &http.Client{Transport: tr}
	client := openai.NewClientWithConfig(cfg)
	fmt.Fprintf(out, "limiter at %d RPM, %d calls from %d goroutines\n", rpm, n, workers)

	ctx := context.Background()
	req := openai.ChatCompletionRequest{
		Model:               model,
		Messages:            []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "Say hello in five words."}},
		MaxCompletionTokens: 20,
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
				res, err := client.CreateChatCompletion(ctx, req)
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
	chunks, err := stream(ctx, client, req)
	if err != nil {
		failed = append(failed, err)
	}
	elapsed := time.Since(start)

	st := limiter.Stats()
	fmt.Fprintf(out, "%d calls + 1 stream (%d chunks) in %v: %d failed\n", n, chunks, elapsed.Round(time.Millisecond), len(failed))
	for _, err := range failed {
		fmt.Fprintln(out, "  error:", err)
	}
	fmt.Fprintf(out, "429s absorbed by the transport: %d (limiter paused %d times, %v in all)\n",
		st.RateLimited, st.Pauses, st.PausedTime.Round(time.Millisecond))
	fmt.Fprintf(out, "limiter now at %d RPM (configured %d)\n", st.RPM, st.ConfiguredRPM)
	if fake != nil {
		fs := fake.Stats()
		fmt.Fprintf(out, "server: %d requests, %d accepted, %d refused with 429; at most %d in any second\n",
			fs.Requests, fs.Accepted, fs.Rejected429, fake.MaxInWindow(time.Second))
	}
	if last != "" {
		fmt.Fprintf(out, "last reply: %q\n", last)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d calls failed", len(failed))
	}
	return nil
}

// stream makes req as a streamed call, asking for its usage in the last
// chunk, reads it to its end and closes it; it returns the chunks read.
func stream(ctx context.Context, client *openai.Client, req openai.ChatCompletionRequest) (int, error) {
	req.Stream = true
	req.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	s, err := client.CreateChatCompletionStream(ctx, req)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	chunks := 0
	for {
		_, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return chunks, nil
		}
		if err != nil {
			return chunks, err
		}
		chunks++
	}
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
