package sim

import (
	"context"

	"github.com/ratellmiter/ratellmiter"
)

// OursName is the name of the library's own client in result tables.
const OursName = "ratellmiter"

// NewOurs returns a client that runs every call through ratellmiter.Do on a
// BucketRateLimiter configured at rpm requests per minute: the library
// itself, with its defaults, not a model of it. When the server sends
// rate-limit headers (ServerConfig.Headers), each answer's go to the
// limiter's ObserveHeaders, as a program calling an SDK through Do would
// pass them. Its limiter joins a Monitor
// of its own, so a run inside a synctest bubble keeps everything in the
// bubble; the Monitor has no goroutine to stop, because it writes no logs
// and the limiter has no service to probe. The Monitor is made
// WithoutLogs, so that simulated minutes never go to the folder that
// RATELLMITER_LOGS may name.
func NewOurs(rpm int, opts ...ratellmiter.Option) (Client, error) {
	m := ratellmiter.NewMonitor(ratellmiter.WithoutLogs())
	l, err := ratellmiter.NewBucketRateLimiter(rpm, append([]ratellmiter.Option{ratellmiter.WithMonitor(m)}, opts...)...)
	if err != nil {
		return nil, err
	}
	return ClientFunc{ClientName: OursName, DoFunc: func(ctx context.Context, req Request, call Call) error {
		var opts []ratellmiter.AcquireOption
		if req.Tokens > 0 {
			opts = append(opts, ratellmiter.WithTokens(req.Tokens, 0))
		}
		_, err := ratellmiter.Do(ctx, l, func(ctx context.Context) (struct{}, error) {
			h, err := call(ctx)
			if h != nil {
				l.ObserveHeaders(h)
			}
			if rl, ok := asRateLimited(err); ok {
				return struct{}{}, &ratellmiter.RateLimitError{StatusCode: 429, RetryAfter: rl.RetryAfter, Err: err}
			}
			return struct{}{}, err
		}, opts...)
		return err
	}}, nil
}

// Ours is the factory of the library's client, configured from the
// scenario like the peers: at the scenario's RPM and, when it gives one,
// with a token budget of its TPM, each request charged its tokens.
func Ours() ClientFactory {
	return ClientFactory{Name: OursName, New: func(s Scenario) Client {
		var opts []ratellmiter.Option
		if s.ClientTPM > 0 {
			opts = append(opts, ratellmiter.WithTokensPerMinute(s.ClientTPM))
		}
		c, err := NewOurs(s.ClientRPM, opts...)
		if err != nil {
			panic(err) // scenarios are fixed and valid
		}
		return c
	}}
}

// All returns the peers and the library's client.
func All() []ClientFactory { return append(Peers(), Ours()) }
