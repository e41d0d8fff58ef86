package sim

import (
	"testing"
	"testing/synctest"
)

// runAll runs every scenario with every factory, one synctest bubble per
// run, in parallel, and returns the results scenario-major.
func runAll(t *testing.T, scenarios []Scenario, factories []ClientFactory) []Result {
	t.Helper()
	results := make([]Result, len(scenarios)*len(factories))
	t.Run("runs", func(t *testing.T) {
		for i, s := range scenarios {
			for j, f := range factories {
				k := i*len(factories) + j
				t.Run(s.Name+"/"+f.Name, func(t *testing.T) {
					t.Parallel()
					synctest.Test(t, func(t *testing.T) {
						results[k] = Run(s, f)
					})
				})
			}
		}
	})
	return results
}

// find returns the result of client in scenario.
func find(t *testing.T, results []Result, scenario, client string) Result {
	t.Helper()
	for _, r := range results {
		if r.Scenario == scenario && r.Client == client {
			return r
		}
	}
	t.Fatalf("no result for %s/%s", scenario, client)
	return Result{}
}

func TestCompare(t *testing.T) {
	results := runAll(t, Scenarios(), Peers())
	t.Log("\n" + FormatTable(results))

	get := func(scenario, client string) Result { return find(t, results, scenario, client) }

	for _, r := range results {
		if r.Incomplete {
			t.Errorf("%s/%s: stopped at the deadline", r.Scenario, r.Client)
		}
		if r.Worst1s > r.Limit1s || r.Worst60s > r.Limit60s {
			t.Errorf("%s/%s: server admitted %d/%d in 1 s/60 s, above its limits %d/%d",
				r.Scenario, r.Client, r.Worst1s, r.Worst60s, r.Limit1s, r.Limit60s)
		}
		if r.Ratio < 1 {
			t.Errorf("%s/%s: %.2f times the physical minimum", r.Scenario, r.Client, r.Ratio)
		}
	}

	naive, jitter := get("backlog", "naive"), get("backlog", "full-jitter")
	xrate, python := get("backlog", "x/time/rate"), get("backlog", "python-original")
	// Unpaced clients hit the limit and the penalty; paced ones never do.
	if naive.RateLimited == 0 || jitter.RateLimited == 0 {
		t.Errorf("backlog: unpaced clients saw no 429 (naive %d, full-jitter %d)", naive.RateLimited, jitter.RateLimited)
	}
	if xrate.RateLimited != 0 || python.RateLimited != 0 {
		t.Errorf("backlog: paced clients saw 429s (x/time/rate %d, python-original %d)", xrate.RateLimited, python.RateLimited)
	}
	if xrate.Ratio > 1.3 {
		t.Errorf("backlog: x/time/rate at %.2f times the minimum, want near 1", xrate.Ratio)
	}
	if 2*xrate.Completion > naive.Completion || 2*python.Completion > naive.Completion {
		t.Errorf("backlog: paced clients (%v, %v) not twice as fast as naive (%v)",
			xrate.Completion, python.Completion, naive.Completion)
	}
	// The Python ramp costs a few seconds against a perfectly paced client.
	if python.Completion <= xrate.Completion {
		t.Errorf("backlog: python-original %v not slower than x/time/rate %v", python.Completion, xrate.Completion)
	}

	// Configured at twice the real limit, the Python model stalls on its
	// 10 s probes.
	python2x := get("config-2x", "python-original")
	if python2x.RateLimited == 0 || 2*python2x.Completion < 3*python.Completion {
		t.Errorf("config-2x: python-original %v with %d 429s, backlog %v; want 429s and 1.5x slower",
			python2x.Completion, python2x.RateLimited, python.Completion)
	}
	if xrate2x := get("config-2x", "x/time/rate"); xrate2x.RateLimited == 0 || xrate2x.Completion < 2*xrate.Completion {
		t.Errorf("config-2x: x/time/rate %v with %d 429s; want 429s and at least twice its backlog time %v",
			xrate2x.Completion, xrate2x.RateLimited, xrate.Completion)
	}

	// After idle, paced clients serve bursts with short waits; the naive
	// client makes most requests wait out backoffs.
	if b, n := get("bursts", "x/time/rate"), get("bursts", "naive"); 2*b.WaitP99 > n.WaitP99 {
		t.Errorf("bursts: x/time/rate p99 wait %v not half of naive's %v", b.WaitP99, n.WaitP99)
	}

	// Nobody gets through an outage without 429s; x/time/rate uses the hint
	// and resumes at once, the Python model waits for its probe schedule.
	for _, c := range []string{"naive", "full-jitter", "x/time/rate", "python-original"} {
		if r := get("outage", c); r.RateLimited == 0 {
			t.Errorf("outage: %s saw no 429", c)
		}
	}
	if x, p := get("outage", "x/time/rate"), get("outage", "python-original"); x.Completion >= p.Completion {
		t.Errorf("outage: x/time/rate %v not faster than python-original %v", x.Completion, p.Completion)
	}

	// Clients pacing on requests alone overrun a token limit.
	for _, c := range []string{"x/time/rate", "python-original"} {
		if r := get("tpm", c); r.RateLimited == 0 {
			t.Errorf("tpm: %s saw no 429", c)
		}
	}

	// Several models sharing one limit behave like one backlog.
	if m := get("many-models", "x/time/rate"); m.RateLimited != 0 || m.Ratio > 1.3 {
		t.Errorf("many-models: x/time/rate %.2f times the minimum with %d 429s", m.Ratio, m.RateLimited)
	}
}
