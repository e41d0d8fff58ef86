package sim

import (
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratellmiter/ratellmiter"
)

// TestOursAgainstPeers runs the library's own client beside every peer in
// every scenario, with the Oracle as the measure of what any client could
// do, and asserts where it stands, as measured.
func TestOursAgainstPeers(t *testing.T) {
	results, get := runOurs(t, Scenarios())
	if *chartPath != "" {
		if err := WriteChart(*chartPath, results); err != nil {
			t.Fatal(err)
		}
		t.Logf("chart written to %s", *chartPath)
	}
	for _, s := range Scenarios() {
		ours := get(s.Name, OursName)
		for _, p := range Peers() {
			peer := get(s.Name, p.Name)
			// Never more than 5% slower than any peer, in any scenario.
			if ours.Completion.Seconds() > 1.05*peer.Completion.Seconds() {
				t.Errorf("%s: ratellmiter %v, %s %v", s.Name, ours.Completion, p.Name, peer.Completion)
			}
		}
		if python := get(s.Name, "python-original"); ours.Completion > python.Completion {
			t.Errorf("%s: ratellmiter %v slower than the original %v", s.Name, ours.Completion, python.Completion)
		}
	}
	for _, name := range []string{"backlog", "bursts", "many-models", "tpm"} {
		if r := get(name, OursName); r.RateLimited != 0 {
			t.Errorf("%s: ratellmiter saw %d 429s at a correctly configured rate", name, r.RateLimited)
		}
	}
	// Through the outage it sees fewer than half the 429s of any peer, as
	// the README states: 11 measured, against 39 for the Python model and
	// 50 for x/time/rate.
	for _, p := range Peers() {
		if r, peer := get("outage", OursName), get("outage", p.Name); 2*r.RateLimited > peer.RateLimited {
			t.Errorf("outage: ratellmiter saw %d 429s, not half of %s's %d", r.RateLimited, p.Name, peer.RateLimited)
		}
	}
	// Told only the rate, it comes within 10% of the client that knows the
	// server's buckets (about one second: the server's initial burst, which
	// the per-second cap leaves unused), except when told the wrong rate.
	for _, name := range []string{"backlog", "bursts", "outage", "many-models", "tpm"} {
		if r, o := get(name, OursName), get(name, OracleName); r.Completion.Seconds() > 1.1*o.Completion.Seconds() {
			t.Errorf("%s: ratellmiter %v, more than 10%% behind the oracle's %v", name, r.Completion, o.Completion)
		}
	}
	// With its token budget, the token-bound backlog runs at the
	// physical minimum.
	if r := get("tpm", OursName); r.Ratio > 1.05 {
		t.Errorf("tpm: ratellmiter at %.2f times the minimum", r.Ratio)
	}
	// A configured rate twice the real one is learned from the first
	// pause, not paid for on every request: one 10 s penalty, then the
	// server's rate.
	r, x := get("config-2x", OursName), get("config-2x", "x/time/rate")
	if 2*r.Completion > x.Completion+r.Completion/2 {
		t.Errorf("config-2x: ratellmiter %v not well ahead of x/time/rate %v", r.Completion, x.Completion)
	}
	if backlog := get("backlog", OursName); r.Completion > backlog.Completion+11*time.Second {
		t.Errorf("config-2x: ratellmiter %v, more than one penalty over its backlog time %v", r.Completion, backlog.Completion)
	}
	// The requests in flight when the first 429 comes back are refused
	// (1.8% measured at the scenario's latency seed, 0.8% to 4% at 30
	// others); a second penalty would refuse as many again. (The
	// Python model's own count, 14 in most runs, changes with goroutine
	// order, so it is no fixed bar.)
	if limit := 3 * r.Requests / 100; r.RateLimited > limit {
		t.Errorf("config-2x: ratellmiter saw %d 429s, more than 3%% of %d requests", r.RateLimited, r.Requests)
	}
}

