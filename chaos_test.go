package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Random interleavings of everything a program can do with its limiters,
// in virtual time. Each run builds a Monitor (logging or not), one or two
// limiters (alone, under a Service whose probe answers at random, or under
// a Service without a probe, which resumes by canaries) with a random mix
// of in-flight caps, token and daily budgets, wait bounds, ramps and
// learning, and plays a few hundred random steps: callers that Acquire
// (with and without deadlines, with token estimates) or TryAcquire and
// then finish, abandon, report usage or hand their ticket back as rate
// limited, once or more; Do with functions that succeed, fail, are rate
// limited with and without a hint, run out of quota, are overloaded, get
// a server error or panic; contexts cancelled at random; a limiter or the
// Service closed, or the Monitor stopped, in the middle of it all. The
// probe answers open, blocked, with an error (a 429's hint or none),
// panics, answers past its timeout (honouring its context or not), or
// calls through a limiter of the service with its context. The seed fixes
// the steps; goroutines that run at one instant may still interleave
// differently from one run of the test to the next.
//
// While the run plays, every limiter's Stats add up after each step
// (Requested = Waiting + InFlight + Finished + Cancelled), their totals
// never go down, callers never hold more tickets than WithMaxInFlight,
// no wait outlasts its context's deadline or WithMaxWait, and every error
// is a documented one (Do's wraps the function's last error once it ran).
// Half the runs then let the callers drain: a limiter with callers waiting
// issues or refuses a ticket, or probes, every minute. Once the Monitor
// is stopped every caller returns, and nothing waits or is in flight. Over
// the tickets handed to callers (a probe's own tickets through a paused
// limiter count nowhere): no second saw more than ceil(R/60), R the limit
// in use, nor sixty consecutive seconds more than the configured one;
// tickets are spaced by ceil(60s/R), less the slotSlack a late ticket
// makes up; after each resume (and every second, WithIdleRamp) the ramp
// holds; while paused, only canaries go; the daily budget holds; Stats
// count every ticket issued; and the minute logs, when on, count the
// tickets issued in each second as the callers saw them.

const (
	chaosSeeds = 200
	chaosOps   = 300
)

// chaosTotals sum up what the runs did, to show that they did it.
var chaosTotals struct {
	issued, cancelled, rateLimited, pauses atomic.Int64
	atCap, learned, probeTickets           atomic.Int64
}

func TestChaosRandomInterleavings(t *testing.T) {
	seeds := chaosSeeds
	if testing.Short() {
		seeds /= 5
	}
	defer func() {
		c := &chaosTotals
		t.Logf("%d runs: %d tickets issued, %d cancelled, %d rate limits, %d pauses, %d probe tickets; "+
			"%d limiters reached their per-second cap, %d learned a limit",
			seeds, c.issued.Load(), c.cancelled.Load(), c.rateLimited.Load(), c.pauses.Load(), c.probeTickets.Load(),
			c.atCap.Load(), c.learned.Load())
	}()
	for seed := range uint64(seeds) {
		synctest.Test(t, func(t *testing.T) { newChaosRun(t, seed).run() })
		if t.Failed() {
			t.Fatalf("run with seed %d failed", seed)
		}
	}
}

// chaosRun is one random run.
type chaosRun struct {
	t      *testing.T
	seed   uint64
	rng    *rand.Rand // the test goroutine's only
	m      *Monitor
	svc    *Service // nil for limiters without a service
	lims   []*chaosLim
	logDir string

	stopAt  int // the step at which the Monitor stops; past the end: never
	cancels []context.CancelFunc

	randomCallers

	probeMu  sync.Mutex
	probeRng *rand.Rand
}

