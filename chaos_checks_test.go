package ratellmiter

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// The invariants TestChaosRandomInterleavings checks of a run (see
// chaos_test.go).

func (r *chaosRun) checkConserved(cl *chaosLim, when string) Stats {
	st := cl.l.Stats()
	if st.Requested != uint64(st.Waiting+st.InFlight)+st.Finished+st.Cancelled {
		r.t.Fatalf("seed %d %s %s: requested %d != waiting %d + in flight %d + finished %d + cancelled %d",
			r.seed, cl.l.Name(), when, st.Requested, st.Waiting, st.InFlight, st.Finished, st.Cancelled)
	}
	if st.InFlight < 0 || st.Waiting < 0 || st.Retrying < 0 || st.Retrying > st.Waiting {
		r.t.Fatalf("seed %d %s %s: %d in flight, %d waiting, %d retrying", r.seed, cl.l.Name(), when, st.InFlight, st.Waiting, st.Retrying)
	}
	if !st.Paused && !st.NextProbe.IsZero() {
		r.t.Fatalf("seed %d %s %s: not paused, next probe at %v", r.seed, cl.l.Name(), when, st.NextProbe)
	}
	if p := cl.last; st.Requested < p.Requested || st.Finished < p.Finished || st.Cancelled < p.Cancelled ||
		st.RateLimited < p.RateLimited || st.Overflow < p.Overflow || st.Pauses < p.Pauses || st.PausedTime < p.PausedTime {
		r.t.Fatalf("seed %d %s %s: a total went down: %+v, then %+v", r.seed, cl.l.Name(), when, p, st)
	}
	cl.last = st
	return st
}

// checkCaps checks that no second saw more than ceil(R/60) tickets and
// no sixty consecutive seconds more than R.
func (r *chaosRun) checkCaps(cl *chaosLim) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	perSec := (cl.rpm + 59) / 60
	secs := make([]int64, 0, len(cl.perSec))
	for s, n := range cl.perSec {
		if n > perSec {
			r.t.Errorf("seed %d %s: %d tickets in second %d, cap %d", r.seed, cl.l.Name(), n, s, perSec)
		}
		// The cap of the limit in use: the highest, if it changed
		// during the second.
		from := time.Unix(s, 0)
		if c := (slices.Max(cl.rpmsIn(from, from.Add(time.Second-1))) + 59) / 60; n > c {
			r.t.Errorf("seed %d %s: %d tickets in second %d, cap %d of the limit in use (%v)",
				r.seed, cl.l.Name(), n, s, c, cl.limits)
		}
		secs = append(secs, s)
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i] < secs[j] })
	// Tickets are spaced at least ceil(60s/R) apart from the slot of the
	// one before, and a slot is at most slotSlack before its ticket: so
	// R+1 tickets span at least a minute less that slack.
	handed := slices.Clone(cl.handed)
	slices.SortFunc(handed, time.Time.Compare)
	for i := 1; i < len(handed); i++ {
		// The spacing of the limit in use when the ticket went.
		rpm := slices.Max(cl.rpmsIn(handed[i], handed[i]))
		gap := (60*time.Second + time.Duration(rpm) - 1) / time.Duration(rpm)
		slack := time.Duration(slotSlack)
		if d := handed[i].Sub(handed[i-1]); d < gap-slack {
			r.t.Errorf("seed %d %s: tickets at %v and %v, %v apart: the spacing is %v", r.seed, cl.l.Name(),
				handed[i-1].Format(time.StampMicro), handed[i].Format(time.StampMicro), d, gap)
		}
		if j := i - 1 + cl.rpm; j < len(handed) {
			if d := handed[j].Sub(handed[i-1]); d < time.Minute-time.Duration(slotSlack) {
				r.t.Errorf("seed %d %s: %d tickets within %v", r.seed, cl.l.Name(), cl.rpm+1, d)
			}
		}
	}
	for i, s := range secs {
		sum := 0
		for _, s2 := range secs[i:] {
			if s2 >= s+60 {
				break
			}
			sum += cl.perSec[s2]
		}
		if sum > cl.rpm {
			r.t.Errorf("seed %d %s: %d tickets in the sixty seconds from %d, cap %d", r.seed, cl.l.Name(), sum, s, cl.rpm)
		}
	}
}

// checkRamp checks the ramp after every resume (and after every second,
// WithIdleRamp) of a limiter that never changed its limit: a second
// issues at most what the previous one issued plus the step (at least
// the start), until one issues the full per-second cap.
func (r *chaosRun) checkRamp(cl *chaosLim) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.limitChanged {
		return
	}
	perSec := (cl.rpm + 59) / 60
	start, step := fractionOf(perSec, cl.rampStart), fractionOf(perSec, cl.rampStep)
	allowed := func(s, from int64) int {
		prev := 0
		if s-1 >= from {
			prev = cl.perSec[s-1]
		}
		return min(max(start, prev+step), perSec)
	}
	check := func(s, from int64) bool {
		n, a := cl.perSec[s], allowed(s, from)
		if n > a {
			r.t.Errorf("seed %d %s: %d tickets in second %d, %d in the one before, ramping since %d: the ramp allows %d",
				r.seed, cl.l.Name(), n, s, cl.perSec[s-1], from, a)
		}
		return n >= perSec
	}
	resumes := slices.Clone(cl.resumes)
	slices.Sort(resumes)
	if cl.idleRamp {
		// Every second ramps, from the last resume at most.
		for s := range cl.perSec {
			from := int64(math.MinInt64)
			for _, r := range resumes {
				if r <= s {
					from = r
				}
			}
			check(s, from)
		}
		return
	}
	last := int64(math.MinInt64)
	for s := range cl.perSec {
		last = max(last, s)
	}
	for i, from := range resumes {
		next := int64(math.MaxInt64)
		if i+1 < len(resumes) {
			next = resumes[i+1]
		}
		for s := from; s <= last && s < next; s++ {
			if check(s, from) {
				break // the ramp is over
			}
		}
	}
}

