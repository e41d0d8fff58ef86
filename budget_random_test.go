package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Random workloads against a limiter with a random mix of budgets (tokens
// per minute, input and output tokens per minute, WithTokenBurst, requests
// per day, an in-flight cap, WithMaxWait), in virtual time: callers that
// Acquire (with and without deadlines, cancelled at random) or TryAcquire
// with token charges of 0, small, or near a minute's budget or its bank,
// hand their ticket back as rate limited once or twice, and finish it,
// reporting usage below or above the estimate, before or after Done, or
// twice. A ledger records what each caller was issued when and charged
// what (its estimate, its refunds, its corrections), and the test checks:
//
//   - under each budget, no ticket went out before the level, refilling
//     continuously and banking the documented bank, covered its charge (or,
//     for a charge larger than the bank, the bank was full);
//   - a provider's bucket that refills the same and holds a whole minute's
//     budget (a day's, for the daily one) always had room for what went
//     out;
//   - no ticket went out for more than a minute's budget, and
//     ErrExceedsBudget came at once and only for such charges; a daily
//     refusal at once names a reset more than a minute away; every error is
//     a documented one, and no wait outlasted its deadline or WithMaxWait;
//   - callers never held more tickets than WithMaxInFlight;
//   - the head of the line never waits past the moment every rule lets it
//     go, and every caller returns once the workload stops;
//   - new requests are served in the order they asked, after every retry,
//     retries in the order they were handed back, and TryAcquire never
//     goes past a waiter;
//   - Stats add up after every step.

const (
	ledgerSeeds = 60
	ledgerSteps = 150
)

// ledgerEvent is what a caller saw: a ticket issued for in and out tokens,
// a charge corrected by in and out, or a charge of in and out refunded.
type ledgerEvent struct {
	at      time.Time
	id      int
	kind    int // ledgerIssue, ledgerAdjust, ledgerRefund
	in, out int64
	try     bool
	retry   bool
}

const (
	ledgerIssue = iota
	ledgerAdjust
	ledgerRefund
)

// ledgerRun is one random run.
type ledgerRun struct {
	t     *testing.T
	seed  uint64
	rng   *rand.Rand
	m     *Monitor
	l     *BucketRateLimiter
	start time.Time

	rpm, tpm, itpm, otpm, rpd, maxIn int
	burst, maxWait                   time.Duration

	randomCallers
	cancels []context.CancelFunc

	mu     sync.Mutex
	events []ledgerEvent
	nextID int
	held   int
	// waits are the tickets callers got: when they asked (or handed it
	// back, for a retry), and when they got it.
	waits []ledgerWait
}

type ledgerWait struct {
	id          int
	from, until time.Time
	retry       bool
}

func TestBudgetsHoldUnderRandomWorkloads(t *testing.T) {
	for seed := range uint64(ledgerSeeds) {
		synctest.Test(t, func(t *testing.T) { newLedgerRun(t, seed).run() })
		if t.Failed() {
			t.Fatalf("run with seed %d failed", seed)
		}
	}
}

func newLedgerRun(t *testing.T, seed uint64) *ledgerRun {
	r := &ledgerRun{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0xb0d9e7))}
	if r.rng.IntN(3) == 0 {
		r.m = NewMonitor(WithLogDir(t.TempDir()))
	} else {
		r.m = NewMonitor()
	}
	t.Cleanup(func() { r.m.Stop() })
	r.rpm = []int{6, 60, 600, 6000}[r.rng.IntN(4)]
	opts := []Option{WithMonitor(r.m), WithProbeInterval(time.Second, 8*time.Second, 2)}
	pick := func() int { return []int{600, 6000, 60000}[r.rng.IntN(3)] }
	for r.tpm+r.itpm+r.otpm+r.rpd == 0 {
		if r.rng.IntN(2) == 0 {
			r.tpm = pick()
			opts = append(opts, WithTokensPerMinute(r.tpm))
		}
		if r.rng.IntN(3) == 0 {
			r.itpm = pick()
			opts = append(opts, WithInputTokensPerMinute(r.itpm))
		}
		if r.rng.IntN(3) == 0 {
			r.otpm = pick()
			opts = append(opts, WithOutputTokensPerMinute(r.otpm))
		}
		if r.rng.IntN(4) == 0 {
			r.rpd = []int{5, 30, 200}[r.rng.IntN(3)]
			opts = append(opts, WithRequestsPerDay(r.rpd))
		}
	}
	if r.rng.IntN(2) == 0 {
		r.burst = []time.Duration{time.Millisecond, 5 * time.Second, 30 * time.Second, time.Minute}[r.rng.IntN(4)]
		opts = append(opts, WithTokenBurst(r.burst))
	}
	if r.rng.IntN(3) == 0 {
		r.maxIn = 1 + r.rng.IntN(4)
		opts = append(opts, WithMaxInFlight(r.maxIn))
	}
	if r.rng.IntN(4) == 0 {
		r.maxWait = time.Duration(1+r.rng.IntN(20)) * time.Second
		opts = append(opts, WithMaxWait(r.maxWait))
	}
	var err error
	r.l, err = NewBucketRateLimiter(r.rpm, opts...)
	if err != nil {
		t.Fatal(err)
	}
	r.start = time.Now()
	return r
}