// chaosLim is one limiter of a run, with the tickets its callers got.
type chaosLim struct {
	l       *BucketRateLimiter
	rpm     int
	tpm     int
	rpd     int
	maxIn   int           // WithMaxInFlight; 0: none
	maxWait time.Duration // WithMaxWait; 0: none
	closeAt int
	start   time.Time

	held atomic.Int64 // tickets callers hold now, probes' aside
	last Stats        // the last Stats checked

	rampStart, rampStep float64
	idleRamp            bool
	// resumes are the seconds in which the limiter resumed; limitChanged
	// says it learned a limit (a pause lowered it).
	resumes      []int64
	limitChanged bool
	// limits are the limits the limiter worked at, from when.
	limits []chaosLimit
	events int // pauses, probes, resumes and changes of limit
	// pausedAt, resumedAt and canaryAt are when the limiter paused,
	// resumed and sent a canary; handed when callers got tickets.
	pausedAt, resumedAt, canaryAt, handed []time.Time

	mu     sync.Mutex
	perSec map[int64]int // tickets handed to callers, by Unix second
}

const (
	chaosPlain   = iota // limiters without a service: canaries
	chaosProbe          // a Service with a probe
	chaosNoProbe        // a Service without one: canaries
	chaosModes
)

func newChaosRun(t *testing.T, seed uint64) *chaosRun {
	r := &chaosRun{
		t:        t,
		seed:     seed,
		rng:      rand.New(rand.NewPCG(seed, 0xc4a05)),
		probeRng: rand.New(rand.NewPCG(seed, 0x9b0be)),
	}
	var mopts []MonitorOption
	if r.rng.IntN(2) == 0 {
		r.logDir = t.TempDir()
		mopts = append(mopts, WithLogDir(r.logDir))
	}
	r.m = NewMonitor(mopts...)
	switch r.rng.IntN(chaosModes) {
	case chaosProbe:
		r.svc = NewService("chaos", r.probe)
	case chaosNoProbe:
		r.svc = NewService("chaos", nil)
	}
	r.stopAt = r.rng.IntN(3 * chaosOps)
	n := 1 + r.rng.IntN(2)
	for i := range n {
		rpms := []int{6, 60, 90, 600, 3000}
		cl := &chaosLim{rpm: rpms[r.rng.IntN(len(rpms))], perSec: map[int64]int{}, closeAt: r.rng.IntN(3 * chaosOps)}
		opts := []Option{
			WithMonitor(r.m),
			WithMaxRetries(r.rng.IntN(4)),
			WithProbeInterval(time.Second, 8*time.Second, 2),
			WithProbeTimeout(time.Duration(1+r.rng.IntN(3)) * time.Second),
			WithLearning(r.rng.IntN(3) != 0),
		}
		cl.idleRamp = r.rng.IntN(3) == 0
		opts = append(opts, WithIdleRamp(cl.idleRamp), WithLogger(slog.New(&chaosEvents{cl: cl})))
		cl.rampStart, cl.rampStep = DefaultRampStart, DefaultRampStep
		if r.rng.IntN(3) == 0 {
			cl.rampStart, cl.rampStep = []float64{0.1, 0.25, 1}[r.rng.IntN(3)], []float64{0.1, 0.5, 1}[r.rng.IntN(3)]
			opts = append(opts, WithRampUp(cl.rampStart, cl.rampStep))
		}
		if r.rng.IntN(3) == 0 {
			cl.maxIn = 1 + r.rng.IntN(5)
			opts = append(opts, WithMaxInFlight(cl.maxIn))
		}
		if r.rng.IntN(3) == 0 {
			cl.tpm = []int{600, 6000, 60000}[r.rng.IntN(3)]
			opts = append(opts, WithTokensPerMinute(cl.tpm))
		}
		if r.rng.IntN(4) == 0 {
			cl.rpd = 10 + r.rng.IntN(200)
			opts = append(opts, WithRequestsPerDay(cl.rpd))
		}
		if r.rng.IntN(4) == 0 {
			cl.maxWait = time.Duration(1+r.rng.IntN(10)) * time.Second
			opts = append(opts, WithMaxWait(cl.maxWait))
		}
		var err error
		if r.svc != nil {
			model := ""
			if i > 0 {
				model = fmt.Sprintf("m%d", i)
			}
			cl.l, err = r.svc.NewLimiter(model, cl.rpm, opts...)
		} else {
			cl.l, err = NewBucketRateLimiter(cl.rpm, append(opts, WithName(fmt.Sprintf("l%d", i)))...)
		}
		if err != nil {
			t.Fatal(err)
		}
		cl.start = time.Now()
		r.lims = append(r.lims, cl)
	}
	return r
}

