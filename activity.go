package ratellmiter

// The fields of a minute log that the ticket path counts.
const (
	fieldRequested = iota
	fieldIssued
	fieldOverflow
	fieldRateLimited
	fieldFinished
)

// activity accumulates a limiter's current minute for the log: counters
// per second and the pause events. It only counts when the limiter's
// Monitor writes logs. Guarded by the limiter's mu.
type activity struct {
	rec       *MinuteLog
	minute    int64 // Unix second at which rec's minute starts
	pauseFrom int   // second of rec where the pause in progress began; -1 if none
}

// current returns the record of the minute containing now, handing a
// finished minute to the Monitor first. A time read before the lock was
// taken (Acquire reads the clock first) may fall in a minute already
// handed on, or before the current record's: the event counts at the
// limiter's time instead, so that the minute is not opened again (a
// paused limiter's second record of it would mark the whole minute
// paused).
func (a *activity) current(l *BucketRateLimiter, now int64) (*MinuteLog, int) {
	sec := secOf(now)
	start := sec - int64(mod60(sec))
	if start < a.minute || a.rec == nil && start == a.minute {
		now = max(now, l.now())
		sec = secOf(now)
		start = sec - int64(mod60(sec))
	}
	if a.rec != nil && start != a.minute {
		if start < a.minute {
			// Never happens on the monotonic time line; keep counting
			// in the current record rather than lose the count.
			return a.rec, 0
		}
		l.mon.enqueue(a.finish(59))
	}
	if a.rec == nil {
		a.minute = start
		a.rec = &MinuteLog{
			V:         LogVersion,
			Limiter:   loggedName(l.name),
			Start:     start,
			StartTime: l.timeOf(start * nsPerSec).UTC().Format(rfc3339),
			RPM:       l.b.rpm,
		}
		a.rec.Service = loggedName(l.serviceName)
		if l.err != nil {
			l.mon.keepClosed(l) // a closed limiter has a minute to log again
		}
		a.pauseFrom = -1
		if l.p.paused {
			a.pauseFrom = 0
		}
	}
	return a.rec, int(sec - start)
}

// add counts one event of the given field at now.
func (a *activity) add(l *BucketRateLimiter, now int64, field int) {
	if !l.logging {
		return
	}
	r, s := a.current(l, now)
	switch field {
	case fieldRequested:
		r.Requested[s]++
	case fieldIssued:
		r.Issued[s]++
	case fieldOverflow:
		r.Overflow[s]++
	case fieldRateLimited:
		r.RateLimited[s]++
	case fieldFinished:
		r.Finished[s]++
	}
}

// unissue takes back the count of a ticket issued at 'at' and given back
// unused (its waiter gave up as it was issued), so that the log shows
// issued what was used. A ticket of a minute already handed on stays
// counted there.
func (a *activity) unissue(l *BucketRateLimiter, at int64) {
	if !l.logging || a.rec == nil {
		return
	}
	sec := secOf(at)
	if s := mod60(sec); sec-int64(s) == a.minute && a.rec.Issued[s] > 0 {
		a.rec.Issued[s]--
	}
}

// event records a pause, probe or resume.
func (a *activity) event(l *BucketRateLimiter, now int64, kind, detail string) {
	if !l.logging {
		return
	}
	r, s := a.current(l, now)
	r.Events = append(r.Events, LogEvent{Second: s, Kind: kind, Detail: detail})
	switch kind {
	case EventPause:
		if a.pauseFrom < 0 {
			a.pauseFrom = s
		}
	case EventResume:
		a.markPaused(s)
		a.pauseFrom = -1
	}
}

// markPaused marks the seconds from the start of the pause to 'to' paused.
func (a *activity) markPaused(to int) {
	if a.pauseFrom < 0 {
		return
	}
	for s := a.pauseFrom; s <= to && s < 60; s++ {
		a.rec.Paused[s] = true
	}
}

// finish closes the current record, marking the pause in progress, if
// any, paused up to second 'to', and returns it.
func (a *activity) finish(to int) *MinuteLog {
	r := a.rec
	a.markPaused(to)
	a.rec = nil
	return r
}

// take returns the record if its minute is over at now, or, when final,
// whatever was recorded; otherwise nil. A paused limiter keeps a record
// open so that its log shows the pause even when nothing else happens.
// A pause in progress is marked up to the end of a minute that is over,
// and, when final, up to now in the minute that is not: the limiter ends
// then, and its pause with it.
func (a *activity) take(l *BucketRateLimiter, now int64, final bool) *MinuteLog {
	if !l.logging {
		return nil
	}
	if a.rec == nil || final && l.p.paused {
		if !l.p.paused {
			return nil
		}
		// A paused limiter's minute of now is opened (a minute that is
		// over goes to the Monitor first): when final, the pause lasts
		// until now, and that minute shows it.
		a.current(l, now)
	}
	sec := secOf(now)
	if sec-int64(mod60(sec)) != a.minute {
		return a.finish(59)
	}
	if final {
		return a.finish(mod60(sec))
	}
	return nil
}
