package fakeprovider

import "time"

// Outage makes every request for the next d (per Config.Now) fail. Rather
// than a 503, each is refused the way a throttled request is: 429 with the
// provider's rate-limit error body and a Retry-After header equal to the
// rest of the outage, so clients exercise their rate-limit path. A later
// call replaces the end of the outage; d <= 0 ends it.
func (s *Server) Outage(d time.Duration) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outageUntil = now.Add(max(d, 0))
}

// QuotaExhausted turns on or off the "out of credit" failure for model, or
// for every model when model is "". While on, requests for it get 429 with
// OpenAI's insufficient_quota error or Anthropic's rate_limit_error with
// error_code enforced_spend_limit_reached, and no Retry-After header:
// waiting does not help.
func (s *Server) QuotaExhausted(model string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.quota[model] = true
	} else {
		delete(s.quota, model)
	}
}

// Overloaded makes the next n Anthropic requests fail with 529
// overloaded_error before they are charged; OpenAI requests are not
// affected. It replaces any count still pending; n <= 0 clears it.
func (s *Server) Overloaded(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.overloads = max(n, 0)
}

// SetRPM changes the request budget from now on. A raise keeps what was
// already spent, so a rested server can take the new, larger burst at once;
// a cut trims what is left to the new capacity. Values below 1 are treated
// as 1 and values above 100,000,000 as 100,000,000.
func (s *Server) SetRPM(n int) {
	n = min(max(n, 1), maxLimit)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lim.gate.setRPM(int64(n), now)
}