// run plays the run and checks how it ends.
func (r *chaosRun) run() {
	for step := range chaosOps {
		r.step(step)
		for _, cl := range r.lims {
			r.checkConserved(cl, fmt.Sprintf("after step %d", step))
		}
		if r.rng.IntN(2) == 0 {
			synctest.Wait()
		}
	}
	if r.rng.IntN(2) == 0 {
		r.drain()
	}
	if err := r.m.Stop(); err != nil {
		r.t.Errorf("seed %d: Stop: %v", r.seed, err)
	}
	// Every caller returns once the Monitor is stopped: those holding a
	// ticket sleep through their call and report on it; none may wait
	// for the limiter any more.
	r.waitAll(r.t, r.seed)
	for _, cancel := range r.cancels {
		cancel()
	}
	// A probe that ignores its context returns on its own, at most five
	// seconds after it began.
	time.Sleep(5 * time.Second)
	r.reportUnexpected(r.t, r.seed)
	for _, cl := range r.lims {
		st := r.checkConserved(cl, "at the end")
		if st.Paused {
			r.t.Errorf("seed %d %s: still paused once the Monitor is stopped", r.seed, cl.l.Name())
		}
		cl.mu.Lock()
		got := 0
		for _, n := range cl.perSec {
			got += n
		}
		cl.mu.Unlock()
		if st.Issued != uint64(got) {
			r.t.Errorf("seed %d %s: Stats.Issued = %d, callers got %d tickets", r.seed, cl.l.Name(), st.Issued, got)
		}
		if cl.rpd > 0 {
			// Each issue charges the daily budget, each rate limit
			// refunds it; it starts full and refills rpd a day.
			elapsed := time.Since(cl.start)
			bound := uint64(cl.rpd) + uint64(math.Ceil(float64(cl.rpd)*float64(elapsed)/float64(24*time.Hour)))
			if st.Issued-st.RateLimited > bound {
				r.t.Errorf("seed %d %s: %d issued and %d rate limited in %v, beyond %d requests per day",
					r.seed, cl.l.Name(), st.Issued, st.RateLimited, elapsed, cl.rpd)
			}
		}
		if st.Waiting != 0 || st.InFlight != 0 {
			r.t.Errorf("seed %d %s: %d waiting and %d in flight at the end, want none", r.seed, cl.l.Name(), st.Waiting, st.InFlight)
		}
		r.checkCaps(cl)
		r.checkRamp(cl)
		r.checkPauses(cl)
		chaosTotals.pauses.Add(int64(st.Pauses))
		chaosTotals.issued.Add(int64(st.Issued))
		chaosTotals.cancelled.Add(int64(st.Cancelled))
		chaosTotals.rateLimited.Add(int64(st.RateLimited))
		cl.mu.Lock()
		mx := 0
		for _, n := range cl.perSec {
			mx = max(mx, n)
		}
		cl.mu.Unlock()
		if mx == (cl.rpm+59)/60 {
			chaosTotals.atCap.Add(1)
		}
		if st.LearnedRPM != 0 {
			chaosTotals.learned.Add(1)
		}
	}
	if r.logDir != "" {
		r.checkLogs()
	}
}

