package sim

import (
	"context"
	"sync"
	"time"
)

// OracleName is the name of the Oracle client in result tables.
const OracleName = "oracle"

// Oracle is not a policy anyone can deploy: it is told the server's exact
// configuration and keeps a replica of its buckets, so it sends each
// request at the first instant the server admits it. The Oracle of a
// scenario (OracleFactory) takes the requests in the scenario's arrival
// order, as PhysicalMin does: a request that reaches Do before one that
// arrived ahead of it waits for that one's reservation. One built with
// NewOracle takes them in the order they reach Do. It is the greedy
// schedule of PhysicalMin played out against the real latencies, and so
// shows how close to the minimum any client can come: it differs from the
// minimum only by the latency of the last answers, which no client
// controls.
//
// It never provokes a 429 from a server built from the same configuration,
// a property its tests check; if one comes anyway it waits the hint and
// tries again.
type Oracle struct {
	start time.Time

	mu   sync.Mutex
	rep  *replica
	next int64 // the earliest time, since start, of the next reservation

	// turnOf gives each request ID its place in the arrival order, nil
	// when reservations follow the order of Do; turn is the place whose
	// first reservation comes next, and moved is closed when it advances.
	turnOf map[int]int
	turn   int
	moved  chan struct{}
}

// NewOracle returns an Oracle for a server built from cfg at the same
// instant, so that the two share their time origin.
func NewOracle(cfg ServerConfig) *Oracle {
	return &Oracle{start: time.Now(), rep: newReplica(cfg)}
}

// OracleFactory builds the Oracle of each scenario's server. Run creates
// the client right after the server, so the two clocks agree.
func OracleFactory() ClientFactory {
	return ClientFactory{Name: OracleName, New: func(s Scenario) Client {
		o := NewOracle(s.Server)
		o.turnOf = make(map[int]int, s.Requests)
		for k, i := range s.order() {
			o.turnOf[s.request(i).ID] = k
		}
		o.moved = make(chan struct{})
		return o
	}}
}

// Name implements Client.
func (*Oracle) Name() string { return OracleName }

// Do implements Client.
func (o *Oracle) Do(ctx context.Context, req Request, call Call) error {
	for first := true; ; first = false {
		at, err := o.reserve(ctx, req, first)
		if err != nil {
			return err
		}
		if err := sleepCtx(ctx, time.Until(o.start.Add(at))); err != nil {
			return err
		}
		_, err = call(ctx)
		rl, ok := asRateLimited(err)
		if !ok {
			return err
		}
		if err := sleepCtx(ctx, rl.RetryAfter); err != nil {
			return err
		}
	}
}

// reserve takes room for req in the replica at the first instant, no
// earlier than now or the previous reservation, when the server admits it,
// and returns that instant as an offset from start. The first reservation
// of a request with a place in the arrival order waits until the requests
// before it have made theirs; it returns ctx's error if ctx ends first.
func (o *Oracle) reserve(ctx context.Context, req Request, first bool) (time.Duration, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if k, ok := o.turnOf[req.ID]; ok && first {
		for o.turn < k {
			moved := o.moved
			o.mu.Unlock()
			select {
			case <-moved:
			case <-ctx.Done():
				o.mu.Lock()
				return 0, ctx.Err()
			}
			o.mu.Lock()
		}
		if o.turn == k {
			o.turn++
			close(o.moved)
			o.moved = make(chan struct{})
		}
	}
	o.next = o.rep.admit(max(o.next, int64(time.Since(o.start))), req)
	return time.Duration(o.next), nil
}

// replica follows the limits of a server built from the same configuration
// for a single client that is never refused: the request and token buckets
// and the outages (no penalty, since nothing is refused).
type replica struct {
	outages  []Outage
	rpm, tpm *gauge
}

func newReplica(cfg ServerConfig) *replica {
	r := &replica{outages: cfg.Outages, rpm: newGauge(cfg.Window, cfg.RPM)}
	if cfg.TPM > 0 {
		r.tpm = newGauge(cfg.Window, cfg.TPM)
	}
	return r
}

// admit returns the first instant from t (nanoseconds since the server's
// creation) at which the server is up and has room for req, and takes that
// room. Calls must come with non-decreasing t.
func (r *replica) admit(t int64, req Request) int64 {
	for {
		if end, down := outageEnd(r.outages, t); down {
			t = end
			continue
		}
		w := r.rpm.wait(t, 1)
		if r.tpm != nil {
			w = max(w, r.tpm.wait(t, req.Tokens))
		}
		if w == 0 {
			break
		}
		t += int64(w)
	}
	r.rpm.take(t, 1)
	if r.tpm != nil {
		r.tpm.take(t, req.Tokens)
	}
	return t
}