// desc describes the run's limiter.
func (r *ledgerRun) desc() string {
	return fmt.Sprintf("seed %d (rpm %d tpm %d itpm %d otpm %d rpd %d burst %v maxIn %d maxWait %v)",
		r.seed, r.rpm, r.tpm, r.itpm, r.otpm, r.rpd, r.burst, r.maxIn, r.maxWait)
}

// record adds e to the ledger, at the time it happened.
func (r *ledgerRun) record(e ledgerEvent) {
	r.mu.Lock()
	e.at = time.Now()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// hold counts d more tickets held by callers.
func (r *ledgerRun) hold(d int) {
	r.mu.Lock()
	r.held += d
	if r.maxIn > 0 && r.held > r.maxIn {
		r.unexpected("%d tickets held at once, WithMaxInFlight(%d)", r.held, r.maxIn)
	}
	r.mu.Unlock()
}

// count draws a token count: 0, small, or near one of the budgets.
func (r *ledgerRun) count() int {
	switch r.rng.IntN(8) {
	case 0:
		return 0
	case 1, 2, 3:
		return r.rng.IntN(100)
	}
	var lims []int
	for _, n := range []int{r.tpm, r.itpm, r.otpm} {
		if n > 0 {
			lims = append(lims, n)
			bank := float64(n) / 60
			if r.burst > 0 {
				bank = float64(n) * r.burst.Seconds() / 60
			}
			lims = append(lims, int(bank))
		}
	}
	if len(lims) == 0 {
		return r.rng.IntN(1000)
	}
	n := lims[r.rng.IntN(len(lims))]
	switch r.rng.IntN(4) {
	case 0:
		return max(0, n-1)
	case 1:
		return n
	case 2:
		return n + 1
	}
	return r.rng.IntN(n + 1)
}

// exceeds reports whether a call of in and out tokens needs more than a
// minute of a token budget.
func (r *ledgerRun) exceeds(in, out int) bool {
	return r.tpm > 0 && in+out > r.tpm || r.itpm > 0 && in > r.itpm || r.otpm > 0 && out > r.otpm
}

// charged is what Used charges for a usage of in and out tokens: at
// most a minute of each token budget, the output lowered first where the
// combined budget is exceeded.
func (r *ledgerRun) charged(in, out int) (int64, int64) {
	i, o := int64(in), int64(out)
	if r.otpm > 0 {
		o = min(o, int64(r.otpm))
	}
	if r.tpm > 0 && i+o > int64(r.tpm) {
		o = max(0, int64(r.tpm)-i)
		i = min(i, int64(r.tpm)-o)
	}
	if r.itpm > 0 {
		i = min(i, int64(r.itpm))
	}
	return i, o
}

// ctx returns a caller's context: without end, with a deadline, or one
// the run may cancel.
func (r *ledgerRun) ctx() context.Context {
	switch r.rng.IntN(4) {
	case 0, 1:
		return context.Background()
	case 2:
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.rng.IntN(30_000))*time.Millisecond)
		r.cancels = append(r.cancels, cancel)
		return ctx
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancels = append(r.cancels, cancel)
	return ctx
}

// ledgerPlan is what a caller does with its ticket: hand it back as rate
// limited with each hint, holding it before each report, then finish it
// in one of five ways, reporting in and out tokens used.
type ledgerPlan struct {
	rateLimits []time.Duration // hints
	holds      []time.Duration
	final      int
	in, out    int
}

