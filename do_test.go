package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDoReturnsTheResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		got, err := Do(context.Background(), l, func(context.Context) (string, error) { return "ok", nil })
		require.NoError(t, err)
		assert.Equal(t, "ok", got)
		assert.Equal(t, uint64(1), l.Stats().Finished)
	})
}

func TestDoRetriesRateLimitedCallsFirstInLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(openAnswer)
		l := newLimiter(t, 600, WithService(svc))
		calls := 0
		got, err := Do(context.Background(), l, func(context.Context) (int, error) {
			calls++
			if calls < 3 {
				return 0, &RateLimitError{StatusCode: 429, RetryAfter: time.Second}
			}
			return calls, nil
		})
		require.NoError(t, err)
		assert.Equal(t, 3, got)
		s := l.Stats()
		assert.Equal(t, uint64(2), s.RateLimited)
		assert.Equal(t, uint64(1), s.Finished)
		assertConserved(t, l)
	})
}

func TestDoGivesUpAfterTheAttemptLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(openAnswer)
		l := newLimiter(t, 600, WithService(svc), WithMaxRetries(3))
		cause := &RateLimitError{StatusCode: 429}
		calls := 0
		_, err := Do(context.Background(), l, func(context.Context) (int, error) {
			calls++
			return 0, fmt.Errorf("calling the API: %w", cause)
		})
		assert.Equal(t, 4, calls, "one call and three retries")
		assert.ErrorIs(t, err, ErrRateLimited)
		var rl *RateLimitError
		require.ErrorAs(t, err, &rl, "the last error is wrapped too")
		assert.Same(t, cause, rl)
		s := l.Stats()
		assert.Equal(t, 0, s.InFlight)
		assert.Equal(t, uint64(1), s.Finished)
		assertConserved(t, l)
	})
}

func TestDoFailsFastOnQuotaExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		calls := 0
		quota := errors.New("insufficient_quota")
		_, err := Do(context.Background(), l, func(context.Context) (int, error) {
			calls++
			return 0, &QuotaError{Quota: "insufficient_quota", Err: quota}
		})
		assert.Equal(t, 1, calls)
		assert.ErrorIs(t, err, ErrQuotaExhausted)
		assert.ErrorIs(t, err, quota)
		s := l.Stats()
		assert.False(t, s.Paused, "a used-up quota does not pause the limiter")
		assert.Zero(t, s.RateLimited)
	})
}

func TestDoWrapsClassifiedQuotaErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plain := errors.New("spend limit reached")
		classify := func(err error) Classification {
			if errors.Is(err, plain) {
				return Classification{Kind: KindQuotaExhausted, Quota: "spend"}
			}
			return DefaultClassifier(err)
		}
		l := newLimiter(t, 600, WithClassifier(classify))
		_, err := Do(context.Background(), l, func(context.Context) (int, error) { return 0, plain })
		assert.ErrorIs(t, err, ErrQuotaExhausted)
		assert.ErrorIs(t, err, plain)
		var qe *QuotaError
		require.ErrorAs(t, err, &qe)
		assert.Equal(t, "spend", qe.Quota)
	})
}

func TestDoReturnsOtherErrorsAsTheyAre(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		boom := errors.New("bad request")
		v, err := Do(context.Background(), l, func(context.Context) (int, error) { return 7, boom })
		assert.Same(t, boom, err)
		assert.Equal(t, 7, v)
		assert.Zero(t, l.Stats().RateLimited)
	})
}

func TestDoFinishesTheTicketWhenFnPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		assert.PanicsWithValue(t, "boom", func() {
			_, _ = Do(context.Background(), l, func(context.Context) (int, error) { panic("boom") })
		})
		s := l.Stats()
		assert.Equal(t, 0, s.InFlight)
		assert.Equal(t, uint64(1), s.Finished)
	})
}

func TestDoFreesTheInFlightSlotWhenTheClassifierPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithMaxInFlight(1), WithClassifier(func(error) Classification { panic("classifier") }))
		assert.PanicsWithValue(t, "classifier", func() {
			_, _ = Do(context.Background(), l, func(context.Context) (int, error) { return 0, errors.New("failed") })
		})
		assert.Equal(t, 0, l.Stats().InFlight, "the ticket was abandoned")
		v, err := Do(context.Background(), l, func(context.Context) (int, error) { return 1, nil })
		require.NoError(t, err, "the only in-flight slot is free again")
		assert.Equal(t, 1, v)
	})
}

// nilEmbedError reaches its StatusCode field and method and its Response
// through a nil embedded pointer.
type nilEmbedError struct {
	*sdkLikeError
	msg string
}

func (e *nilEmbedError) Error() string { return e.msg }

type nilEmbedMethodError struct{ *statusPointerError }

type statusPointerError struct{ code int }

func (e *statusPointerError) StatusCode() int { return e.code }
func (e nilEmbedMethodError) Error() string   { return "no status" }

