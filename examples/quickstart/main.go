// Command quickstart paces calls to a chat-completion API with
// ratellmiter.Do, and shows what the limiter does when it is configured
// above the server's real limit.
//
// It needs no API key: it starts a fake provider in-process on 127.0.0.1
// that allows 600 requests per minute, while the limiter is told 1200. The
// first 429s pause the limiter, a probe finds when the server accepts
// requests again, the refused calls are retried first, and the limiter
// learns a lower limit. Every call succeeds.
//
//	go run ./examples/quickstart
//	go run ./cmd/llmiter -dir ratellmiter_logs -lines rief
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
	"github.com/ratellmiter/ratellmiter/internal/shell"
)

func main() {
	logDir := flag.String("logs", "ratellmiter_logs", "folder for the limiter's minute logs")
	flag.Parse()
	// The Monitor creates the folder when it writes its first minute; made
	// here, a folder that cannot be is reported before the calls.
	if err := os.MkdirAll(*logDir, 0o755); err != nil {
		log.Fatalf("-logs %s: %v", *logDir, err)
	}

	// A fake OpenAI-compatible server with a real limit of 600 RPM and
	// about 300 ms of latency per call.
	_, url, stop, err := fakeprovider.Start(fakeprovider.Config{RPM: 600, LatencyMedian: 300 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	// The Monitor writes a minute log of every limiter on it; Stop flushes it.
	mon := ratellmiter.NewMonitor(ratellmiter.WithLogDir(*logDir))
	// Deliberately twice the server's limit, as when the documented limit
	// is not the one your account has.
	limiter, err := ratellmiter.NewBucketRateLimiter(1200, ratellmiter.WithMonitor(mon))
	if err != nil {
		log.Fatal(err)
	}

	const calls, workers = 200, 20
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16}`)
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	jobs := make(chan int)
	for range workers {
		wg.Go(func() {
			for range jobs {
				// Do takes a ticket, calls the function, and on a rate-limit
				// error hands the ticket back and calls it again, first in line.
				_, err := ratellmiter.Do(context.Background(), limiter, func(ctx context.Context) (int, error) {
					return chat(ctx, url+"/v1/chat/completions", body)
				})
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	for i := range calls {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)

	s := limiter.Stats()
	if err := mon.Stop(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d calls in %.1f s, %d failed\n", calls, elapsed.Seconds(), failed)
	fmt.Printf("limiter: %d requested, %d issued (retries included), %d rate limited\n", s.Requested, s.Issued, s.RateLimited)
	fmt.Printf("         %d pauses, %.1f s paused, now at %d RPM (configured 1200; the server allows 600)\n",
		s.Pauses, s.PausedTime.Seconds(), s.RPM)
	fmt.Printf("minute log: %s\ngraph it:   go run ./cmd/llmiter -file %s -lines rief\n", mon.LogPath(), shell.Word(mon.LogPath()))
}

// chat POSTs one chat completion. A 429 becomes a RateLimitError carrying
// the server's Retry-After hint, which tells Do to pause and retry.
func chat(ctx context.Context, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	switch resp.StatusCode {
	case http.StatusOK:
		return int(n), nil
	case http.StatusTooManyRequests:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return 0, &ratellmiter.RateLimitError{StatusCode: 429, RetryAfter: time.Duration(secs) * time.Second}
	}
	return 0, fmt.Errorf("HTTP %d", resp.StatusCode)
}