// drain lets the callers drain on their own, for up to an hour, and
// checks that the limiters make progress: in a minute in which callers
// waited, a limiter issues or refuses a ticket, or, paused, probes. No
// waiter is forgotten, and no pause.
func (r *chaosRun) drain() {
	for range 60 {
		before := make([]Stats, len(r.lims))
		events := make([]int, len(r.lims))
		waiting := false
		for i, cl := range r.lims {
			before[i] = cl.l.Stats()
			events[i] = cl.eventCount()
			waiting = waiting || before[i].Waiting > 0
		}
		if !waiting {
			return
		}
		time.Sleep(time.Minute)
		stuck := func(i int) bool {
			b, a := before[i], r.lims[i].l.Stats()
			return b.Waiting > 0 && a.Issued+a.Cancelled == b.Issued+b.Cancelled && r.lims[i].eventCount() == events[i]
		}
		var suspects []int
		for i, cl := range r.lims {
			// A debt of tokens (reported by Used) may hold the line for
			// many minutes.
			if stuck(i) && !cl.tokenBound() {
				suspects = append(suspects, i)
			}
		}
		if len(suspects) == 0 {
			continue
		}
		// The line may have been held by the daily budget (for up to a
		// minute) until just now, and the spacing then holds it for
		// up to ten seconds.
		time.Sleep(15 * time.Second)
		for _, i := range suspects {
			if stuck(i) {
				r.t.Errorf("seed %d %s: %d callers waiting, and a minute later none issued nor refused, and no probe: %+v, then %+v",
					r.seed, r.lims[i].l.Name(), before[i].Waiting, before[i], r.lims[i].l.Stats())
			}
		}
	}
}

// tokenBound reports whether the first in line waits for a token budget.
func (cl *chaosLim) tokenBound() bool {
	l := cl.l
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.q.front()
	if t == nil || !l.bud.tokensOn() {
		return false
	}
	now := l.now()
	b := l.bud
	b.daily = refill{}
	return b.when(now, t) > now
}

func (cl *chaosLim) eventCount() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.events
}

