package fakeprovider

import (
	"fmt"
	"time"
)

// outcome is how the server answers one request.
type outcome int

const (
	outcomeAccept      outcome = iota
	outcomeRateLimited         // over a budget: 429
	outcomePenalty             // penalised for hammering: 429
	outcomeOutage              // injected outage: 429
	outcomeQuota               // injected exhausted quota: 429
	outcomeOverloaded          // injected overload: 529
)

// decision is the server's answer to one request, taken under its lock.
type decision struct {
	kind      outcome
	v         verdict       // for outcomeRateLimited
	retry     time.Duration // for outcomes that carry Retry-After
	snap      snapshot
	seq       uint64
	requestID string
}

// decide checks the injections and charges the request against the
// budgets. overloadable says whether the endpoint can answer 529.
func (s *Server) decide(overloadable bool, model string, in, out int64, now time.Time) decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	d := decision{seq: s.seq, requestID: fmt.Sprintf("req_fake%012d", s.seq)}
	switch {
	case s.quota[model] || s.quota[""]:
		d.kind = outcomeQuota
	case now.Before(s.outageUntil):
		d.kind, d.retry = outcomeOutage, s.outageUntil.Sub(now)
	default:
		if on, left := s.pen.active(now); on {
			d.kind, d.retry = outcomePenalty, left
			break
		}
		if overloadable && s.overloads > 0 {
			s.overloads--
			d.kind = outcomeOverloaded
			break
		}
		d.v = s.lim.admit(now, in, out)
		switch {
		case d.v.ok:
			d.kind = outcomeAccept
		case !d.v.tooLarge && s.pen.refused(now):
			_, left := s.pen.active(now)
			d.kind, d.retry = outcomePenalty, left
		default:
			d.kind, d.retry = outcomeRateLimited, d.v.wait
		}
	}
	d.snap = s.lim.snapshot(now)
	return d
}
