package sim

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"golang.org/x/time/rate"
)

// Client is a calling policy under test. One Client serves all the workers
// of a run, so it must be safe for concurrent use.
type Client interface {
	// Name identifies the policy in reports.
	Name() string
	// Do performs the request through the policy: it waits as the policy
	// says, invokes call (one attempt against the provider; never invoked
	// concurrently for one request), retries on *RateLimited as the policy
	// says, and returns nil once an attempt succeeded, or the final error.
	// Do must return promptly once ctx is done.
	Do(ctx context.Context, req Request, call Call) error
}

// Call is one attempt against the provider. It returns the answer's
// rate-limit headers (nil when the server sends none, see
// ServerConfig.Headers) and nil, a *RateLimited, or the context's error.
type Call func(context.Context) (http.Header, error)

// ClientFactory builds a fresh Client for each run, configured from the
// scenario (typically Scenario.ClientRPM, and Scenario.ClientTPM for
// policies that know about tokens).
type ClientFactory struct {
	Name string
	New  func(s Scenario) Client
}

// ClientFunc adapts a function to the Client interface.
type ClientFunc struct {
	ClientName string
	DoFunc     func(ctx context.Context, req Request, call Call) error
}

// Name implements Client.
func (c ClientFunc) Name() string { return c.ClientName }

// Do implements Client.
func (c ClientFunc) Do(ctx context.Context, req Request, call Call) error {
	return c.DoFunc(ctx, req, call)
}

// MaxAttempts bounds the attempts of the Naive, FullJitter and XRate
// policies; the last 429 is returned as the request's error.
const MaxAttempts = 10

// Peers returns the reference policies the library is compared with.
func Peers() []ClientFactory {
	return []ClientFactory{
		{Name: "naive", New: func(Scenario) Client { return NewNaive() }},
		{Name: "full-jitter", New: func(s Scenario) Client { return NewFullJitter(s.Server.Seed) }},
		{Name: "x/time/rate", New: func(s Scenario) Client { return NewXRate(s.ClientRPM) }},
		{Name: "python-original", New: func(s Scenario) Client { return NewPythonOriginal(s.ClientRPM) }},
	}
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// asRateLimited reports whether err is a 429 and returns it.
func asRateLimited(err error) (*RateLimited, bool) {
	var rl *RateLimited
	ok := errors.As(err, &rl)
	return rl, ok
}

// backoff returns base·2^k capped at limit (limit <= 0: no cap).
func backoff(base time.Duration, k int, limit time.Duration) time.Duration {
	d := base
	for range k {
		d *= 2
		if limit > 0 && d >= limit {
			return limit
		}
	}
	if limit > 0 {
		d = min(d, limit)
	}
	return d
}

// Naive is the retry loop found in most tutorials: no pacing at all; after
// the k-th 429 (k from 0) it sleeps 2^k seconds (1, 2, 4, 8, ... s) and
// tries again, giving up after MaxAttempts attempts.
type Naive struct{}

// NewNaive returns the naive policy.
func NewNaive() *Naive { return &Naive{} }

// Name implements Client.
func (*Naive) Name() string { return "naive" }

// Do implements Client.
func (*Naive) Do(ctx context.Context, req Request, call Call) error {
	for k := 0; ; k++ {
		_, err := call(ctx)
		if _, ok := asRateLimited(err); !ok || k+1 >= MaxAttempts {
			return err
		}
		if err := sleepCtx(ctx, backoff(time.Second, k, 0)); err != nil {
			return err
		}
	}
}

// FullJitter is exponential backoff with "full jitter": no pacing; after
// the k-th 429 (k from 0) it sleeps a uniform random duration in
// [0, min(60 s, 1 s·2^k)), giving up after MaxAttempts attempts. The random
// draws depend only on the seed, the request ID and k.
type FullJitter struct {
	seed int64
}

// NewFullJitter returns the full-jitter policy.
func NewFullJitter(seed int64) *FullJitter { return &FullJitter{seed: seed} }

// Name implements Client.
func (*FullJitter) Name() string { return "full-jitter" }

// Do implements Client.
func (c *FullJitter) Do(ctx context.Context, req Request, call Call) error {
	r := rand.New(rand.NewPCG(uint64(c.seed), mix(uint64(req.ID)^0x5bd1e995)))
	for k := 0; ; k++ {
		_, err := call(ctx)
		if _, ok := asRateLimited(err); !ok || k+1 >= MaxAttempts {
			return err
		}
		ceiling := backoff(time.Second, k, 60*time.Second)
		if err := sleepCtx(ctx, time.Duration(r.Int64N(int64(ceiling)))); err != nil {
			return err
		}
	}
}

// XRate paces with golang.org/x/time/rate: a limiter at RPM/60 per second
// with a burst of 1, waited on before every attempt. After the k-th 429 (k
// from 0) it sleeps max(Retry-After hint, 1 s·2^k), giving up after
// MaxAttempts attempts.
type XRate struct {
	lim *rate.Limiter
	// tok, if set, is a second limiter, for tokens: each attempt waits on
	// it for the request's tokens (at most its burst) after lim. The
	// peer of the comparison has none.
	tok *rate.Limiter
}

// NewXRate returns the x/time/rate policy configured for rpm.
func NewXRate(rpm int) *XRate {
	return &XRate{lim: rate.NewLimiter(rate.Limit(float64(rpm)/60), 1)}
}

// Name implements Client.
func (*XRate) Name() string { return "x/time/rate" }

// Do implements Client.
func (c *XRate) Do(ctx context.Context, req Request, call Call) error {
	for k := 0; ; k++ {
		if err := c.lim.Wait(ctx); err != nil {
			return err
		}
		if c.tok != nil && req.Tokens > 0 {
			if err := c.tok.WaitN(ctx, min(req.Tokens, c.tok.Burst())); err != nil {
				return err
			}
		}
		_, err := call(ctx)
		rl, ok := asRateLimited(err)
		if !ok || k+1 >= MaxAttempts {
			return err
		}
		if err := sleepCtx(ctx, max(rl.RetryAfter, backoff(time.Second, k, 0))); err != nil {
			return err
		}
	}
}
