package ratellmiter

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// The limit a limiter works at is the least of the configured one, the one
// the server reports in its rate-limit headers, and the one it learned from
// the server's behaviour.
//
// Learning follows additive increase, multiplicative decrease, with a guard
// against mistaking an outage for a wrong limit: a pause alone says only
// that the server refused requests for a while. Two things say the rate
// itself is too high, and each halves the limit (once per pause):
//
//   - the server admitted part of the traffic: while the limiter was
//     paused, a ticket issued at least partialMargin after a refused one
//     came back successful. A server that is down, or punishing the
//     client, refuses everything from the first refusal on; one whose
//     limit is below the rate refuses only the excess. Only successes
//     that come back during the pause count, so that a request that was
//     answered before a slower, earlier one was refused (the server went
//     down between the two answers) does not; the margin keeps requests
//     that overtook one another on the network from counting. This is
//     judged when the pause ends, once the tickets in flight are back.
//   - a pause starts within a minute of the previous resume. (The rate
//     issued just before is no better a base: it is still ramping up after
//     the resume.)
//
// An overloaded server's refusals (a 529, a 503 with a hint) count for
// neither: they pause the limiter, but the server's load caused them, not
// the rate. Nor is a pause of overloads alone the previous pause of the
// second rule: a rate limit soon after its resume is the first sign of a
// rate too high, as a rate limit after a quiet spell is. On a shared quota
// the store tells whether its pause was one of overloads alone, whichever
// limiter saw them, and whether any limiter saw a rate limit in it.
//
// Every clean minute after that adds back 5% of the configured limit, until
// the configured (or reported) limit is reached again.
const (
	learnWindow   = 60 * nsPerSec // a pause this soon after a resume lowers the limit
	learnStepFrac = 0.05          // share of the configured limit added per clean minute
	partialMargin = int64(20 * time.Millisecond)
)

// minuteWindow is the latest reset of a budget the server enforces per
// minute; a budget that resets later is one of a longer window, a day's
// (see signals.MinuteWindow).
const minuteWindow = signals.MinuteWindow

// limitState holds the limits behind the effective one. Guarded by mu.
type limitState struct {
	configured int
	reported   int   // requests per minute the server says; 0 if unknown
	learned    int   // the learned limit; 0 if none
	lastResume int64 // when the last pause ended; 0 if never
	lastChange int64 // when learned last changed; after a raise, the end of the last clean minute counted
	holdUntil  int64 // the server said its budget is spent until then
	spentUntil int64 // the server said its request budget of a longer window (a day) is spent until then
	spentLimit int64 // that budget's size, when sent
	server     ServerLimits

	// overloadResume says the last pause ended was one of overloads
	// alone: a pause soon after it is the first sign of a rate too high.
	// On a shared quota, the store's word (SyncReply.Overload) can only
	// clear it: a limiter sharing the quota saw a rate limit in the pause.
	overloadResume bool
}

// effective returns the limit to work at.
func (s *limitState) effective() int {
	r := s.configured
	if s.reported > 0 {
		r = min(r, s.reported)
	}
	if s.learned > 0 {
		r = min(r, s.learned)
	}
	return r
}

// applyLimit makes the bucket work at the effective limit. Requires mu.
func (l *BucketRateLimiter) applyLimit() {
	if r := l.lim.effective(); r != l.b.rpm {
		l.b.setRate(r, l.cfg.rampStart, l.cfg.rampStep)
		if l.act.rec != nil {
			// The minute's log keeps the limit at its end; a record
			// whose minute is over goes to the Monitor first, as it was.
			rec, _ := l.act.current(l, l.now())
			rec.RPM = r
		}
	}
}