// plan draws a caller's plan for a ticket charged in and out tokens: the
// usage it reports is none, the estimate, less or up to twice as much.
func (r *ledgerRun) plan(in, out int) ledgerPlan {
	var p ledgerPlan
	if r.rng.IntN(4) == 0 {
		for range 1 + r.rng.IntN(2) {
			p.rateLimits = append(p.rateLimits, time.Duration(r.rng.IntN(3))*time.Second)
		}
	}
	for range len(p.rateLimits) + 1 {
		p.holds = append(p.holds, time.Duration(r.rng.IntN(3000))*time.Millisecond)
	}
	p.final = r.rng.IntN(5)
	scale := func(n int) int {
		switch r.rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return n
		case 2:
			return r.rng.IntN(n + 1)
		}
		return n + r.rng.IntN(n+1)
	}
	p.in, p.out = scale(in), scale(out)
	return p
}

// spawnAcquire starts a caller that takes a ticket and carries out a plan.
func (r *ledgerRun) spawnAcquire() {
	in, out := r.count(), r.count()
	useTokens := r.rng.IntN(5) != 0
	if !useTokens {
		in, out = 0, 0
	}
	try := r.rng.IntN(4) == 0
	ctx := r.ctx()
	p := r.plan(in, out)
	r.mu.Lock()
	id := r.nextID
	r.nextID++
	r.mu.Unlock()
	r.spawn(func() {
		var opts []AcquireOption
		if useTokens {
			opts = append(opts, WithTokens(in, out))
		}
		start := time.Now()
		var tk *Ticket
		if try {
			var ok bool
			tk, ok = r.l.TryAcquire(opts...)
			if !ok {
				return
			}
		} else {
			var err error
			tk, err = r.l.Acquire(ctx, opts...)
			if err != nil {
				r.checkErr("Acquire", ctx, start, err, in, out)
				return
			}
		}
		if useTokens && r.exceeds(in, out) {
			r.unexpected("ticket %d issued for WithTokens(%d, %d), more than a minute's budget", id, in, out)
		}
		r.record(ledgerEvent{id: id, kind: ledgerIssue, in: int64(in), out: int64(out), try: try})
		r.mu.Lock()
		r.waits = append(r.waits, ledgerWait{id: id, from: start, until: time.Now()})
		r.mu.Unlock()
		r.hold(1)
		cin, cout := int64(in), int64(out)
		for i, hint := range p.rateLimits {
			time.Sleep(p.holds[i])
			r.hold(-1)
			r.record(ledgerEvent{id: id, kind: ledgerRefund, in: cin, out: cout})
			from := time.Now()
			if err := tk.RateLimited(ctx, hint); err != nil {
				r.checkErr("RateLimited", ctx, from, err, in, out)
				return
			}
			r.record(ledgerEvent{id: id, kind: ledgerIssue, in: cin, out: cout, retry: true})
			r.mu.Lock()
			r.waits = append(r.waits, ledgerWait{id: id, from: from, until: time.Now(), retry: true})
			r.mu.Unlock()
			r.hold(1)
		}
		time.Sleep(p.holds[len(p.holds)-1])
		used := func() {
			uin, uout := r.charged(p.in, p.out)
			di, do := uin-cin, uout-cout
			if useTokens || r.tpm+r.itpm+r.otpm > 0 {
				r.record(ledgerEvent{id: id, kind: ledgerAdjust, in: di, out: do})
			}
			tk.Used(p.in, p.out)
			cin, cout = uin, uout
		}
		switch p.final {
		case 0:
			r.hold(-1)
			tk.Done()
		case 1:
			used()
			r.hold(-1)
			tk.Done()
		case 2:
			r.hold(-1)
			tk.Done()
			used()
		case 3:
			r.hold(-1)
			tk.Abandon()
		case 4:
			used()
			used()
			r.hold(-1)
			tk.Done()
		}
	})
}

// checkErr checks the error of a wait begun at start.
func (r *ledgerRun) checkErr(what string, ctx context.Context, start time.Time, err error, in, out int) {
	waited := time.Since(start)
	var qe *QuotaError
	switch {
	case errors.Is(err, ErrExceedsBudget):
		if !r.exceeds(in, out) || waited != 0 {
			r.unexpected("%s(%d, %d) after %v: %v", what, in, out, waited, err)
		}
	case errors.As(err, &qe):
		if r.rpd == 0 {
			r.unexpected("%s: %v without a daily budget", what, err)
		}
		if waited == 0 && !qe.Reset.After(time.Now().Add(time.Minute)) {
			r.unexpected("%s: %v at once, with its reset %v away, within a minute", what, err, time.Until(qe.Reset))
		}
	case errors.Is(err, ErrWouldExceedDeadline):
		if waited != 0 && waited != r.maxWait {
			r.unexpected("%s: %v after %v", what, err, waited)
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrStopped), errors.Is(err, ErrClosed):
	default:
		r.unexpected("%s: unexpected error %v", what, err)
	}
	if d, ok := ctx.Deadline(); ok && time.Now().After(d) && !errors.Is(err, context.DeadlineExceeded) && waited > 0 {
		r.unexpected("%s waited %v, past its deadline, and returned %v", what, waited, err)
	}
	if r.maxWait > 0 && waited > r.maxWait {
		r.unexpected("%s waited %v, past WithMaxWait", what, waited)
	}
}