// TestOursOnFixedSecondWindows runs the same comparison against a server
// that counts its limits in fixed one-second windows instead of a token
// bucket, and asserts what holds there, as measured.
func TestOursOnFixedSecondWindows(t *testing.T) {
	scenarios := onFixedSecondWindows(Scenarios())
	_, get := runOurs(t, scenarios)
	for _, s := range scenarios {
		ours := get(s.Name, OursName)
		// Requests spread evenly across each second fit any one-second
		// window at a correctly configured rate.
		if s.Name != "config-2x" && s.Name != "outage" && s.Name != "tpm" && ours.RateLimited != 0 {
			t.Errorf("%s: ratellmiter saw %d 429s", s.Name, ours.RateLimited)
		}
		if x := get(s.Name, "x/time/rate"); s.Name != "tpm" && ours.Completion.Seconds() > 1.05*x.Completion.Seconds() {
			t.Errorf("%s: ratellmiter %v, x/time/rate %v", s.Name, ours.Completion, x.Completion)
		}
	}
	// A token budget that refills continuously can put more than a
	// second's worth of tokens into one fixed window, so the server
	// refuses some; learning then lowers the request rate until few are
	// refused, which costs time: ratellmiter is slower than x/time/rate
	// here (about 1.05x), with a small fraction of its 429s.
	if r, x := get("tpm", OursName), get("tpm", "x/time/rate"); 10*r.RateLimited > x.RateLimited || r.Completion.Seconds() > 1.2*x.Completion.Seconds() {
		t.Errorf("tpm: ratellmiter %v with %d 429s, x/time/rate %v with %d", r.Completion, r.RateLimited, x.Completion, x.RateLimited)
	}
}

// TestOursWhenRefusalsComeBackFast runs the comparison against servers
// that refuse in 20 ms, as a provider's gateway can, rather than after a
// model's latency, and asserts what holds there, as measured: the 429s
// ratellmiter sees are the requests sent while the first refusal is on
// its way back, so with fast refusals they stay under 1% in every
// scenario, and configured at twice the real limit it no longer triggers
// the server's penalty.
func TestOursWhenRefusalsComeBackFast(t *testing.T) {
	scenarios := withRefusalLatency(Scenarios(), 20*time.Millisecond)
	_, get := runOurs(t, scenarios)
	for _, s := range scenarios {
		ours := get(s.Name, OursName)
		if 100*ours.RequestsSeeing429 > ours.Requests {
			t.Errorf("%s: %d of %d requests saw a 429, more than 1%%", s.Name, ours.RequestsSeeing429, ours.Requests)
		}
		for _, p := range Peers() {
			if peer := get(s.Name, p.Name); ours.Completion.Seconds() > 1.05*peer.Completion.Seconds() {
				t.Errorf("%s: ratellmiter %v, %s %v", s.Name, ours.Completion, p.Name, peer.Completion)
			}
		}
	}
	r := get("config-2x", OursName)
	if r.Ratio > 1.25 {
		t.Errorf("config-2x: ratellmiter at %.2f times the minimum: a penalty was paid", r.Ratio)
	}
	for _, p := range Peers() {
		if peer := get("config-2x", p.Name); 2*r.Completion > peer.Completion {
			t.Errorf("config-2x: ratellmiter %v not twice as fast as %s %v", r.Completion, p.Name, peer.Completion)
		}
	}
}

// runOurs runs the library's client, every peer and the oracle in each
// scenario, logs the table, fails the test for any request ratellmiter
// left undone, and returns the results with a lookup by scenario and
// client.
func runOurs(t *testing.T, scenarios []Scenario) ([]Result, func(scenario, client string) Result) {
	t.Helper()
	results := runAll(t, scenarios, append(All(), OracleFactory()))
	t.Log("\n" + FormatTable(results))
	get := func(scenario, client string) Result { return find(t, results, scenario, client) }
	for _, s := range scenarios {
		if ours := get(s.Name, OursName); ours.Incomplete || ours.Failed > 0 {
			t.Errorf("%s: ratellmiter left requests undone (%d failed)", s.Name, ours.Failed)
		}
	}
	return results, get
}

// TestOursWritesNoLogs checks that the library's client never runs with
// the minute logs on, even with RATELLMITER_LOGS set: its Monitor would
// start a goroutine that outlives the run, a deadlock inside a synctest
// bubble, and write simulated minutes into the user's folder.
func TestOursWritesNoLogs(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(ratellmiter.EnvLogDir, dir)
	synctest.Test(t, func(t *testing.T) {
		s := Scenarios()[0]
		s.Requests = 100
		r := Run(s, Ours())
		if r.Completed != s.Requests {
			t.Errorf("%d of %d requests completed", r.Completed, s.Requests)
		}
	})
	if files, _ := os.ReadDir(dir); len(files) > 0 {
		t.Errorf("%d files written to %s", len(files), dir)
	}
}