// learnFromPause lowers the learned limit when a pause starts at now soon
// after the previous one ended, unless that one was a pause of overloads
// alone, which said nothing of the rate. Requires mu.
func (l *BucketRateLimiter) learnFromPause(now int64) {
	s := &l.lim
	if !l.cfg.learn || s.lastResume == 0 || s.overloadResume || now-s.lastResume > learnWindow {
		return
	}
	l.halveLimit(now, fmt.Sprintf("paused again %v after resuming",
		time.Duration(now-s.lastResume).Round(time.Millisecond)))
}

// learnFromPartial lowers the learned limit, as the pause ending at now
// ends, if during the pause the server's success came back for a ticket
// issued well after one it refused. A limit lowered during the pause
// already, by this limiter or, on a shared quota, by another one that
// judged the same pause, is not lowered again: the pause halves it once.
// Requires mu.
func (l *BucketRateLimiter) learnFromPartial(now int64) {
	p := &l.p
	if !l.cfg.learn || p.lowered || !p.refused {
		return
	}
	if l.sh != nil && l.lim.learned != 0 && l.lim.lastChange >= p.since {
		return // the store brought a limit learned in this pause
	}
	if ok := l.okIssued.Load(); ok-p.refusedFrom >= partialMargin {
		l.halveLimit(now, fmt.Sprintf("the server admitted a request issued %v after one it refused",
			time.Duration(ok-p.refusedFrom).Round(time.Millisecond)))
	}
}

// halveLimit halves the limit the limiter works at, once per pause.
// Requires mu.
func (l *BucketRateLimiter) halveLimit(now int64, why string) {
	s := &l.lim
	rpm := s.effective()
	if l.sh != nil {
		// The rate the quota ran at: the caps the store held it to,
		// where below this limiter's own.
		_, rpm = l.sh.caps(l)
	}
	s.learned = max(1, rpm/2)
	s.lastChange = now
	l.p.lowered = true
	l.applyLimit()
	l.event(now, EventLimit, fmt.Sprintf("%s: limit lowered to %d RPM", why, l.b.rpm))
}

// raiseLimit adds back to a learned limit after each clean minute: a
// minute since the limit last changed with no pause in it. A limiter
// asked for nothing for a while gets the step of every clean minute that
// passed. A closed limiter's limit stays as it was: Stats and RPM read
// after Close raise nothing, nor log a minute past the close. Requires mu.
func (l *BucketRateLimiter) raiseLimit(now int64) {
	s := &l.lim
	since := max(s.lastChange, s.lastResume)
	if s.learned == 0 || l.p.paused || l.err != nil || now-since < learnWindow {
		return
	}
	if s.learned >= s.configured {
		// A limit learned on a shared quota, not below this limiter's
		// own: it holds the limiters of higher limits that share the
		// quota, and this one neither raises it nor ends it for them.
		return
	}
	// Rounded up, so that the way back from 1 RPM takes at most
	// 1/learnStepFrac clean minutes whatever the configured limit.
	step := max(1, int64(math.Ceil(float64(s.configured)*learnStepFrac-1e-9)))
	minutes := (now - since) / learnWindow
	// No more steps than reach the configured limit, which ends the
	// learned one: their sum cannot overflow.
	steps := min(minutes, int64(max(0, s.configured-s.learned))/step+1)
	s.learned = int(min(int64(s.learned)+steps*step, int64(s.configured)))
	// The part of a minute left over counts toward the next clean one.
	s.lastChange = since + minutes*learnWindow
	// Back at the configured or reported limit, whichever is less, the
	// learned one has nothing more to say.
	if s.learned >= s.configured || s.reported > 0 && s.learned >= s.reported {
		s.learned = 0
	}
	old := l.b.rpm
	l.applyLimit()
	// A learned limit that ends above a lower reported one raised nothing.
	if l.b.rpm != old {
		l.event(now, EventLimit, fmt.Sprintf("%d clean %s: limit raised to %d RPM", minutes, plural(int(minutes), "minute"), l.b.rpm))
	}
}

