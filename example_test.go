package ratellmiter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ratellmiter/ratellmiter"
)

// A call that the server rate limits is retried by Do, first in line,
// once the limiter has paused and found the server willing again.
func ExampleDo() {
	m := ratellmiter.NewMonitor()
	defer m.Stop()
	limiter, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(m),
		ratellmiter.WithProbeInterval(10*time.Millisecond, time.Second, 1.5))
	if err != nil {
		panic(err)
	}

	calls := 0
	answer, err := ratellmiter.Do(context.Background(), limiter, func(ctx context.Context) (string, error) {
		calls++
		if calls == 1 {
			// What a client returns when the server answers 429.
			return "", &ratellmiter.RateLimitError{StatusCode: 429, RetryAfter: 20 * time.Millisecond}
		}
		return "hello", nil
	})
	fmt.Println(answer, err)
	s := limiter.Stats()
	fmt.Println("calls:", calls, "rate limited:", s.RateLimited, "pauses:", s.Pauses, "finished:", s.Finished)
	// Output:
	// hello <nil>
	// calls: 2 rate limited: 1 pauses: 1 finished: 1
}

// Wrap turns a function into a rate-limited one, like the original
// package's decorator.
func ExampleWrap() {
	m := ratellmiter.NewMonitor()
	defer m.Stop()
	limiter, _ := ratellmiter.NewBucketRateLimiter(6000, ratellmiter.WithMonitor(m))
	complete := ratellmiter.Wrap(limiter, func(ctx context.Context) (int, error) { return 42, nil })
	n, err := complete(context.Background())
	fmt.Println(n, err)
	// Output: 42 <nil>
}

// Acquire and Done, for callers that make the call themselves.
func ExampleBucketRateLimiter_Acquire() {
	m := ratellmiter.NewMonitor()
	defer m.Stop()
	limiter, _ := ratellmiter.NewBucketRateLimiter(6000, ratellmiter.WithMonitor(m), ratellmiter.WithName("gpt-4o-mini"))
	for range 3 {
		ticket, err := limiter.Acquire(context.Background())
		if err != nil {
			panic(err)
		}
		// ... make the call ...
		ticket.Done()
	}
	s := limiter.Stats()
	fmt.Println(s.Name, "issued:", s.Issued, "finished:", s.Finished)
	// Output: gpt-4o-mini issued: 3 finished: 3
}

// A quota that is used up fails at once: retrying cannot help.
func ExampleQuotaError() {
	m := ratellmiter.NewMonitor()
	defer m.Stop()
	limiter, _ := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(m))
	_, err := ratellmiter.Do(context.Background(), limiter, func(ctx context.Context) (string, error) {
		return "", &ratellmiter.QuotaError{Quota: "insufficient_quota"}
	})
	fmt.Println(errors.Is(err, ratellmiter.ErrQuotaExhausted), limiter.Stats().Paused)
	// Output: true false
}

// A Service groups the limiters of one provider, one per model, and probes
// the provider after a pause.
func ExampleService() {
	m := ratellmiter.NewMonitor()
	defer m.Stop()
	svc := ratellmiter.NewService("openai", func(ctx context.Context) (bool, error) {
		// Make the cheapest call the API has and report a 429.
		return false, nil
	})
	mini, _ := svc.NewLimiter("gpt-4o-mini", 5000, ratellmiter.WithMonitor(m))
	other, _ := svc.NewLimiter("", 500, ratellmiter.WithMonitor(m))
	fmt.Println(svc.Limiter("gpt-4o-mini") == mini, svc.Limiter("o3") == other)
	fmt.Println(mini.Name(), other.Name())
	// Output:
	// true true
	// openai/gpt-4o-mini openai
}

// A token budget admits a call only when its estimate fits; the usage the
// answer reports corrects the charge.
func ExampleWithTokens() {
	m := ratellmiter.NewMonitor()
	defer m.Stop()
	limiter, err := ratellmiter.NewBucketRateLimiter(6000, ratellmiter.WithMonitor(m),
		ratellmiter.WithTokensPerMinute(60_000)) // 1,000 tokens a second
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	tk, err := limiter.Acquire(ctx, ratellmiter.WithTokens(200, 800)) // prompt, max_tokens
	if err != nil {
		panic(err)
	}
	tk.Used(200, 50) // the answer was short: 750 tokens come back
	tk.Done()
	tk, err = limiter.Acquire(ctx, ratellmiter.WithTokens(200, 500))
	fmt.Println("after a short answer:", err)
	tk.Done()

	// Nothing in flight can give tokens back: a call the budget cannot
	// fit before the deadline fails at once.
	_, err = limiter.Acquire(ctx, ratellmiter.WithTokens(200, 800))
	fmt.Println("too big for the deadline:", errors.Is(err, ratellmiter.ErrWouldExceedDeadline))

	_, err = limiter.Acquire(ctx, ratellmiter.WithTokens(10_000, 60_000))
	fmt.Println(errors.Is(err, ratellmiter.ErrExceedsBudget))
	// Output:
	// after a short answer: <nil>
	// too big for the deadline: true
	// true
}

// busyError is what a hypothetical client returns when its backend is
// busy, with how long to wait.
type busyError struct{ retryIn time.Duration }

func (e *busyError) Error() string { return "backend busy" }

// A classifier for another API: its busy error is an overload (Do waits
// and retries, and the limit stays as it is); everything else is left to
// DefaultClassifier.
func ExampleWithClassifier() {
	classify := func(err error) ratellmiter.Classification {
		var busy *busyError
		if errors.As(err, &busy) {
			return ratellmiter.Classification{Kind: ratellmiter.KindOverloaded, RetryAfter: busy.retryIn}
		}
		return ratellmiter.DefaultClassifier(err)
	}
	m := ratellmiter.NewMonitor()
	defer m.Stop()
	limiter, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(m), ratellmiter.WithClassifier(classify))
	if err != nil {
		panic(err)
	}
	calls := 0
	answer, err := ratellmiter.Do(context.Background(), limiter, func(context.Context) (string, error) {
		calls++
		if calls == 1 {
			return "", &busyError{retryIn: 10 * time.Millisecond}
		}
		return "done", nil
	})
	fmt.Println(answer, err, "after", calls, "calls; limit", limiter.RPM(), "RPM")
	// Output: done <nil> after 2 calls; limit 600 RPM
}

// A program that calls an SDK through Do, rather than through the
// Transport, hands each response's headers to its limiter, which then
// never works above the limit the server reports, though configured above
// it.
func ExampleBucketRateLimiter_ObserveHeaders() {
	m := ratellmiter.NewMonitor(ratellmiter.WithoutLogs())
	defer m.Stop()
	limiter, err := ratellmiter.NewBucketRateLimiter(6000, ratellmiter.WithMonitor(m))
	if err != nil {
		panic(err)
	}

	// The headers of an answer, as openai-go hands the response to
	// option.WithResponseInto.
	h := http.Header{}
	h.Set("x-ratelimit-limit-requests", "3000")
	h.Set("x-ratelimit-remaining-requests", "2999")
	h.Set("x-ratelimit-reset-requests", "20ms")
	limiter.ObserveHeaders(h)
	fmt.Println(limiter.RPM(), "requests per minute")
	// Output: 3000 requests per minute
}
