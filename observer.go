package ratellmiter

import "time"

// An Observer is told how long each ticket waited before it was issued,
// for a histogram of waits (the metrics package's Collector is one).
//
// ObserveWait is called once per issued ticket, from the goroutine that
// asked for it and without any lock of the limiter held: wait is 0 for a
// ticket issued at once, and retry is true for a rate-limited ticket
// issued again. It must be safe for concurrent use and quick, and must
// not call back into the limiter. If it panics, the ticket is abandoned
// (it holds no in-flight slot) and the panic goes on to the caller.
type Observer interface {
	ObserveWait(limiter string, wait time.Duration, retry bool)
}

// ObserverOption is an option for both a BucketRateLimiter and a Monitor.
type ObserverOption struct{ o Observer }

func (o ObserverOption) applyLimiter(c *config) error  { c.observer = o.o; return nil }
func (o ObserverOption) applyMonitor(c *monitorConfig) { c.observer = o.o }

// WithObserver sets the Observer of ticket waits. A limiter without one
// uses its Monitor's; by default nothing observes. A nil o, or a nil
// pointer (a *metrics.Collector variable never set, say), sets none.
func WithObserver(o Observer) ObserverOption {
	if isNil(o) {
		o = nil
	}
	return ObserverOption{o}
}

// observeAtOnce reports t, issued without waiting, to the limiter's
// Observer, if any. Called without mu.
func (l *BucketRateLimiter) observeAtOnce(t *Ticket) {
	if l.observer != nil {
		defer abandonOnPanic(t)
		l.observer.ObserveWait(l.name, 0, false)
	}
}

// observeWait reports t's wait, begun at start (on the limiter's time
// line), to the limiter's Observer, if any. Called without mu.
func (l *BucketRateLimiter) observeWait(t *Ticket, start int64, retry bool) {
	if l.observer == nil {
		return
	}
	defer abandonOnPanic(t)
	l.observer.ObserveWait(l.name, time.Duration(max(0, l.now()-start)), retry)
}

// abandonOnPanic, deferred, finishes the issued ticket t when the Observer
// panics, before the panic goes on to the caller, who never gets t.
func abandonOnPanic(t *Ticket) {
	if r := recover(); r != nil {
		t.Abandon()
		panic(r)
	}
}
