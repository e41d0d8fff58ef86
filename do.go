package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
)

// errNilFunc is returned by Do for a nil function.
var errNilFunc = errors.New("ratellmiter: Do: nil function")

// Do calls fn with a ticket from l (DefaultLimiter when l is nil). When fn
// returns an error that the limiter's Classifier says is a rate limit or an
// overload, the ticket is handed back with the server's hint, and fn is
// called again as soon as the limiter issues it, ahead of every new
// request; after the attempt limit (WithMaxRetries) Do returns an error
// wrapping both ErrRateLimited and fn's last error. An error that says a
// quota is used up is returned at once, wrapped so that errors.Is(err,
// ErrQuotaExhausted), and its ticket abandoned. Any other result of fn is
// returned as it is; an error that says nothing about the server's limits
// (ctx ended, a context error, a network error, a server error with a 5xx
// status) abandons the ticket (see Ticket.Abandon) instead of finishing it.
//
// If ctx ends while Do waits for a ticket, Do returns ctx.Err(); while it
// waits to retry, or when the retry could not be issued before ctx's
// deadline (ErrWouldExceedDeadline, at once), the error wraps fn's last
// error too. If fn (or the Classifier) panics, the ticket is abandoned and
// the panic goes on. opts describe the call (WithTokens) for the limiter's
// token budgets.
//
// When fn's error, or one it wraps, carries the server's response, as the
// SDKs' errors do (a Response *http.Response field beside the status), Do
// takes in its rate-limit headers as ObserveHeaders does, whatever the
// Classifier says: a 429 that reports the server's limit sets it, even
// wrapped in a *RateLimitError of the caller's. A rate limit or an
// overload whose response says "x-should-retry: false" is not retried:
// Do returns at once an error wrapping ErrRateLimited and fn's error. The
// headers of a successful call do not reach Do; pass them to
// ObserveHeaders.
//
// fn should not call through a Transport on the same limiter, nor call Do
// on it: each call would take a second ticket while it holds the first,
// and the two would retry a 429 each. With WithMaxInFlight(1) the second
// ticket waits, until ctx ends or WithMaxWait, for the slot the first holds,
// and during a pause, when the first is the canary, the second waits for the
// canary's timeout (WithProbeTimeout) before the limiter probes again. An
// SDK client called in fn should have its own retries off
// (option.WithMaxRetries(0) in the OpenAI and Anthropic SDKs): they would
// resend a rate-limited call without a ticket, before Do sees the 429.
func Do[T any](ctx context.Context, l *BucketRateLimiter, fn func(context.Context) (T, error), opts ...AcquireOption) (T, error) {
	var zero T
	if fn == nil {
		return zero, errNilFunc
	}
	if l == nil {
		if l = DefaultLimiter(); l == nil {
			return zero, ErrStopped
		}
	}
	t, err := l.Acquire(ctx, opts...)
	if err != nil {
		return zero, err
	}
	// Every path below finishes t; if fn or the Classifier panics, this
	// abandons it, so that its in-flight slot and budget are not lost.
	defer t.Abandon()
	for attempt := 1; ; attempt++ {
		v, err := fn(ctx)
		if err == nil {
			t.Done()
			return v, nil
		}
		mayRetry := true
		if resp := errorResponse(err); resp != nil {
			if r := l.observeHeaders(resp.Header).ShouldRetry; r != nil {
				mayRetry = *r
			}
		}
		c := l.cfg.classify(err)
		switch c.Kind {
		case KindRateLimited, KindOverloaded:
			overloaded := c.Kind == KindOverloaded
			if attempt > l.cfg.maxRetries {
				t.rateLimitedFinal(c.RetryAfter, overloaded)
				return zero, fmt.Errorf("%w after %d %s: %w", ErrRateLimited, attempt, plural(attempt, "attempt"), err)
			}
			if !mayRetry {
				t.rateLimitedFinal(c.RetryAfter, overloaded)
				return zero, fmt.Errorf("%w, and the server says not to retry (x-should-retry: false): %w", ErrRateLimited, err)
			}
			if werr := t.waitRetry(ctx, c.RetryAfter, overloaded); werr != nil {
				return zero, fmt.Errorf("%w (retrying after: %w)", werr, err)
			}
		case KindQuotaExhausted:
			// The refusal says nothing about the rate: it neither ends a
			// pause nor counts as admitted.
			t.Abandon()
			if errors.Is(err, ErrQuotaExhausted) {
				return zero, err
			}
			return zero, &QuotaError{Quota: c.Quota, Err: err}
		default:
			if saysNothing(ctx, err) {
				t.Abandon()
			} else {
				t.Done()
			}
			return v, err
		}
	}
}

// errorResponse returns the response an error of fn carries, if any: that
// of the first error in the chain with a Response *http.Response field
// that holds one, as the SDKs' errors have. An error of the caller's that
// wraps the SDK's with a status of its own (a *RateLimitError) has none,
// and the SDK's, under it, is read.
func errorResponse(err error) *http.Response {
	for e := range walkErrors(err) {
		if _, resp := statusOf(e); resp != nil {
			return resp
		}
	}
	return nil
}

// firstStatus returns the status and the response (nil if none) of the
// first error in err's chain that carries a status; 0 if none does.
func firstStatus(err error) (int, *http.Response) {
	for e := range walkErrors(err) {
		if code, resp := statusOf(e); code != 0 {
			return code, resp
		}
	}
	return 0, nil
}

// saysNothing reports whether err, returned by a call made under ctx, says
// nothing about the server's limits: the call got no answer (ctx ended, the
// error is a context error, or a network error, which every error of an
// http.Client is), or the server failed (an error in the chain carries a
// 5xx status, as the SDKs' errors do; the Classifier has already claimed
// the 5xx that are rate limits, a 503 with a hint or a 529).
func saysNothing(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	code, _ := firstStatus(err)
	return code >= 500
}

// Wrap returns fn wrapped in Do with limiter l, the counterpart of the
// original package's decorator. It panics if fn is nil, a mistake in the
// program rather than at run time.
func Wrap[T any](l *BucketRateLimiter, fn func(context.Context) (T, error)) func(context.Context) (T, error) {
	if fn == nil {
		panic("ratellmiter: Wrap: nil function")
	}
	return func(ctx context.Context) (T, error) { return Do(ctx, l, fn) }
}

// plural returns word, with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