// checkPauses checks that while a limiter was paused, strictly between a
// pause and the resume that ended it, the only tickets handed to callers
// were canaries (a probe's own tickets count nowhere).
func (r *chaosRun) checkPauses(cl *chaosLim) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	in := func(ts []time.Time, from, to time.Time) int {
		n := 0
		for _, t := range ts {
			if t.After(from) && t.Before(to) {
				n++
			}
		}
		return n
	}
	for _, p := range cl.pausedAt {
		end := time.Unix(math.MaxInt32, 0)
		for _, r := range cl.resumedAt {
			if !r.Before(p) && r.Before(end) {
				end = r
			}
		}
		if h, c := in(cl.handed, p, end), in(cl.canaryAt, p, end); h > c {
			r.t.Errorf("seed %d %s: paused from %v to %v: %d tickets handed, %d canaries sent",
				r.seed, cl.l.Name(), p, end, h, c)
		}
	}
}

// chaosEvents records a limiter's resumes and changes of limit, as its
// logger is told them.
type chaosEvents struct{ cl *chaosLim }

func (h *chaosEvents) Enabled(context.Context, slog.Level) bool { return true }
func (h *chaosEvents) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *chaosEvents) WithGroup(string) slog.Handler            { return h }
func (h *chaosEvents) Handle(_ context.Context, rec slog.Record) error {
	h.cl.mu.Lock()
	defer h.cl.mu.Unlock()
	h.cl.events++
	switch rec.Message {
	case "ratellmiter: " + EventPause:
		h.cl.pausedAt = append(h.cl.pausedAt, time.Now())
	case "ratellmiter: " + EventProbe:
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "detail" && a.Value.String() == "canary request issued" {
				h.cl.canaryAt = append(h.cl.canaryAt, time.Now())
			}
			return true
		})
	case "ratellmiter: " + EventResume:
		h.cl.resumes = append(h.cl.resumes, time.Now().Unix())
		h.cl.resumedAt = append(h.cl.resumedAt, time.Now())
	case "ratellmiter: " + EventLimit:
		h.cl.limitChanged = true
		rec.Attrs(func(a slog.Attr) bool {
			d := a.Value.String()
			if i := strings.LastIndex(d, " to "); a.Key == "detail" && i >= 0 {
				var rpm int
				if _, err := fmt.Sscanf(d[i:], " to %d RPM", &rpm); err == nil {
					h.cl.limits = append(h.cl.limits, chaosLimit{time.Now(), rpm})
				}
			}
			return true
		})
	}
	return nil
}

// chaosLimit is a limit a limiter worked at from a time on.
type chaosLimit struct {
	from time.Time
	rpm  int
}

// rpmsIn returns the limits the limiter worked at, at some time in
// [from, to].
func (cl *chaosLim) rpmsIn(from, to time.Time) []int {
	rpms := []int{cl.rpm}
	for _, l := range cl.limits {
		switch {
		case l.from.After(to):
		case l.from.Before(from):
			rpms = []int{l.rpm}
		default:
			rpms = append(rpms, l.rpm)
		}
	}
	return rpms
}

// checkLogs checks that the minute logs count, for every limiter and
// second, the tickets its callers got.
func (r *chaosRun) checkLogs() {
	path := r.m.LogPath()
	f, err := ReadLog(path)
	if err != nil {
		if r.anyIssued() {
			r.t.Errorf("seed %d: ReadLog: %v", r.seed, err)
		}
		return
	}
	if f.Skipped != 0 {
		r.t.Errorf("seed %d: %d log lines skipped", r.seed, f.Skipped)
	}
	logged := map[string]map[int64]int{}
	for _, m := range f.Minutes {
		if logged[m.Limiter] == nil {
			logged[m.Limiter] = map[int64]int{}
		}
		for i, n := range m.Issued {
			if n != 0 {
				logged[m.Limiter][m.Start+int64(i)] += n
			}
		}
	}
	for _, cl := range r.lims {
		cl.mu.Lock()
		got := logged[cl.l.Name()]
		for s, n := range cl.perSec {
			if got[s] != n {
				r.t.Errorf("seed %d %s: second %d: log says %d issued, callers got %d", r.seed, cl.l.Name(), s, got[s], n)
			}
		}
		for s, n := range got {
			if _, ok := cl.perSec[s]; !ok {
				r.t.Errorf("seed %d %s: second %d: log says %d issued, callers got none", r.seed, cl.l.Name(), s, n)
			}
		}
		cl.mu.Unlock()
	}
}
