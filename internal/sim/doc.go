// Package sim is a deterministic virtual-time simulator of an LLM provider
// and of the clients that call it, used to compare rate-limiting policies.
//
// A Server models a provider with a per-minute request limit (and optionally
// a token limit), lognormal latency, a penalty for clients that keep
// provoking 429s, and outages. A Client is a calling policy; Peers returns
// the reference policies (naive exponential backoff, full jitter,
// golang.org/x/time/rate pacing, and a model of the original Python
// rateLLMiter). The Oracle, told the server's configuration, sends every
// request at the first instant the server admits it: the measure of how
// close to PhysicalMin any client can come. A Scenario describes a workload; Run drains it through one
// client against one server and returns a Result, and FormatTable renders
// results side by side.
//
// Everything uses the time package's clock and sleeps as long as the
// simulated traffic lasts. Run it inside a synctest bubble, where time is
// virtual and minutes of traffic take milliseconds:
//
//	synctest.Test(t, func(t *testing.T) {
//		res := sim.Run(scenario, factory)
//		...
//	})
//
// Latencies and jitter are drawn from seeded generators keyed by request, so
// runs repeat exactly except where goroutines acting at the same virtual
// instant are scheduled in a different order.
package sim