// SetRPM changes the limiter's configured requests per minute, as when an
// account moves to another tier, without a new limiter: the tickets
// waiting and those to come are spaced at the new rate at once, the
// per-second cap and the ramp follow it, and the tickets already issued
// still count in their seconds and minute. The limit the limiter works at
// stays the least of the configured one, the one the server reports and
// the learned one (see RPM): the limit the server last reported holds
// whatever the configured one (a tier change is seen in the server's
// next headers), and a learned limit not below the new one no longer
// counts. A limiter sharing a quota
// (WithStore) tells the store the new caps at its next sync, and keeps
// a limit learned on the quota even above the new one: the limit is the
// quota's, and holds the limiters sharing it when the quota is no longer
// held to this one's caps. SetRPM
// returns an error for a limit outside [1, 60e9], and for a limiter that
// issues no more one wrapping the error Acquire returns: ErrClosed once
// it is closed, ErrStopped once its Monitor is stopped.
func (l *BucketRateLimiter) SetRPM(requestsPerMinute int) error {
	if requestsPerMinute <= 0 || int64(requestsPerMinute) > maxRPM {
		return fmt.Errorf("ratellmiter: SetRPM(%d): must be in [1, %d]", requestsPerMinute, maxRPM)
	}
	l.lock()
	defer l.mu.Unlock()
	switch {
	case l.closed == nil:
		return fmt.Errorf("ratellmiter: SetRPM(%d): %w", requestsPerMinute, errNotCreated)
	case l.err != nil:
		// ErrClosed, or ErrStopped: what Acquire returns.
		return fmt.Errorf("ratellmiter: SetRPM(%d): %w", requestsPerMinute, l.err)
	}
	s := &l.lim
	if s.configured == requestsPerMinute {
		return nil
	}
	s.configured = requestsPerMinute
	if s.learned >= s.configured && l.sh == nil {
		// On a shared quota the learned limit is the quota's: the
		// other limiters sharing it keep working at it.
		s.learned = 0
	}
	// The limit the server reported stays: below the new configured
	// one it holds, and above it it holds again if the configured one
	// goes back up, until the server reports another.
	now := l.now()
	l.applyLimit()
	l.event(now, EventLimit, fmt.Sprintf("configured limit set to %d RPM; working at %d RPM", requestsPerMinute, l.b.rpm))
	l.dispatch(now)
	return nil
}

// ObserveHeaders takes in the rate-limit headers of a response from the
// service, as the Transport does for every answer it sees: OpenAI's and
// Groq's x-ratelimit-* headers and Anthropic's anthropic-ratelimit-*
// headers. A per-minute request limit below the configured one becomes
// the limit the limiter works at, until the server reports the configured
// one or more again; a budget with nothing remaining holds every ticket
// until its reset, before a 429 can happen; a spent daily request budget
// makes Acquire fail with a QuotaError until its reset. Stats reports what
// was seen. Headers without rate-limit information change nothing.
//
// Programs that call through Do with an SDK client, rather than through
// the Transport, pass the headers of each response here, 429s included
// (openai-go and anthropic-sdk-go hand the *http.Response to
// option.WithResponseInto, and a failed call's error carries it too).
func (l *BucketRateLimiter) ObserveHeaders(h http.Header) { l.observeHeaders(h) }

// observeHeaders takes in h, as ObserveHeaders does, and returns what it
// read of it.
func (l *BucketRateLimiter) observeHeaders(h http.Header) signals.Limits {
	now := time.Now()
	lim := signals.ParseHeaders(h, now)
	l.observe(lim, now)
	return lim
}

