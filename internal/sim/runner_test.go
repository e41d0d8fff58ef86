package sim

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestPhysicalMin(t *testing.T) {
	srv := ServerConfig{RPM: 3000, LatencyMedian: 300 * time.Millisecond}
	fixed := srv
	fixed.Window = FixedSecond
	down := srv
	down.Outages = []Outage{{Start: 5 * time.Second, Dur: 30 * time.Second}}
	tokens := ServerConfig{RPM: 1_000_000, TPM: 6000}
	twoBursts := make([]time.Duration, 200)
	for i := 100; i < 200; i++ {
		twoBursts[i] = 100 * time.Second
	}
	for _, tc := range []struct {
		name string
		s    Scenario
		want time.Duration
	}{
		// (600 - 50) / 50 per second + 300 ms.
		{"backlog", Scenario{Requests: 600, Server: srv}, 11300 * time.Millisecond},
		{"within capacity", Scenario{Requests: 50, Server: srv}, 300 * time.Millisecond},
		// The second burst meets a full bucket again: (100 - 50) / 50.
		{"bursts", Scenario{Requests: 200, Server: srv, Arrivals: twoBursts}, 101300 * time.Millisecond},
		// 50 per second, the last 50 in second 11.
		{"fixed second", Scenario{Requests: 600, Server: fixed}, 11300 * time.Millisecond},
		// 299 before 5 s (the token due at 5 s meets the outage), a full
		// bucket of 50 at 35 s, then 251 more at 20 ms each.
		{"outage", Scenario{Requests: 600, Server: down}, 40320 * time.Millisecond},
		// 100 tokens per second, requests of 100 tokens.
		{"tokens", Scenario{Requests: 10, Server: tokens, TokensPerRequest: func(int) int { return 100 }}, 9 * time.Second},
	} {
		if got := PhysicalMin(tc.s); got != tc.want {
			t.Errorf("%s: PhysicalMin = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// direct calls the server without any policy.
var direct = ClientFactory{Name: "direct", New: func(Scenario) Client {
	return ClientFunc{ClientName: "direct", DoFunc: func(ctx context.Context, _ Request, call Call) error {
		_, err := call(ctx)
		return err
	}}
}}

func TestRunRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := Scenario{Name: "small", Requests: 30, Workers: 4, ClientRPM: 60,
			Models: []string{"a", "b"}, TokensPerRequest: func(i int) int { return i },
			Arrivals: make([]time.Duration, 30),
			Server:   ServerConfig{RPM: 600, LatencyMedian: 100 * time.Millisecond, Seed: 3}}
		for i := range s.Arrivals {
			s.Arrivals[i] = time.Duration(29-i) * 100 * time.Millisecond
		}
		res := Run(s, direct)
		if res.Client != "direct" || res.Scenario != "small" || res.Requests != 30 {
			t.Fatalf("bad labels: %+v", res)
		}
		if res.Completed+res.Failed != 30 || res.Incomplete {
			t.Fatalf("completed %d failed %d incomplete %v", res.Completed, res.Failed, res.Incomplete)
		}
		if res.Failed != res.RateLimited || res.Failed != res.RequestsSeeing429 {
			t.Errorf("failed %d, 429s %d, seeing %d: a single attempt each", res.Failed, res.RateLimited, res.RequestsSeeing429)
		}
		for i, r := range res.Records {
			if r.Request.ID != i || r.Request.Tokens != i || r.Request.Model != s.Models[i%2] {
				t.Errorf("record %d: request %+v", i, r.Request)
			}
			if r.Submit != s.Arrivals[i] || r.FirstStart < r.Submit || r.LastStart < r.FirstStart || r.Done < r.LastStart {
				t.Errorf("record %d: times out of order: %+v", i, r)
			}
			if r.Attempts != 1 || r.Completed == (r.Err != nil) {
				t.Errorf("record %d: %+v", i, r)
			}
		}
		if res.Worst1s > res.Limit1s || res.Limit1s != 19 || res.Limit60s != 609 {
			t.Errorf("worst 1s %d, limits %d %d", res.Worst1s, res.Limit1s, res.Limit60s)
		}
		if res.WaitP50 > res.WaitP99 || res.Ratio <= 0 {
			t.Errorf("p50 %v p99 %v ratio %v", res.WaitP50, res.WaitP99, res.Ratio)
		}
	})
}

func TestRunDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stuck := ClientFactory{Name: "stuck", New: func(Scenario) Client {
			return ClientFunc{ClientName: "stuck", DoFunc: func(ctx context.Context, _ Request, _ Call) error {
				<-ctx.Done()
				return ctx.Err()
			}}
		}}
		s := Scenario{Name: "stuck", Requests: 10, Workers: 2, Deadline: 5 * time.Minute, Server: ServerConfig{RPM: 60}}
		start := time.Now()
		res := Run(s, stuck)
		if !res.Incomplete || res.Completed != 0 || res.Failed != 0 || res.Completion != 5*time.Minute {
			t.Errorf("got %+v, want a stopped run", res)
		}
		if d := time.Since(start); d != 5*time.Minute {
			t.Errorf("run took %v, want the 5m deadline", d)
		}
	})
}

func TestPeersRespectDeadline(t *testing.T) {
	s := Scenario{Name: "down", Requests: 40, Workers: 8, ClientRPM: 600, Deadline: 10 * time.Minute,
		Server: ServerConfig{RPM: 600, LatencyMedian: 200 * time.Millisecond, Outages: []Outage{{Dur: 24 * time.Hour}}}}
	for _, f := range Peers() {
		t.Run(f.Name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				res := Run(s, f)
				if res.Completed != 0 || res.Completion > s.Deadline {
					t.Errorf("got %+v", res)
				}
			})
		})
	}
}

func TestFormatTable(t *testing.T) {
	out := FormatTable([]Result{
		{Scenario: "backlog", Client: "naive", Completion: 90 * time.Second, Ratio: 8, Requests: 10, RequestsSeeing429: 5, Failed: 1},
		{Scenario: "backlog", Client: "x/time/rate", Completion: 12 * time.Second, Ratio: 1.1, Requests: 10, Incomplete: true},
	})
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines:\n%s", len(lines), out)
	}
	for _, want := range []string{"scenario", "×min", "worst 60s/limit", "p99 wait"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header lacks %q: %s", want, lines[0])
		}
	}
	if !strings.Contains(lines[1], "50.0%") || !strings.Contains(lines[1], "1 failed") || !strings.Contains(lines[2], "stopped") {
		t.Errorf("rows:\n%s", out)
	}
	if strings.Index(lines[1], "naive") != strings.Index(lines[2], "x/time/rate") {
		t.Errorf("columns not aligned:\n%s", out)
	}
}
