package sim

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
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

// withServers returns the scenarios with each one's server changed by set:
// the same workloads against another kind of provider.
func withServers(scenarios []Scenario, set func(*ServerConfig)) []Scenario {
	out := make([]Scenario, len(scenarios))
	for i, s := range scenarios {
		set(&s.Server)
		out[i] = s
	}
	return out
}

// onFixedSecondWindows returns the scenarios with their servers counting in
// fixed one-second windows.
func onFixedSecondWindows(scenarios []Scenario) []Scenario {
	return withServers(scenarios, func(c *ServerConfig) { c.Window = FixedSecond })
}

// withRefusalLatency returns the scenarios with servers that answer every
// refusal after d instead of the latency drawn for the call.
func withRefusalLatency(scenarios []Scenario, d time.Duration) []Scenario {
	return withServers(scenarios, func(c *ServerConfig) { c.RefusalLatency = d })
}

// withHeaders returns the scenarios with servers that send OpenAI's
// rate-limit headers with every answer.
func withHeaders(scenarios []Scenario) []Scenario {
	return withServers(scenarios, func(c *ServerConfig) { c.Headers = true })
}

// TestOracleKeepsArrivalOrder checks that the Oracle of a scenario takes
// its first reservations in the scenario's arrival order, the order of
// PhysicalMin, even when requests reach Do in another: against a token
// limit counted in fixed seconds the order decides how each second is
// packed, so an Oracle in another order would not play out PhysicalMin's
// schedule.
func TestOracleKeepsArrivalOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 100 tokens a second; in arrival order 60, 60, 40, 40 take
		// seconds 0, 1, 1 and 2, while 60, 40, 60, 40 would fit in two.
		tokens := []int{60, 60, 40, 40}
		s := Scenario{Name: "packing", Requests: len(tokens), Workers: len(tokens),
			Server:           ServerConfig{RPM: 6000, TPM: 6000, Window: FixedSecond},
			TokensPerRequest: func(i int) int { return tokens[i] }}
		srv := NewServer(s.Server)
		o := OracleFactory().New(s)
		start := time.Now()
		admitted := make([]time.Duration, len(tokens))
		var wg sync.WaitGroup
		for _, i := range []int{0, 2, 1, 3} {
			wg.Go(func() {
				err := o.Do(context.Background(), s.request(i), func(ctx context.Context) (http.Header, error) {
					admitted[i] = time.Since(start)
					return srv.Respond(ctx, s.request(i))
				})
				if err != nil {
					t.Errorf("request %d: %v", i, err)
				}
			})
			synctest.Wait()
		}
		wg.Wait()
		want := []time.Duration{0, time.Second, time.Second, 2 * time.Second}
		if !slices.Equal(admitted, want) {
			t.Errorf("requests sent at %v, want %v as in PhysicalMin's schedule", admitted, want)
		}
		if last := want[len(want)-1]; PhysicalMin(s) != last {
			t.Errorf("PhysicalMin = %v, want %v", PhysicalMin(s), last)
		}
	})
}
