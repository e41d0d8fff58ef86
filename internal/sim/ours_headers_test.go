package sim

import "testing"

// TestOursWhenTheServerSendsLimitHeaders runs the comparison against
// servers that send OpenAI's rate-limit headers with every answer, as
// OpenAI, Anthropic and Groq do, and asserts what holds there, as
// measured. Only ratellmiter reads them (ObserveHeaders); the peers run as
// before.
func TestOursWhenTheServerSendsLimitHeaders(t *testing.T) {
	scenarios := withHeaders(Scenarios())
	_, get := runOurs(t, scenarios)
	for _, s := range scenarios {
		ours := get(s.Name, OursName)
		for _, p := range Peers() {
			if peer := get(s.Name, p.Name); ours.Completion.Seconds() > 1.05*peer.Completion.Seconds() {
				t.Errorf("%s: ratellmiter %v, %s %v", s.Name, ours.Completion, p.Name, peer.Completion)
			}
		}
		if s.Name != "outage" && ours.RateLimited != 0 {
			t.Errorf("%s: ratellmiter saw %d 429s", s.Name, ours.RateLimited)
		}
	}
	// Configured at twice the real limit, it takes the server's limit
	// from the first answer, before any 429: the backlog at the right
	// rate (13.0 s measured, against 12.8 s), where without headers one
	// penalty costs it 10 s.
	r, backlog := get("config-2x", OursName), get("backlog", OursName)
	if r.Completion.Seconds() > 1.05*backlog.Completion.Seconds() {
		t.Errorf("config-2x: ratellmiter %v, more than 5%% over its backlog time %v", r.Completion, backlog.Completion)
	}
	for _, p := range Peers() {
		if peer := get("config-2x", p.Name); 2*r.Completion > peer.Completion {
			t.Errorf("config-2x: ratellmiter %v not twice as fast as %s %v", r.Completion, p.Name, peer.Completion)
		}
	}
}
