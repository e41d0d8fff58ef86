package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// RateLimitedService is a rate-limited API as the limiters see it: a name,
// a probe that says whether the API currently refuses requests, and the
// limiter for each model. A limiter created WithService probes through it
// after a rate-limit error.
type RateLimitedService interface {
	// ServiceName names the service in logs and metrics.
	ServiceName() string
	// IsBlocked reports whether the service currently refuses requests.
	// It must honour ctx. A service that cannot tell returns
	// ErrProbeUnsupported: the limiter then lets one queued request
	// through as a canary instead. Any other error counts as blocked;
	// when the limiter's Classifier reads it as a rate limit with a hint
	// (the 429 of the probe's own call), the next probe waits for it.
	// A call it makes with ctx through a paused limiter (Acquire, Do, a
	// client on its Transport) is let through at once, counted by no
	// limiter, and not retried: its 429 is the probe's answer. It must
	// not call its Monitor's Stop, which waits for it until its timeout.
	IsBlocked(ctx context.Context) (bool, error)
	// Limiter returns the limiter for model, or the service's default
	// limiter for a model it does not know; nil if it has none.
	Limiter(model string) *BucketRateLimiter
}

// ProbeFunc reports whether a service currently refuses requests; see
// RateLimitedService.IsBlocked. A typical probe makes the cheapest call
// the API has (listing models, say) and reports whether it was rate
// limited. It may make that call through the service's limiters, with the
// context it is given (see RateLimitedService.IsBlocked).
type ProbeFunc func(ctx context.Context) (blocked bool, err error)

// Service is a ready-made RateLimitedService: a name, an optional probe,
// and a limiter per model. It is safe for concurrent use. Create it with
// NewService; the zero value is not usable.
type Service struct {
	name  string
	probe ProbeFunc

	mu       sync.RWMutex
	limiters map[string]*BucketRateLimiter
	closed   bool
}

var _ RateLimitedService = (*Service)(nil)

// NewService returns a Service named name. probe may be nil: its limiters
// then resume after a pause by a canary request.
func NewService(name string, probe ProbeFunc) *Service {
	return &Service{name: name, probe: probe, limiters: map[string]*BucketRateLimiter{}}
}

// NewLimiter creates the limiter for model at rpm requests per minute, with
// this service attached, and registers it. The empty model names the
// service's default limiter, used for models without one of their own.
// The limiter is named after the service and the model, "openai/gpt-4o"
// (the default limiter after the service alone, "openai"), unless opts
// name it with WithName.
// Registering a model twice is an error, unless its limiter was closed
// (its Close, not the service's): the new limiter then takes its place.
// Registering one once the service is closed is an error too (it wraps
// ErrClosed), and so is one with a service that has no name.
func (s *Service) NewLimiter(model string, rpm int, opts ...Option) (*BucketRateLimiter, error) {
	if s.name == "" {
		return nil, errors.New("ratellmiter: NewService: empty name (it names the service's limiters)")
	}
	name := s.name
	if model != "" {
		name += "/" + model
	}
	all := append([]Option{WithName(name)}, opts...)
	all = append(all, WithService(s))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("ratellmiter: service %q: %w", s.name, ErrClosed)
	}
	if old, dup := s.limiters[model]; dup && !old.isClosed() {
		return nil, fmt.Errorf("ratellmiter: service %q already has a limiter for model %q", s.name, model)
	}
	l, err := NewBucketRateLimiter(rpm, all...)
	if err != nil {
		return nil, err
	}
	s.limiters[model] = l
	return l, nil
}

// ServiceName returns the service's name.
func (s *Service) ServiceName() string { return s.name }

// IsBlocked runs the service's probe, or returns ErrProbeUnsupported when
// it has none.
func (s *Service) IsBlocked(ctx context.Context) (bool, error) {
	if s.probe == nil {
		return false, ErrProbeUnsupported
	}
	return s.probe(ctx)
}

// Limiter returns model's limiter, else the default one, else nil.
func (s *Service) Limiter(model string) *BucketRateLimiter {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if l, ok := s.limiters[model]; ok {
		return l
	}
	return s.limiters[""]
}

// Close closes every limiter of the service; Limiter still returns them,
// so that a late caller gets ErrClosed rather than another limiter.
// Closing twice does nothing more.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var errs []error
	for _, l := range s.limiters {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// isClosed reports whether l was closed or its Monitor stopped.
func (l *BucketRateLimiter) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}