func (r *chaosRun) anyIssued() bool {
	for _, cl := range r.lims {
		cl.mu.Lock()
		n := len(cl.perSec)
		cl.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// note records a ticket handed to a caller now.
func (cl *chaosLim) note(r *chaosRun) {
	cl.mu.Lock()
	cl.perSec[time.Now().Unix()]++
	cl.handed = append(cl.handed, time.Now())
	cl.mu.Unlock()
	if n := cl.held.Add(1); cl.maxIn > 0 && n > int64(cl.maxIn) {
		r.unexpected("%s: %d tickets held at once, WithMaxInFlight(%d)", cl.l.Name(), n, cl.maxIn)
	}
}

// let records that a caller is about to finish or hand back a ticket it
// was handed.
func (cl *chaosLim) let(tk *Ticket) {
	if tk == nil || !tk.probe {
		cl.held.Add(-1)
	}
}

// checkWait checks that a wait for a ticket begun at start and ended with
// err kept to the bounds: the context's deadline and WithMaxWait.
func (r *chaosRun) checkWait(cl *chaosLim, what string, ctx context.Context, start time.Time, err error) {
	waited := time.Since(start)
	if d, ok := ctx.Deadline(); ok && time.Now().After(d) && !errors.Is(err, context.DeadlineExceeded) && waited > 0 {
		r.unexpected("%s: %s waited %v, past its context's deadline, and returned %v", cl.l.Name(), what, waited, err)
	}
	if cl.maxWait > 0 && waited > cl.maxWait {
		r.unexpected("%s: %s waited %v, past WithMaxWait(%v), and returned %v", cl.l.Name(), what, waited, cl.maxWait, err)
	}
	if errors.Is(err, ErrWouldExceedDeadline) && waited != 0 && waited != cl.maxWait {
		r.unexpected("%s: %s waited %v and returned %v: neither at once nor at WithMaxWait(%v)", cl.l.Name(), what, waited, err, cl.maxWait)
	}
}

// noteTicket records tk, unless it is a probe's ticket, which counts
// nowhere.
func (cl *chaosLim) noteTicket(r *chaosRun, tk *Ticket) {
	if !tk.probe {
		cl.note(r)
	} else {
		chaosTotals.probeTickets.Add(1)
	}
}

// step takes one random action.
func (r *chaosRun) step(step int) {
	if step == r.stopAt {
		if err := r.m.Stop(); err != nil {
			r.t.Errorf("seed %d: Stop: %v", r.seed, err)
		}
	}
	for _, cl := range r.lims {
		if step == cl.closeAt {
			if r.svc != nil && r.rng.IntN(2) == 0 {
				r.svc.Close()
			} else {
				cl.l.Close()
			}
		}
	}
	cl := r.lims[r.rng.IntN(len(r.lims))]
	switch n := r.rng.IntN(100); {
	case n < 25:
		r.spawnAcquirer(cl)
	case n < 30:
		for range 1 + r.rng.IntN(30) {
			r.spawnAcquirer(cl)
		}
	case n < 50:
		r.spawnDoer(cl)
	case n < 58:
		opts := r.tokenOpts(cl)
		if tk, ok := cl.l.TryAcquire(opts...); ok {
			cl.noteTicket(r, tk)
			plan := r.plan()
			ctx := r.callerCtx()
			r.spawn(func() { r.report(cl, ctx, tk, plan) })
		}
	case n < 68:
		if len(r.cancels) > 0 {
			r.cancels[r.rng.IntN(len(r.cancels))]()
		}
	default:
		time.Sleep(time.Duration(r.rng.IntN(3000)) * time.Millisecond)
	}
}

// callerCtx returns a context that a later step may cancel, or that ends
// at a deadline, or neither.
func (r *chaosRun) callerCtx() context.Context {
	switch r.rng.IntN(4) {
	case 0:
		return context.Background()
	case 1:
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.rng.IntN(20_000))*time.Millisecond)
		r.cancels = append(r.cancels, cancel)
		return ctx
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancels = append(r.cancels, cancel)
	return ctx
}

// tokenOpts returns the token estimate of a call, sometimes none, and
// sometimes more than a minute's budget.
func (r *chaosRun) tokenOpts(cl *chaosLim) []AcquireOption {
	if r.rng.IntN(3) == 0 {
		return nil
	}
	top := 200
	if cl.tpm > 0 && r.rng.IntN(10) == 0 {
		top = 2 * cl.tpm
	}
	return []AcquireOption{WithTokens(r.rng.IntN(top), r.rng.IntN(top))}
}

// chaosRefusal reports whether err is one Acquire, or a wait to retry,
// may return instead of a ticket: its context's, its deadline's, the
// limiter's, or a budget's.
func chaosRefusal(err error) bool {
	return refusal(err) || errors.Is(err, ErrQuotaExhausted) || errors.Is(err, ErrExceedsBudget)
}

// What a caller does with its ticket, one report after another.
const (
	reportDone = iota
	reportDoneTwice
	reportAbandon
	reportUsedDone
	reportRateLimited // and carry on with the next report if it is issued again
	reportRateLimitedNoHint
	reportDoneThenRateLimited
	reportKinds
)

type chaosReport struct {
	kind int
	hold time.Duration
	hint time.Duration
	in   int
	out  int
}

// plan draws what a caller does with its ticket: zero to three rate
// limits, then a report that finishes it.
func (r *chaosRun) plan() []chaosReport {
	var p []chaosReport
	for range r.rng.IntN(4) {
		k := reportRateLimited + r.rng.IntN(2)
		p = append(p, chaosReport{kind: k, hold: r.hold(), hint: time.Duration(r.rng.IntN(4)) * time.Second})
	}
	kinds := []int{reportDone, reportDoneTwice, reportAbandon, reportUsedDone, reportDoneThenRateLimited}
	p = append(p, chaosReport{kind: kinds[r.rng.IntN(len(kinds))], hold: r.hold(), in: r.rng.IntN(300), out: r.rng.IntN(300)})
	return p
}

func (r *chaosRun) hold() time.Duration { return time.Duration(r.rng.IntN(2000)) * time.Millisecond }

func (r *chaosRun) spawnAcquirer(cl *chaosLim) {
	ctx := r.callerCtx()
	opts := r.tokenOpts(cl)
	plan := r.plan()
	r.spawn(func() {
		start := time.Now()
		tk, err := cl.l.Acquire(ctx, opts...)
		r.checkWait(cl, "Acquire", ctx, start, err)
		if err != nil {
			if !chaosRefusal(err) {
				r.unexpected("%s: Acquire: %v", cl.l.Name(), err)
			}
			return
		}
		cl.noteTicket(r, tk)
		r.report(cl, ctx, tk, plan)
	})
}

// report carries out plan on the issued ticket tk; every path finishes it.
func (r *chaosRun) report(cl *chaosLim, ctx context.Context, tk *Ticket, plan []chaosReport) {
	for _, p := range plan {
		time.Sleep(p.hold)
		switch p.kind {
		case reportRateLimited, reportRateLimitedNoHint:
			hint := p.hint
			if p.kind == reportRateLimitedNoHint {
				hint = 0
			}
			cl.let(tk)
			start := time.Now()
			err := tk.RateLimited(ctx, hint)
			r.checkWait(cl, "RateLimited", ctx, start, err)
			if err != nil {
				if !chaosRefusal(err) {
					r.unexpected("%s: RateLimited: %v", cl.l.Name(), err)
				}
				// The ticket is finished: reporting again does nothing.
				tk.Done()
				if err := tk.RateLimited(ctx, 0); !errors.Is(err, ErrTicketFinished) {
					r.unexpected("%s: RateLimited after a failed RateLimited: %v, want ErrTicketFinished", cl.l.Name(), err)
				}
				return
			}
			cl.noteTicket(r, tk)
		case reportDone:
			cl.let(tk)
			tk.Done()
		case reportDoneTwice:
			cl.let(tk)
			tk.Done()
			tk.Done()
			tk.Abandon()
		case reportAbandon:
			cl.let(tk)
			tk.Abandon()
			tk.Done()
		case reportUsedDone:
			tk.Used(p.in, p.out)
			cl.let(tk)
			tk.Done()
			tk.Used(p.out, p.in)
		case reportDoneThenRateLimited:
			cl.let(tk)
			tk.Done()
			if err := tk.RateLimited(ctx, time.Second); !errors.Is(err, ErrTicketFinished) {
				r.unexpected("%s: RateLimited after Done: %v, want ErrTicketFinished", cl.l.Name(), err)
			}
		}
	}
}

// The errors the functions given to Do fail with.
var (
	errChaosCall  = errors.New("chaos: the call failed")
	errChaosPanic = "chaos: the call panicked"
)

// chaosStatusError is an SDK's error with an HTTP status.
type chaosStatusError struct{ StatusCode int }

func (e *chaosStatusError) Error() string { return fmt.Sprintf("chaos: HTTP %d", e.StatusCode) }

// Outcomes of one attempt of a function given to Do.
const (
	outcomeOK = iota
	outcomeOK2
	outcomeFail
	outcomeRateLimited
	outcomeRateLimitedHint
	outcomeQuota
	outcomeOverloaded
	outcomeServerError
	outcomePanic
	outcomes
)

func (r *chaosRun) spawnDoer(cl *chaosLim) {
	ctx := r.callerCtx()
	opts := r.tokenOpts(cl)
	latency := r.hold()
	plan := make([]int, 6)
	for i := range plan {
		plan[i] = r.rng.IntN(outcomes)
	}
	r.spawn(func() {
		defer func() {
			if p := recover(); p != nil && p != errChaosPanic {
				r.unexpected("%s: Do panicked with %v", cl.l.Name(), p)
			}
		}()
		attempt := 0
		var last error
		_, err := Do(ctx, cl.l, func(ctx context.Context) (int, error) {
			cl.note(r)
			defer cl.let(nil)
			o := plan[min(attempt, len(plan)-1)]
			attempt++
			time.Sleep(latency)
			v, err := chaosOutcome(o)
			last = err
			return v, err
		}, opts...)
		if err != nil && !chaosDoError(err) {
			r.unexpected("%s: Do: %v", cl.l.Name(), err)
		}
		// Once the function ran, Do's error is its last error, or wraps
		// it (the rate limit that outlasted the retries, or a wait to
		// retry that failed).
		if err != nil && attempt > 0 && !errors.Is(err, last) {
			r.unexpected("%s: Do returned %v, which does not wrap the function's last error %v", cl.l.Name(), err, last)
		}
		if err == nil && last != nil {
			r.unexpected("%s: Do returned no error, the function's last error was %v", cl.l.Name(), last)
		}
	})
}

// chaosOutcome returns, or panics with, outcome o of a call.
func chaosOutcome(o int) (int, error) {
	switch o {
	case outcomeOK, outcomeOK2:
		return 1, nil
	case outcomeFail:
		return 0, errChaosCall
	case outcomeRateLimited:
		return 0, &RateLimitError{StatusCode: 429}
	case outcomeRateLimitedHint:
		return 0, &RateLimitError{StatusCode: 429, RetryAfter: 1500 * time.Millisecond}
	case outcomeQuota:
		return 0, &QuotaError{Quota: "chaos"}
	case outcomeOverloaded:
		return 0, &chaosStatusError{StatusCode: 529}
	case outcomeServerError:
		return 0, &chaosStatusError{StatusCode: 500}
	}
	panic(errChaosPanic)
}

// chaosDoError reports whether err is one Do may return: a refusal, the
// function's own error, or the rate limit that outlasted the retries.
func chaosDoError(err error) bool {
	var se *chaosStatusError
	return chaosRefusal(err) || errors.Is(err, errChaosCall) || errors.Is(err, ErrRateLimited) ||
		errors.As(err, &se) && se.StatusCode == 500
}

// probe is the Service's probe: open, blocked, an error (with the hint
// of a 429 or without), a panic, no answer until its context ends, no
// answer past its timeout while ignoring its context, or a call of its
// own through a limiter of the service.
func (r *chaosRun) probe(ctx context.Context) (bool, error) {
	r.probeMu.Lock()
	n := r.probeRng.IntN(9)
	pick := r.probeRng.IntN(len(r.lims))
	o := r.probeRng.IntN(outcomes - 1) // no panic in a probe's call
	r.probeMu.Unlock()
	switch n {
	case 0, 1:
		return false, nil
	case 2:
		return true, nil
	case 3:
		return true, errors.New("chaos: probe failed")
	case 4:
		return true, &RateLimitError{StatusCode: 429, RetryAfter: 3 * time.Second}
	case 5:
		panic("chaos: probe panicked")
	case 6:
		<-ctx.Done()
		return false, ctx.Err()
	case 7:
		time.Sleep(5 * time.Second) // past every probe timeout of the runs
		return false, nil
	}
	// A call through a limiter of the service, the paused one or another.
	cl := r.lims[pick]
	if l, ok := ctx.Value(probeKey{}).(*BucketRateLimiter); ok && pick == 0 {
		for _, c := range r.lims {
			if c.l == l {
				cl = c
			}
		}
	}
	if l, ok := ctx.Value(probeKey{}).(*BucketRateLimiter); ok && pick == 0 && o%2 == 0 {
		// Do through the paused limiter: its call goes at once, on a
		// ticket that counts nowhere, and is not retried.
		calls := 0
		_, err := Do(ctx, l, func(context.Context) (int, error) {
			calls++
			return chaosOutcome(o)
		})
		if calls > 1 {
			r.unexpected("%s: a probe's Do called its function %d times", l.Name(), calls)
		}
		if err != nil && !chaosDoError(err) {
			r.unexpected("%s: a probe's Do: %v", l.Name(), err)
		}
		return err != nil, err
	}
	tk, err := cl.l.Acquire(ctx)
	if err != nil {
		if !chaosRefusal(err) {
			r.unexpected("%s: probe's Acquire: %v", cl.l.Name(), err)
		}
		return true, err
	}
	cl.noteTicket(r, tk)
	_, cerr := chaosOutcome(o)
	switch {
	case cerr == nil:
		cl.let(tk)
		tk.Done()
		return false, nil
	case o == outcomeRateLimited || o == outcomeRateLimitedHint:
		cl.let(tk)
		err := tk.RateLimited(ctx, 0)
		switch {
		case tk.probe && !errors.Is(err, ErrRateLimited):
			r.unexpected("%s: RateLimited on a probe's ticket: %v, want ErrRateLimited", cl.l.Name(), err)
		case err == nil:
			cl.noteTicket(r, tk)
			cl.let(tk)
			tk.Done()
		case !tk.probe && !chaosRefusal(err):
			r.unexpected("%s: RateLimited in a probe: %v", cl.l.Name(), err)
		}
		return true, cerr
	}
	cl.let(tk)
	tk.Abandon()
	return true, cerr
}
