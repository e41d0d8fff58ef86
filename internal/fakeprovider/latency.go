package fakeprovider

import (
	"math"
	"math/rand/v2"
	"time"
)

// latencySigma is the spread of the lognormal latency: about two thirds of
// requests take between 0.6 and 1.65 times the median.
const latencySigma = 0.5

// latency draws the processing time of one admitted request.
func (s *Server) latency() time.Duration {
	if s.cfg.Latency == nil && s.cfg.LatencyMedian == 0 {
		return 0
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	if s.cfg.Latency != nil {
		return s.cfg.Latency(s.rng)
	}
	return lognormal(s.rng, s.cfg.LatencyMedian)
}

// lognormal draws a lognormal duration with the given median, clamped to
// between a tenth of it and ten times it so that a test never waits on an
// extreme draw.
func lognormal(r *rand.Rand, median time.Duration) time.Duration {
	f := math.Exp(latencySigma * r.NormFloat64())
	f = min(max(f, 0.1), 10)
	return time.Duration(float64(median) * f)
}
