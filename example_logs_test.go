package ratellmiter_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"

	"github.com/ratellmiter/ratellmiter"
)

// A Monitor with a log folder writes each active limiter's minutes; Stop
// writes the minute in progress, and a limiter that did nothing writes
// nothing. ReadLog reads the file back.
func ExampleReadLog() {
	dir, err := os.MkdirTemp("", "ratellmiter-logs")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	m := ratellmiter.NewMonitor(ratellmiter.WithLogDir(dir))
	busy, _ := ratellmiter.NewBucketRateLimiter(6000, ratellmiter.WithMonitor(m), ratellmiter.WithName("busy"))
	_, _ = ratellmiter.NewBucketRateLimiter(6000, ratellmiter.WithMonitor(m), ratellmiter.WithName("idle"))
	for range 3 {
		ticket, err := busy.Acquire(context.Background())
		if err != nil {
			panic(err)
		}
		ticket.Done()
	}
	if err := m.Stop(); err != nil {
		panic(err)
	}

	f, err := ratellmiter.ReadLog(m.LogPath())
	if err != nil {
		panic(err)
	}
	s := f.Series("busy")
	issued := 0
	for _, n := range s.Issued {
		issued += n
	}
	fmt.Println("limiters:", f.Limiters(), "issued:", issued, "at", s.RPM, "RPM")
	// Output: limiters: [busy] issued: 3 at 6000 RPM
}

// The Transport absorbs a 429: the limiter pauses, the request is sent
// again first in line once the server accepts requests, and the client
// sees only the final answer.
func ExampleNewTransport() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("retry-after-ms", "20")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, `{"answer":"hello"}`)
	}))
	defer srv.Close()

	m := ratellmiter.NewMonitor()
	defer m.Stop()
	limiter, _ := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(m))
	tr, err := ratellmiter.NewTransport(nil, ratellmiter.WithLimiter(limiter))
	if err != nil {
		panic(err)
	}
	defer tr.CloseIdleConnections()

	resp, err := tr.Client().Post(srv.URL+"/v1/chat/completions", "application/json", nil)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	s := limiter.Stats()
	fmt.Println(resp.StatusCode, string(body))
	fmt.Println("sent:", calls.Load(), "rate limited:", s.RateLimited, "paused now:", s.Paused, "finished:", s.Finished)
	// Output:
	// 200 {"answer":"hello"}
	// sent: 2 rate limited: 1 paused now: false finished: 1
}
