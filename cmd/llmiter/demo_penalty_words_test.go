package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
)

// TestDemoSaysHowManyRefusalsStartThePenalty sends the demo's fake server
// a refused request every 100 ms and counts the refusals up to the one
// that starts the penalty: the usage and the line the demo prints about
// its server give that count.
func TestDemoSaysHowManyRefusalsStartThePenalty(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	// At 1 RPM nothing is admitted again within the test's minute.
	cfg := demoServerConfig(1)
	cfg.LatencyMedian = 0
	cfg.Now = func() time.Time { return now }
	srv, err := fakeprovider.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: srv.Transport()}
	post := func() (int, string) {
		resp, err := client.Post("http://fake/v1/chat/completions", "application/json", strings.NewReader(string(demoBody(0))))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	if code, _ := post(); code != http.StatusOK {
		t.Fatalf("first request: %d", code)
	}
	refusals := 0
	for range 100 {
		now = now.Add(100 * time.Millisecond)
		code, retry := post()
		if code != http.StatusTooManyRequests {
			t.Fatalf("after %d refusals: %d, want 429", refusals, code)
		}
		refusals++
		if retry == fmt.Sprint(int(demoPenaltyDuration.Seconds())) {
			break
		}
	}
	words := fmt.Sprintf("%d refusals within a second", refusals)
	if !strings.Contains(strings.Join(strings.Fields(demoUsage), " "), words) {
		t.Errorf("the usage does not say %q", words)
	}
	if line := demoServerLine(1200); !strings.Contains(line, fmt.Sprintf("penalty %v from %d refusals within 1 s", demoPenaltyDuration, refusals)) {
		t.Errorf("the server line %q does not say the penalty starts with %d refusals within 1 s", line, refusals)
	}
}
