package sim

import (
	"testing"
	"time"
)

// TestOracleIsNeverRefused checks the server against a client that knows its
// configuration: sending each request at the first instant the documented
// buckets admit it must never provoke a 429, in any scenario and on either
// kind of window, and must finish within the latency tail of the physical
// minimum.
func TestOracleIsNeverRefused(t *testing.T) {
	fixed := onFixedSecondWindows(Scenarios())
	for i := range fixed {
		fixed[i].Name += "/fixed-second"
	}
	results := runAll(t, append(Scenarios(), fixed...), []ClientFactory{OracleFactory()})
	t.Log("\n" + FormatTable(results))
	for _, r := range results {
		if r.RateLimited != 0 || r.Completed != r.Requests {
			t.Errorf("%s: oracle saw %d 429s and completed %d of %d", r.Scenario, r.RateLimited, r.Completed, r.Requests)
		}
		// The last admission is at the minimum less the median latency;
		// the slowest answer after it is at most a few times the median.
		lat := time.Duration(0)
		for _, rec := range r.Records {
			lat = max(lat, rec.Done-rec.LastStart)
		}
		if r.Completion < r.PhysicalMin-300*time.Millisecond || r.Completion > r.PhysicalMin+lat {
			t.Errorf("%s: oracle finished at %v, minimum %v, slowest answer %v", r.Scenario, r.Completion, r.PhysicalMin, lat)
		}
	}
}

// onFixedSecondWindows returns the scenarios with their servers counting in
// fixed one-second windows instead of a token bucket.
func onFixedSecondWindows(scenarios []Scenario) []Scenario {
	out := make([]Scenario, len(scenarios))
	for i, s := range scenarios {
		s.Server.Window = FixedSecond
		out[i] = s
	}
	return out
}

// withRefusalLatency returns the scenarios with servers that answer every
// refusal after d instead of the latency drawn for the call.
func withRefusalLatency(scenarios []Scenario, d time.Duration) []Scenario {
	out := make([]Scenario, len(scenarios))
	for i, s := range scenarios {
		s.Server.RefusalLatency = d
		out[i] = s
	}
	return out
}