func TestDefaultClassifierToleratesNilEmbeddedPointers(t *testing.T) {
	for _, err := range []error{&nilEmbedError{msg: "x"}, nilEmbedMethodError{}} {
		var c Classification
		require.NotPanics(t, func() { c = DefaultClassifier(err) }, "%T", err)
		assert.Equal(t, KindOther, c.Kind, "%T carries no status", err)
	}
	// Through a non-nil pointer, the status is read as usual.
	assert.Equal(t, KindRateLimited, DefaultClassifier(&nilEmbedError{sdkLikeError: &sdkLikeError{StatusCode: 429}}).Kind)
	assert.Equal(t, KindRateLimited, DefaultClassifier(nilEmbedMethodError{&statusPointerError{429}}).Kind)
}

func TestDoHonoursContextWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6)
		held, _ := l.Acquire(context.Background())
		defer held.Done()
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(time.Second); cancel() }()
		called := false
		_, err := Do(ctx, l, func(context.Context) (int, error) { called = true; return 0, nil })
		assert.ErrorIs(t, err, context.Canceled)
		assert.False(t, called)
	})
}

func TestDoRejectsNilFunctionAndWrapPanics(t *testing.T) {
	_, err := Do[int](context.Background(), nil, nil)
	assert.Error(t, err)
	assert.Panics(t, func() { Wrap[int](nil, nil) })
}

func TestWrapBehavesLikeDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		double := Wrap(l, func(ctx context.Context) (int, error) { return 21 * 2, nil })
		got, err := double(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 42, got)
	})
}

// sdkLikeError has the shape of the official SDKs' API errors: an
// exported StatusCode field and the *http.Response.
type sdkLikeError struct {
	StatusCode int
	Response   *http.Response
}

func (e *sdkLikeError) Error() string { return fmt.Sprintf("status %d", e.StatusCode) }

type statusMethodError int

func (e statusMethodError) Error() string   { return "status" }
func (e statusMethodError) StatusCode() int { return int(e) }

func TestDefaultClassifier(t *testing.T) {
	withHeader := func(code int, k, v string) error {
		h := http.Header{}
		h.Set(k, v)
		return &sdkLikeError{StatusCode: code, Response: &http.Response{StatusCode: code, Header: h}}
	}
	tests := []struct {
		name string
		err  error
		want Classification
	}{
		{"nil", nil, Classification{}},
		{"plain error", errors.New("x"), Classification{}},
		{"RateLimitError", &RateLimitError{RetryAfter: 3 * time.Second}, Classification{Kind: KindRateLimited, RetryAfter: 3 * time.Second}},
		{"wrapped RateLimitError", fmt.Errorf("x: %w", &RateLimitError{}), Classification{Kind: KindRateLimited}},
		{"QuotaError", &QuotaError{Quota: "q"}, Classification{Kind: KindQuotaExhausted, Quota: "q"}},
		{"wrapped ErrQuotaExhausted", fmt.Errorf("billing: %w", ErrQuotaExhausted), Classification{Kind: KindQuotaExhausted}},
		{"SDK 429 with retry-after-ms", withHeader(429, "Retry-After-Ms", "1500"), Classification{Kind: KindRateLimited, RetryAfter: 1500 * time.Millisecond}},
		{"SDK 429 with retry-after", withHeader(429, "Retry-After", "7"), Classification{Kind: KindRateLimited, RetryAfter: 7 * time.Second}},
		{"SDK 529 overloaded", &sdkLikeError{StatusCode: 529}, Classification{Kind: KindOverloaded}},
		{"SDK 503 with retry-after", withHeader(503, "Retry-After", "2"), Classification{Kind: KindOverloaded, RetryAfter: 2 * time.Second}},
		{"SDK 503 without a hint", &sdkLikeError{StatusCode: 503}, Classification{}},
		{"SDK 400", &sdkLikeError{StatusCode: 400}, Classification{}},
		{"StatusCode method", statusMethodError(429), Classification{Kind: KindRateLimited}},
		{"joined", errors.Join(errors.New("a"), statusMethodError(429)), Classification{Kind: KindRateLimited}},
		{"nil pointer", (*sdkLikeError)(nil), Classification{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, DefaultClassifier(tc.err))
		})
	}
}

// rawJSONError has the SDKs' RawJSON method.
type rawJSONError struct {
	sdkLikeError
	raw string
}

func (e *rawJSONError) RawJSON() string { return e.raw }

func TestDefaultClassifierTellsQuotaFromRateLimit(t *testing.T) {
	quota := &rawJSONError{sdkLikeError{StatusCode: 429},
		`{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`}
	c := DefaultClassifier(quota)
	assert.Equal(t, KindQuotaExhausted, c.Kind)
	assert.Equal(t, "insufficient_quota", c.Quota)

	rate := &rawJSONError{sdkLikeError{StatusCode: 429},
		`{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`}
	assert.Equal(t, KindRateLimited, DefaultClassifier(rate).Kind)

	h := http.Header{}
	h.Set("X-Should-Retry", "false")
	noRetry := &sdkLikeError{StatusCode: 429, Response: &http.Response{StatusCode: 429, Header: h}}
	assert.Equal(t, KindQuotaExhausted, DefaultClassifier(noRetry).Kind)
}

