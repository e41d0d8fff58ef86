package sim

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Parameters of the PythonOriginal model.
const (
	pyRampFloor     = 0.25             // least share of RPM/60 a second may issue
	pyRampStep      = 0.10             // growth per second, as a share of RPM/60
	pyProbeFirst    = 10 * time.Second // first probe after a 429
	pyProbeGrowth   = 1.5              // probe interval growth while still blocked
	pyProbeInterval = 65 * time.Second // longest probe interval
)

// PythonOriginal models the policy of the original Python rateLLMiter, which
// this library descends from. Its rules:
//
//   - Tickets per second. Requests wait in a FIFO queue for a ticket. Time is
//     cut into wall-clock seconds and each second owns a bucket of at most
//     max = RPM/60 tickets, rounded down so that a minute never issues more
//     than RPM (one below 60 RPM), all released at the start of the second:
//     the requests waiting then get them at once, later arrivals in the same
//     second take what is left, and tickets unused at the end of the second
//     are lost.
//   - Ramp. A second may issue at most the previous second's issued count
//     plus 10% of RPM/60, never less than 25% of RPM/60 and never more than
//     max; both shares are rounded to the nearest ticket (half to even, as
//     Python's round does) and are at least one. After an idle second a
//     burst therefore starts at 25% and needs several seconds to reach full
//     speed.
//   - Pause on 429. A 429 pauses the limiter: no ticket is released while
//     paused. The refused request goes back to the front of the queue (the
//     retry hint is not used). Requests refused while the limiter is already
//     paused go to the front of the queue too and wait.
//   - Probe. The first probe happens 10 s after the 429 that caused the
//     pause. A probe is one real call, made by the request at the head of
//     the queue. If it is refused, the next probe comes after 1.5 times the
//     previous interval, at most 65 s. If it succeeds, the limiter resumes
//     at the next second boundary and the ramp restarts from 25% of RPM/60.
//   - No retry limit: a request keeps its place until it succeeds, fails
//     with another error, or its context ends.
type PythonOriginal struct {
	max   int // tickets per second at full speed
	step  int // ramp growth per second
	floor int // least tickets a second may issue

	mu      sync.Mutex
	queue   []*pyWaiter // head first
	sec     int64       // wall-clock second of the current bucket
	started bool
	avail   int // tickets left in the current second
	issued  int // tickets issued in the current second
	restart bool

	paused     bool
	probeOut   bool
	probeEvery time.Duration
	nextProbe  time.Time

	timer   *time.Timer
	timerAt time.Time
}

type pyWaiter struct {
	ch      chan struct{}
	granted bool
	probe   bool
}

// NewPythonOriginal returns the model configured for rpm requests per minute.
func NewPythonOriginal(rpm int) *PythonOriginal {
	if rpm < 60 {
		// The original's own shortcut for slow limits: one ticket a
		// second, with no ramp.
		return &PythonOriginal{max: 1, step: 1, floor: 1}
	}
	perSec := float64(rpm) / 60
	return &PythonOriginal{
		max:   rpm / 60,
		step:  max(int(math.RoundToEven(perSec*pyRampStep)), 1),
		floor: max(int(math.RoundToEven(perSec*pyRampFloor)), 1),
	}
}

// Name implements Client.
func (*PythonOriginal) Name() string { return "python-original" }

// allowance returns the tickets of a second that follows one that issued
// prev tickets.
func (p *PythonOriginal) allowance(prev int) int {
	return min(max(prev+p.step, p.floor), p.max)
}

// roll moves the bucket to the second of now, applying the ramp.
func (p *PythonOriginal) roll(now time.Time) {
	sec := now.Unix()
	if p.started && sec <= p.sec {
		return
	}
	prev := 0
	if p.started && sec == p.sec+1 {
		prev = p.issued
	}
	if p.restart || !p.started {
		prev = 0
		p.restart = false
	}
	p.started = true
	p.sec = sec
	p.issued = 0
	p.avail = p.allowance(prev)
}

// pump hands out whatever the rules allow at now and arms the timer for the
// next event. The caller holds p.mu.
func (p *PythonOriginal) pump(now time.Time) {
	p.roll(now)
	if len(p.queue) == 0 {
		return
	}
	if p.paused {
		if p.probeOut {
			return
		}
		if now.Before(p.nextProbe) {
			p.schedule(p.nextProbe)
			return
		}
		w := p.pop()
		w.probe = true
		p.probeOut = true
		p.grant(w)
		return
	}
	for p.avail > 0 && len(p.queue) > 0 {
		p.avail--
		p.issued++
		p.grant(p.pop())
	}
	if len(p.queue) > 0 {
		p.schedule(time.Unix(p.sec+1, 0))
	}
}

func (p *PythonOriginal) pop() *pyWaiter {
	w := p.queue[0]
	p.queue[0] = nil
	p.queue = p.queue[1:]
	return w
}

func (p *PythonOriginal) grant(w *pyWaiter) {
	w.granted = true
	close(w.ch)
}

func (p *PythonOriginal) schedule(at time.Time) {
	if p.timer != nil {
		if p.timerAt.Equal(at) {
			return
		}
		p.timer.Stop()
	}
	p.timerAt = at
	p.timer = time.AfterFunc(time.Until(at), func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.timerAt.Equal(at) {
			p.timer = nil
			p.timerAt = time.Time{}
		}
		p.pump(time.Now())
	})
}

// await waits for w's ticket.
func (p *PythonOriginal) await(ctx context.Context, w *pyWaiter) error {
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.granted {
		if w.probe {
			p.probeOut = false
		}
	} else if i := slices.Index(p.queue, w); i >= 0 {
		p.queue = slices.Delete(p.queue, i, i+1)
	}
	return ctx.Err()
}

// Do implements Client.
func (p *PythonOriginal) Do(ctx context.Context, req Request, call Call) error {
	w := &pyWaiter{ch: make(chan struct{})}
	p.mu.Lock()
	p.queue = append(p.queue, w)
	p.pump(time.Now())
	p.mu.Unlock()
	for {
		if err := p.await(ctx, w); err != nil {
			return err
		}
		_, err := call(ctx)
		_, limited := asRateLimited(err)
		p.mu.Lock()
		now := time.Now()
		switch {
		case !limited:
			if w.probe {
				p.probeOut = false
				if err == nil {
					p.roll(now) // the current second issues nothing more
					p.paused = false
					p.restart = true
					p.avail = 0
				}
				p.pump(now)
			}
			p.mu.Unlock()
			return err
		case w.probe:
			p.probeOut = false
			p.probeEvery = min(time.Duration(float64(p.probeEvery)*pyProbeGrowth), pyProbeInterval)
			p.nextProbe = now.Add(p.probeEvery)
		case !p.paused:
			p.paused = true
			p.probeEvery = pyProbeFirst
			p.nextProbe = now.Add(pyProbeFirst)
		}
		w = &pyWaiter{ch: make(chan struct{})}
		p.queue = slices.Insert(p.queue, 0, w)
		p.pump(now)
		p.mu.Unlock()
	}
}
