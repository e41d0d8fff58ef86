// Command metrics serves a limiter's Prometheus metrics while it paces
// calls to an in-process fake provider, then stops by itself.
//
// It needs no API key and no network beyond 127.0.0.1: the fake provider
// allows 600 requests per minute and the limiter is told 1200. The
// server's rate-limit headers bring the limiter down to 600 RPM, and the
// metrics show it (ratellmiter_rpm, ratellmiter_server_remaining_requests)
// along with the tickets and how long they waited. The calls are bounded
// by -calls and -for; the program stops by itself after -linger.
//
//	go run ./examples/metrics
//	curl -s http://127.0.0.1:9464/metrics | grep ratellmiter_
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
	"github.com/ratellmiter/ratellmiter/metrics"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9464", "address to serve /metrics on")
	calls := flag.Int("calls", 300, "calls to make before stopping")
	limit := flag.Duration("for", time.Minute, "longest time to run")
	linger := flag.Duration("linger", 10*time.Second, "time to keep serving /metrics after the calls")
	flag.Parse()

	_, url, stopProvider, err := fakeprovider.Start(fakeprovider.Config{RPM: 600, LatencyMedian: 200 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer stopProvider()

	// The three lines that expose a limiter's metrics.
	mon := ratellmiter.NewMonitor()
	collector := metrics.NewCollector(mon)
	registry := prometheus.NewRegistry()
	registry.MustRegister(collector)
	limiter, err := ratellmiter.NewBucketRateLimiter(1200, ratellmiter.WithMonitor(mon),
		ratellmiter.WithName("fake/gpt-4o-mini"), ratellmiter.WithObserver(collector))
	if err != nil {
		log.Fatal(err)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
		}
	}()
	fmt.Printf("scrape http://%s/metrics\n", ln.Addr())

	tr, err := ratellmiter.NewTransport(nil, ratellmiter.WithLimiter(limiter))
	if err != nil {
		log.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), *limit)
	defer cancel()
	done := run(ctx, tr.Client(), url+"/v1/chat/completions", *calls)

	s := limiter.Stats()
	fmt.Printf("%d calls done: %d rate limited, %d pauses, %.1f s paused\n", done, s.RateLimited, s.Pauses, s.PausedTime.Seconds())
	fmt.Printf("serving http://%s/metrics for %v more\n", ln.Addr(), *linger)
	time.Sleep(*linger)

	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Print(err)
	}
	if err := mon.Stop(); err != nil {
		log.Print(err)
	}
}

// run makes up to n chat calls with 20 workers until ctx ends, and
// returns how many succeeded.
func run(ctx context.Context, client *http.Client, url string, n int) int {
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16}`)
	jobs := make(chan struct{})
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range jobs {
				if err := chat(ctx, client, url, body); err != nil {
					if ctx.Err() == nil {
						log.Print(err)
					}
					continue
				}
				mu.Lock()
				done++
				mu.Unlock()
			}
		})
	}
feed:
	for range n {
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	return done
}

// chat POSTs one chat completion through the limiter's transport, which
// absorbs the server's 429s.
func chat(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