func TestDefaultClassifierReadsHintsAndOverloadsFromTheBody(t *testing.T) {
	openAI := &rawJSONError{sdkLikeError{StatusCode: 429},
		`{"error":{"message":"Rate limit reached for gpt-4o. Please try again in 1.5s.","type":"requests","code":"rate_limit_exceeded"}}`}
	assert.Equal(t, Classification{Kind: KindRateLimited, RetryAfter: 1500 * time.Millisecond}, DefaultClassifier(openAI))

	gemini := &rawJSONError{sdkLikeError{StatusCode: 429}, `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"quota",
		"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"26s"}]}}`}
	assert.Equal(t, Classification{Kind: KindRateLimited, RetryAfter: 26 * time.Second}, DefaultClassifier(gemini))

	unavailable := &rawJSONError{sdkLikeError{StatusCode: 503},
		`{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}`}
	assert.Equal(t, KindOverloaded, DefaultClassifier(unavailable).Kind, "Gemini's overload is waited out like a rate limit")
}

func TestDoACanaryThatPanicsDoesNotResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600) // no service: canaries decide
		calls := 0
		func() {
			defer func() { assert.NotNil(t, recover(), "the panic goes on") }()
			_, _ = Do(context.Background(), l, func(context.Context) (int, error) {
				calls++
				if calls == 1 {
					return 0, &RateLimitError{StatusCode: 429}
				}
				panic("boom") // the canary retry
			})
		}()
		assert.Equal(t, 2, calls)
		assert.True(t, l.Stats().Paused, "a canary that panicked is no proof the server is back")
		v, err := Do(context.Background(), l, func(context.Context) (int, error) { return 7, nil })
		require.NoError(t, err)
		assert.Equal(t, 7, v)
		assert.False(t, l.Stats().Paused, "the next canary succeeded")
		assertConserved(t, l)
	})
}

func TestDoACanaryThatGetsNoAnswerDoesNotResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithProbeInterval(time.Second, 10*time.Second, 2))
		calls := 0
		_, err := Do(context.Background(), l, func(ctx context.Context) (int, error) {
			calls++
			if calls == 1 {
				return 0, &RateLimitError{StatusCode: 429}
			}
			// The canary: the server hangs and the call's own timeout
			// ends it.
			ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			<-ctx.Done()
			return 0, ctx.Err()
		})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 2, calls)
		st := l.Stats()
		assert.True(t, st.Paused, "a canary that got no answer is no proof the server is back")
		// The next probe backs off as after a refused canary: 1 s, then 2 s.
		start := time.Now()
		_, err = Do(context.Background(), l, func(context.Context) (int, error) { return 1, nil })
		require.NoError(t, err)
		assert.Equal(t, 2*time.Second, time.Since(start))
		assert.False(t, l.Stats().Paused)
		assertConserved(t, l)
	})
}

// pausedLimiter returns a limiter at 600 RPM that a 429 has paused, with
// nobody waiting: the next call is its canary.
func pausedLimiter(t *testing.T) *BucketRateLimiter {
	l := newLimiter(t, 600)
	tk, _ := l.Acquire(context.Background())
	giveUp(t, tk, 0) // paused, and the ticket given up
	return l
}

func TestDoAbandonsTheTicketOfACallThatSaysNothingOfTheLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"network error", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}},
		{"context error", fmt.Errorf("calling: %w", context.Canceled)},
		{"server error", &sdkLikeError{StatusCode: 500}},
		{"wrapped server error", fmt.Errorf("calling: %w", statusMethodError(502))},
		{"exhausted quota", &QuotaError{Quota: "insufficient_quota"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := pausedLimiter(t)
				// The next call is the canary.
				_, err := Do(context.Background(), l, func(context.Context) (int, error) { return 0, tc.err })
				require.ErrorIs(t, err, tc.err)
				assert.True(t, l.Stats().Paused)
				_, err = Do(context.Background(), l, func(context.Context) (int, error) { return 1, nil })
				require.NoError(t, err, "the next canary goes out later and succeeds")
				assert.False(t, l.Stats().Paused)
				assertConserved(t, l)
			})
		})
	}
}

func TestDoCanaryWithAClientErrorResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := pausedLimiter(t)
		// The canary's request is refused as malformed: the server
		// answered, so it accepts requests again.
		bad := &sdkLikeError{StatusCode: 400}
		_, err := Do(context.Background(), l, func(context.Context) (int, error) { return 0, bad })
		require.ErrorIs(t, err, bad)
		assert.False(t, l.Stats().Paused)
		assertConserved(t, l)
	})
}

func TestDoFailsAtOnceWhenTheRetryCannotMakeTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		calls := 0
		_, err := Do(ctx, l, func(context.Context) (int, error) {
			calls++
			return 0, &RateLimitError{StatusCode: 429, RetryAfter: 30 * time.Second}
		})
		require.ErrorIs(t, err, ErrWouldExceedDeadline)
		var rle *RateLimitError
		require.ErrorAs(t, err, &rle, "the server's answer is kept")
		assert.Equal(t, 30*time.Second, rle.RetryAfter)
		assert.Zero(t, time.Since(start), "at once, not at the deadline")
		assert.Equal(t, 1, calls)
		assertConserved(t, l)
	})
}
