package sim

import (
	"math/rand/v2"
	"time"
)

// baseServer is the provider shared by the standard scenarios: 3000 RPM in a
// token bucket, 300 ms median latency, and a 10 s penalty after 5 refusals
// within a second.
func baseServer(seed int64) ServerConfig {
	return ServerConfig{
		RPM:           3000,
		Window:        TokenBucket,
		LatencyMedian: 300 * time.Millisecond,
		Seed:          seed,
		PenaltyAfter:  5,
		PenaltyFor:    10 * time.Second,
	}
}

// Scenarios returns the standard workloads, all against baseServer with 50
// workers:
//
//   - backlog: 600 requests waiting at t=0, client configured with the
//     server's real 3000 RPM.
//   - config-2x: the same, but the client is configured with 6000 RPM, twice
//     the server's real limit.
//   - bursts: 4 bursts of 150 requests, one every 62 s: a perfect client
//     drains a burst in about 2 s, so about 60 s of idle separate them.
//   - outage: the backlog, with the server down from 5 s to 35 s.
//   - tpm: the backlog against a server also limited to 150k tokens per
//     minute, requests of 100 to 2000 tokens (uniform, seeded); the client
//     is configured with both limits but only token-aware policies use the
//     token one.
//   - many-models: the backlog spread round robin over three models that
//     share one limit for the whole service.
func Scenarios() []Scenario {
	backlog := Scenario{
		Name:      "backlog",
		Requests:  600,
		Workers:   50,
		ClientRPM: 3000,
		Server:    baseServer(1),
	}

	config2x := backlog
	config2x.Name = "config-2x"
	config2x.ClientRPM = 6000
	config2x.Server = baseServer(2)

	bursts := backlog
	bursts.Name = "bursts"
	bursts.Server = baseServer(3)
	bursts.Arrivals = make([]time.Duration, 600)
	for i := range bursts.Arrivals {
		bursts.Arrivals[i] = time.Duration(i/150) * 62 * time.Second
	}

	outage := backlog
	outage.Name = "outage"
	outage.Server = baseServer(4)
	outage.Server.Outages = []Outage{{Start: 5 * time.Second, Dur: 30 * time.Second}}

	tpm := backlog
	tpm.Name = "tpm"
	tpm.Server = baseServer(5)
	tpm.Server.TPM = 150_000
	tpm.ClientTPM = 150_000
	tokens := make([]int, tpm.Requests)
	r := rand.New(rand.NewPCG(5, 0x70c3e5))
	for i := range tokens {
		tokens[i] = 100 + r.IntN(1901)
	}
	tpm.TokensPerRequest = func(i int) int { return tokens[i] }

	models := backlog
	models.Name = "many-models"
	models.Server = baseServer(6)
	models.Models = []string{"model-a", "model-b", "model-c"}

	return []Scenario{backlog, config2x, bursts, outage, tpm, models}
}