// conserved checks that the limiter's Stats add up.
func (r *ledgerRun) conserved(when string) Stats {
	st := r.l.Stats()
	if st.Requested != uint64(st.Waiting+st.InFlight)+st.Finished+st.Cancelled || st.InFlight < 0 || st.Waiting < 0 {
		r.t.Fatalf("%s %s: %+v", r.desc(), when, st)
	}
	return st
}

// run plays the run and checks it.
func (r *ledgerRun) run() {
	for step := range ledgerSteps {
		switch k := r.rng.IntN(10); {
		case k < 8:
			r.spawnAcquire()
		case k == 8 && r.rng.IntN(100) == 0:
			r.l.Close()
		default:
			if len(r.cancels) > 0 {
				r.cancels[r.rng.IntN(len(r.cancels))]()
			}
		}
		if r.rng.IntN(3) != 0 {
			time.Sleep(time.Duration(1+r.rng.IntN(2000)) * time.Millisecond)
			synctest.Wait()
		}
		r.conserved(fmt.Sprintf("after step %d", step))
		r.checkStall(fmt.Sprintf("after step %d", step))
	}
	// Every caller gets its ticket or a documented error on its own:
	// the largest debt the workload can run up refills within an hour.
	for range 3600 {
		if r.started.Load() == r.returned.Load() {
			break
		}
		time.Sleep(time.Second)
		synctest.Wait()
		r.checkStall("draining")
	}
	if n := r.started.Load() - r.returned.Load(); n > 0 {
		r.t.Errorf("%s: %d of %d callers still blocked an hour after the last step: %+v",
			r.desc(), n, r.started.Load(), r.l.Stats())
	}
	st := r.conserved("at the end")
	if err := r.m.Stop(); err != nil {
		r.t.Error(err)
	}
	r.waitAll(r.t, r.seed)
	for _, c := range r.cancels {
		c()
	}
	if st.Waiting != 0 || st.InFlight != 0 {
		r.t.Errorf("%s: %d waiting, %d in flight at the end", r.desc(), st.Waiting, st.InFlight)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		r.t.Errorf("%s: %s", r.desc(), e)
	}
	r.errs = nil
	r.checkLedger()
	r.checkOrder()
}

// checkStall checks that the head of the line is not left waiting past
// the moment the limiter's own rules let it go. Call it once every
// goroutine is blocked.
func (r *ledgerRun) checkStall(when string) {
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.q.front()
	if h == nil || l.p.paused || l.full() || l.err != nil {
		return
	}
	now := l.now()
	at := l.b.next(max(now, l.lim.holdUntil, l.bud.when(now, h)))
	if at < now-2*slotSlack {
		r.t.Errorf("%s %s: the head of the line (in %d out %d retry %v) could go %v ago; timer at %v",
			r.desc(), when, h.in, h.out, h.retry, time.Duration(now-at), time.Duration(l.timerAt-now))
	}
}

// ledgerBudget is a budget as the ledger replays it: limit units per per,
// banking bank, and what each event charges it.
type ledgerBudget struct {
	name   string
	limit  float64
	per    time.Duration
	bank   float64
	amount func(e ledgerEvent) int64
}

// budgetsToCheck returns the run's budgets.
func (r *ledgerRun) budgetsToCheck() []ledgerBudget {
	bankOf := func(n int) float64 {
		b := time.Second
		if r.burst > 0 {
			b = r.burst
		}
		return float64(n) * float64(b) / float64(time.Minute)
	}
	var bs []ledgerBudget
	if r.tpm > 0 {
		bs = append(bs, ledgerBudget{"tokens", float64(r.tpm), time.Minute, bankOf(r.tpm), func(e ledgerEvent) int64 { return e.in + e.out }})
	}
	if r.itpm > 0 {
		bs = append(bs, ledgerBudget{"input", float64(r.itpm), time.Minute, bankOf(r.itpm), func(e ledgerEvent) int64 { return e.in }})
	}
	if r.otpm > 0 {
		bs = append(bs, ledgerBudget{"output", float64(r.otpm), time.Minute, bankOf(r.otpm), func(e ledgerEvent) int64 { return e.out }})
	}
	if r.rpd > 0 {
		bs = append(bs, ledgerBudget{"daily", float64(r.rpd), 24 * time.Hour, float64(r.rpd), func(e ledgerEvent) int64 {
			if e.kind == ledgerAdjust {
				return 0
			}
			return 1
		}})
	}
	return bs
}

