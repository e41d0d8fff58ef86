package sim

import (
	"testing"

	"golang.org/x/time/rate"
)

// The x/time/rate peer of the comparison is the configuration a user
// who knows only the rate writes: a burst of 1 and no token limit. The
// tests here measure the two configurations a user who knows more of
// the server would write instead, as the README reports them.

// xrateServerBurstName is x/time/rate with the burst of the server's
// token bucket.
const xrateServerBurstName = "x/time/rate burst R/60"

// xrateServerBurst builds the XRate policy with a burst of RPM/60, the
// capacity of the token bucket the providers document.
func xrateServerBurst() ClientFactory {
	return ClientFactory{Name: xrateServerBurstName, New: func(s Scenario) Client {
		return &namedXRate{name: xrateServerBurstName, XRate: &XRate{
			lim: rate.NewLimiter(rate.Limit(float64(s.ClientRPM)/60), max(s.ClientRPM/60, 1)),
		}}
	}}
}

type namedXRate struct {
	name string
	*XRate
}

func (c *namedXRate) Name() string { return c.name }

// xrateTokensName is x/time/rate with a second limiter for tokens.
const xrateTokensName = "x/time/rate + tokens"

// xrateWithTokens is the XRate policy (burst of 1) with a second limiter
// for the scenario's token limit, at TPM/60 tokens a second with a burst
// of TPM/60, waited on for each attempt's tokens with WaitN.
func xrateWithTokens() ClientFactory {
	return ClientFactory{Name: xrateTokensName, New: func(s Scenario) Client {
		c := NewXRate(s.ClientRPM)
		if s.ClientTPM > 0 {
			c.tok = rate.NewLimiter(rate.Limit(float64(s.ClientTPM)/60), max(s.ClientTPM/60, 1))
		}
		return &namedXRate{name: xrateTokensName, XRate: c}
	}}
}

// TestXRateWithTheServersBurstBeatsOursOnATokenBucketOnly checks what the
// README says of x/time/rate given a burst of R/60: against the token
// bucket of the comparison it uses the server's initial burst, which
// ratellmiter leaves unused, and finishes with the oracle, ahead of
// ratellmiter; against fixed one-second windows its bursts straddle a
// window's end, and the penalties cost it several times ratellmiter's
// time. The comparison's peer keeps a burst of 1, the setting that
// holds on both kinds of server.
func TestXRateWithTheServersBurstBeatsOursOnATokenBucketOnly(t *testing.T) {
	fixed := onFixedSecondWindows(Scenarios())
	for i := range fixed {
		fixed[i].Name += "/fixed-second"
	}
	results := runAll(t, append(Scenarios(), fixed...),
		[]ClientFactory{Peers()[2], xrateServerBurst(), Ours(), OracleFactory()})
	t.Log("\n" + FormatTable(results))
	get := func(scenario, client string) Result { return find(t, results, scenario, client) }

	for _, name := range []string{"backlog", "bursts", "outage", "many-models"} {
		b, ours, o := get(name, xrateServerBurstName), get(name, OursName), get(name, OracleName)
		if b.Completion > ours.Completion || b.Completion.Seconds() > 1.02*o.Completion.Seconds() {
			t.Errorf("%s: x/time/rate with a burst %v, ratellmiter %v, oracle %v; want it with the oracle, ahead of ratellmiter",
				name, b.Completion, ours.Completion, o.Completion)
		}
	}
	for _, name := range []string{"backlog", "many-models"} {
		if b := get(name, xrateServerBurstName); 100*b.RateLimited > b.Requests {
			t.Errorf("%s: x/time/rate with a burst saw %d 429s", name, b.RateLimited)
		}
	}
	for _, name := range []string{"backlog", "many-models"} {
		b, ours := get(name+"/fixed-second", xrateServerBurstName), get(name+"/fixed-second", OursName)
		if b.RateLimited < 100 || b.Completion < 3*ours.Completion {
			t.Errorf("%s on fixed seconds: x/time/rate with a burst %v with %d 429s, ratellmiter %v; want penalties",
				name, b.Completion, b.RateLimited, ours.Completion)
		}
	}
}

// TestXRateWithATokenLimiterMatchesOurTokenBudget checks what the README
// says of x/time/rate given a second limiter for tokens: in the
// tokens-per-minute scenario it finishes with ratellmiter against a
// token bucket, and against fixed one-second windows, where
// ratellmiter's learning slows it down, in well under half its time.
func TestXRateWithATokenLimiterMatchesOurTokenBudget(t *testing.T) {
	var tpm Scenario
	for _, s := range Scenarios() {
		if s.Name == "tpm" {
			tpm = s
		}
	}
	fixed := onFixedSecondWindows([]Scenario{tpm})[0]
	fixed.Name += "/fixed-second"
	results := runAll(t, []Scenario{tpm, fixed}, []ClientFactory{xrateWithTokens(), Ours(), OracleFactory()})
	t.Log("\n" + FormatTable(results))
	get := func(scenario, client string) Result { return find(t, results, scenario, client) }

	x, ours := get("tpm", xrateTokensName), get("tpm", OursName)
	if x.Completed != x.Requests || x.Completion.Seconds() > 1.01*ours.Completion.Seconds() {
		t.Errorf("tpm: x/time/rate with tokens %v (%d of %d done), ratellmiter %v; want them level",
			x.Completion, x.Completed, x.Requests, ours.Completion)
	}
	x, ours = get(fixed.Name, xrateTokensName), get(fixed.Name, OursName)
	if x.Completed != x.Requests || 2*x.Completion > ours.Completion {
		t.Errorf("tpm on fixed seconds: x/time/rate with tokens %v (%d of %d done), ratellmiter %v; want it twice as fast",
			x.Completion, x.Completed, x.Requests, ours.Completion)
	}
}