// observe takes in the rate-limit headers of a response received at now
// and keeps them for Stats. A request budget whose reset is within a
// minute (minuteWindow) is taken as the per-minute limit the server
// enforces, so the limiter never works above it; a request or token
// budget with nothing remaining stops the limiter from issuing until its
// reset, before a 429 can happen. A request budget of a longer period
// (requests per day) with nothing remaining makes Acquire, those already
// waiting and retries fail fast with a QuotaError until its reset.
func (l *BucketRateLimiter) observe(lim signals.Limits, now time.Time) {
	b := lim.Requests
	known := b.Known || lim.Tokens.Known || lim.InputTokens.Known || lim.OutputTokens.Known
	if !known && b.Limit == 0 {
		return
	}
	// The lock, not lock(): budgets with room left and an unchanged
	// limit change no rule, and must not close the lane on every answer.
	// Whatever changes a rule below closes it first.
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed == nil || l.err != nil {
		return // a zero value, or closed: it issues nothing more
	}
	l.lim.server = ServerLimits{
		Requests:     serverBudget(b),
		Tokens:       serverBudget(lim.Tokens),
		InputTokens:  serverBudget(lim.InputTokens),
		OutputTokens: serverBudget(lim.OutputTokens),
		Seen:         now,
	}
	ns := l.now()
	// A budget with nothing left holds every ticket until its reset,
	// before a 429 can happen.
	for i, spent := range [...]signals.Budget{b, lim.Tokens, lim.InputTokens, lim.OutputTokens} {
		if !spent.Known || spent.Remaining > 0 || spent.Reset.IsZero() {
			continue
		}
		untilReset := spent.Reset.Sub(now)
		if untilReset <= 0 {
			continue
		}
		if untilReset > minuteWindow {
			// A longer window: requests per day, as Groq counts them.
			// Waiting is pointless; Acquire fails fast until the reset.
			if i == 0 { // the request budget
				l.closeLane()
				l.lim.spentUntil, l.lim.spentLimit = after(ns, untilReset), b.Limit
				// Those waiting would be refused for as long: they
				// fail now, with the same error.
				l.refuseWaiters()
			}
			continue
		}
		if until := ns + int64(untilReset); until > l.lim.holdUntil {
			l.closeLane()
			l.lim.holdUntil = until
			l.schedule(ns)
		}
	}
	if !b.Known || b.Reset.IsZero() {
		return
	}
	untilReset := b.Reset.Sub(now)
	if untilReset < 0 || untilReset > minuteWindow {
		return
	}
	// A limit that goes up lets the waiting tickets go at the new spacing,
	// not at the end of the old one. (This runs before the unlock.)
	old := l.b.rpm
	defer func() {
		if l.b.rpm > old {
			l.dispatch(ns)
		}
	}()
	switch {
	case b.Limit <= 0:
	case b.Limit < int64(l.lim.configured) && int(b.Limit) != l.lim.reported:
		l.closeLane()
		l.lim.reported = int(b.Limit)
		l.applyLimit()
		l.event(ns, EventLimit, fmt.Sprintf("server reports a limit of %d requests per minute", b.Limit))
	case b.Limit >= int64(l.lim.configured) && int64(l.lim.reported) != min(b.Limit, maxRPM):
		// The account's limit is at least the configured one (a new
		// tier, or the configured one was lowered): the configured one
		// holds, and the server's holds again should SetRPM raise the
		// configured one above it.
		// Kept from a first report, the limit worked at is the same:
		// no rule changes, and the lane stays open.
		wasBelow := l.lim.reported != 0 && l.lim.reported < l.lim.configured
		l.lim.reported = int(min(b.Limit, maxRPM))
		if l.lim.effective() != l.b.rpm {
			l.closeLane()
			l.applyLimit()
		}
		if wasBelow {
			l.event(ns, EventLimit, fmt.Sprintf("server reports a limit of %d requests per minute, at least the configured %d", b.Limit, l.lim.configured))
		}
	}
}

// spentRefusal returns a QuotaError while the server says its request
// budget of a longer window is used up. Requires mu.
func (l *BucketRateLimiter) spentRefusal(now int64) error {
	s := &l.lim
	return l.usedUpUntil(now, s.spentUntil, fmt.Sprintf("the server reports its request budget (limit %d) used up; it resets", s.spentLimit))
}