// checkLedger replays the ledger against each budget twice: under the
// documented rule (banks its bank; a ticket goes when the level covers
// its charge, or the bank is full for one larger), and as a provider's
// bucket of a whole minute would see it (never below the charge issued).
func (r *ledgerRun) checkLedger() {
	for _, b := range r.budgetsToCheck() {
		for _, capacity := range []float64{b.bank, b.limit} {
			r.replay(b, capacity)
		}
	}
}

// replay replays the ledger against b, holding at most capacity.
func (r *ledgerRun) replay(b ledgerBudget, capacity float64) {
	type ev struct {
		at   time.Time
		n    int64
		prio int
		e    ledgerEvent
	}
	var evs []ev
	for _, e := range r.events {
		n := b.amount(e)
		switch e.kind {
		case ledgerIssue:
			evs = append(evs, ev{e.at, n, 1, e})
		case ledgerRefund:
			evs = append(evs, ev{e.at, -n, 0, e})
		case ledgerAdjust:
			p := 2
			if n < 0 {
				p = 0
			}
			evs = append(evs, ev{e.at, n, p, e})
		}
	}
	// At one instant: refunds first, then issues, the largest first (only
	// the first may be larger than the bank), then charges.
	slices.SortStableFunc(evs, func(a, c ev) int {
		if d := a.at.Compare(c.at); d != 0 {
			return d
		}
		if a.prio != c.prio {
			return a.prio - c.prio
		}
		if a.prio == 1 {
			return int(c.n - a.n)
		}
		return 0
	})
	// The events of one instant may have happened in any order: the
	// refunds count before the issues, but clipped to the capacity only
	// once all of them are counted.
	level, last := capacity, r.start
	eps := 1e-6*b.limit + 1e-6
	for i := 0; i < len(evs); {
		j := i
		for j < len(evs) && evs[j].at.Equal(evs[i].at) {
			j++
		}
		at := evs[i].at
		level = min(capacity, level+float64(at.Sub(last))*b.limit/float64(b.per))
		last = at
		raw := level
		for _, e := range evs[i:j] {
			if e.prio == 0 {
				raw -= float64(e.n)
			}
		}
		for _, e := range evs[i:j] {
			if e.prio != 1 {
				continue
			}
			if e.n > 0 && min(capacity, raw) < min(float64(e.n), capacity)-eps {
				r.t.Errorf("%s: %s budget (capacity %.1f): ticket %d (retry %v try %v) issued at %v for %d with the level at %.3f",
					r.desc(), b.name, capacity, e.e.id, e.e.retry, e.e.try, e.at.Sub(r.start), e.n, min(capacity, raw))
				return
			}
			raw -= float64(e.n)
		}
		level = min(capacity, raw)
		for _, e := range evs[i:j] {
			if e.prio == 2 {
				level -= float64(e.n)
			}
		}
		i = j
	}
}

// checkOrder checks that waiters are served in order: a new request that
// waited from a to b means no request that came after a went before b,
// and a retry waiting from a to b means no new request went in between.
func (r *ledgerRun) checkOrder() {
	for _, w := range r.waits {
		if !w.until.After(w.from) {
			continue
		}
		for _, o := range r.waits {
			if o.id == w.id || !o.until.After(w.from) || !o.until.Before(w.until) {
				continue
			}
			// o was issued while w waited.
			switch {
			case w.retry && !o.retry:
				r.t.Errorf("%s: ticket %d issued at %v while retry %d waited from %v to %v",
					r.desc(), o.id, o.until.Sub(r.start), w.id, w.from.Sub(r.start), w.until.Sub(r.start))
			case !w.retry && !o.retry && o.from.After(w.from):
				r.t.Errorf("%s: ticket %d asked at %v and issued at %v, ahead of %d waiting from %v to %v",
					r.desc(), o.id, o.from.Sub(r.start), o.until.Sub(r.start), w.id, w.from.Sub(r.start), w.until.Sub(r.start))
			case w.retry && o.retry && o.from.After(w.from):
				r.t.Errorf("%s: retry %d queued at %v and issued at %v, ahead of retry %d waiting from %v to %v",
					r.desc(), o.id, o.from.Sub(r.start), o.until.Sub(r.start), w.id, w.from.Sub(r.start), w.until.Sub(r.start))
			}
		}
	}
}
