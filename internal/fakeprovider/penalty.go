package fakeprovider

import "time"

// penalty models abuse protection: a client that keeps sending requests
// that are refused is refused outright for a while. A refusal that comes
// within a second of the previous one is a strike; more than threshold
// strikes within one second start the penalty. It is not safe for
// concurrent use.
type penalty struct {
	threshold   int           // strikes tolerated within one second
	duration    time.Duration // 0 disables the penalty
	lastRefused time.Time
	strikes     []time.Time // strikes of the last second
	until       time.Time   // end of the current penalty
}

// active reports whether a penalty is running at now and how long it lasts.
func (p *penalty) active(now time.Time) (bool, time.Duration) {
	if p.duration <= 0 || !now.Before(p.until) {
		return false, 0
	}
	return true, p.until.Sub(now)
}

// refused records a refusal at now and reports whether it starts a penalty.
func (p *penalty) refused(now time.Time) bool {
	if p.duration <= 0 {
		return false
	}
	recent := !p.lastRefused.IsZero() && now.Sub(p.lastRefused) < time.Second
	p.lastRefused = now
	if !recent {
		return false
	}
	kept := p.strikes[:0]
	for _, t := range p.strikes {
		if now.Sub(t) < time.Second {
			kept = append(kept, t)
		}
	}
	p.strikes = append(kept, now)
	if len(p.strikes) <= p.threshold {
		return false
	}
	p.strikes = p.strikes[:0]
	p.until = now.Add(p.duration)
	return true
}
