package ratellmiter

import (
	"fmt"
	"log/slog"
	"reflect"
	"time"
)

// Defaults of a BucketRateLimiter. Each is documented on the option that
// changes it.
const (
	DefaultRPM          = 300
	DefaultMaxRetries   = 19
	DefaultRampStart    = 0.5
	DefaultRampStep     = 0.25
	DefaultProbeFirst   = time.Second
	DefaultProbeMax     = 65 * time.Second
	DefaultProbeGrowth  = 1.5
	DefaultProbeTimeout = 10 * time.Second
)

// Option configures a BucketRateLimiter. The set of options is closed: use
// the With functions of this package.
type Option interface {
	applyLimiter(*config) error
}

type config struct {
	name         string
	service      RateLimitedService
	monitor      *Monitor
	maxRetries   int
	rampStart    float64
	rampStep     float64
	idleRamp     bool
	probeFirst   time.Duration
	probeMax     time.Duration
	probeGrowth  float64
	probeTimeout time.Duration
	classify     Classifier
	logger       *slog.Logger
	maxInFlight  int
	maxWait      time.Duration
	learn        bool
	observer     Observer
	tpm          int // tokens per minute, combined; 0: no budget
	inputTPM     int
	outputTPM    int
	tokenBurst   time.Duration // how much refill a token budget banks; 0: a second's
	rpd          int           // requests per day; 0: no budget
	share        *shareConfig  // WithStore
}

// budgets returns the budgets the options ask for.
func (c *config) budgets() budgets {
	bank := c.tokenBurst
	if bank == 0 {
		bank = time.Second
	}
	perMinute := func(n int) refill {
		return newRefill(n, minuteNs, float64(n)*float64(bank)/float64(minuteNs))
	}
	var b budgets
	if c.tpm > 0 {
		b.tokens = perMinute(c.tpm)
	}
	if c.inputTPM > 0 {
		b.input = perMinute(c.inputTPM)
	}
	if c.outputTPM > 0 {
		b.output = perMinute(c.outputTPM)
	}
	if c.rpd > 0 {
		b.daily = newRefill(c.rpd, dayNs, float64(c.rpd))
	}
	return b
}

func defaultConfig() config {
	return config{
		maxRetries:   DefaultMaxRetries,
		rampStart:    DefaultRampStart,
		rampStep:     DefaultRampStep,
		probeFirst:   DefaultProbeFirst,
		probeMax:     DefaultProbeMax,
		probeGrowth:  DefaultProbeGrowth,
		probeTimeout: DefaultProbeTimeout,
		classify:     DefaultClassifier,
		learn:        true,
	}
}

type limiterOption func(*config) error

func (f limiterOption) applyLimiter(c *config) error { return f(c) }

// WithName names the limiter in logs, metrics and errors. Several models may
// share one limiter; the name is usually the model's or the service's.
// Limiters created without a name are named "default", "default-2",
// "default-3", ..., the first name no other limiter of their Monitor has,
// so that their minute logs stay apart. Limiters made by
// Service.NewLimiter are named "service/model" (the service's name alone
// for its default limiter) unless WithName is given.
func WithName(name string) Option {
	return limiterOption(func(c *config) error {
		if name == "" {
			return fmt.Errorf("ratellmiter: WithName: empty name")
		}
		c.name = name
		return nil
	})
}

// isNil reports whether v is nil or an interface holding a nil pointer or
// function: a *redisstore.Store variable never set, say.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Func:
		return rv.IsNil()
	}
	return false
}

// nilOf returns what an error adds about the nil v: nothing, or for a
// nil pointer in an interface, its type.
func nilOf(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf(" (a nil %T)", v)
}

// WithService names the RateLimitedService the limiter belongs to. After a
// pause, the limiter asks the service's IsBlocked whether the server accepts
// requests again (on a goroutine of its Monitor: an IsBlocked that panics
// or fails counts as blocked). Without a service, it resumes with a canary
// request. The service's ServiceName is asked once, when the limiter is
// created, for its minute logs.
func WithService(s RateLimitedService) Option {
	return limiterOption(func(c *config) error {
		if s == nil {
			return fmt.Errorf("ratellmiter: WithService: nil service")
		}
		c.service = s
		return nil
	})
}

// WithMonitor makes the limiter join m instead of DefaultMonitor().
func WithMonitor(m *Monitor) Option {
	return limiterOption(func(c *config) error {
		if m == nil {
			return fmt.Errorf("ratellmiter: WithMonitor: nil monitor")
		}
		c.monitor = m
		return nil
	})
}

// WithMaxRetries sets how many times Do and the transport retry a call that
// was rate limited, so a call is attempted at most n+1 times. The default is
// 19 retries, 20 attempts. n = 0 means no retry.
func WithMaxRetries(n int) Option {
	return limiterOption(func(c *config) error {
		if n < 0 {
			return fmt.Errorf("ratellmiter: WithMaxRetries(%d): must be >= 0", n)
		}
		c.maxRetries = n
		return nil
	})
}

// WithRampUp sets the ramp that follows a pause: a second may issue at most
// what the previous second issued plus step times the per-second cap (at
// least 1), and never less than start times the cap (at least 1), until a
// second issues the full cap. Both must be in (0, 1]. WithRampUp(1, 1)
// turns the ramp off. The defaults are 0.5 and 0.25: full rate in the
// third second. The original rateLLMiter used 0.25 and 0.10; in the
// simulator that ramp costs 2.6 s more after a 30 s outage and 2.4 s more
// when the configured rate is twice the real one, and saves no 429.
//
// The original also ramped after idleness; WithIdleRamp turns that on.
func WithRampUp(start, step float64) Option {
	return limiterOption(func(c *config) error {
		if !(start > 0 && start <= 1) {
			return fmt.Errorf("ratellmiter: WithRampUp: start %v not in (0, 1]", start)
		}
		if !(step > 0 && step <= 1) {
			return fmt.Errorf("ratellmiter: WithRampUp: step %v not in (0, 1]", step)
		}
		c.rampStart, c.rampStep = start, step
		return nil
	})
}

// WithProbeInterval sets when the limiter checks, after a pause, whether the
// server accepts requests again: first after the server's retry-after hint
// or, without one, after first; then, while the server stays blocked, at
// intervals that grow by the factor growth up to max.
// Defaults: 1 s, 65 s, 1.5.
func WithProbeInterval(first, max time.Duration, growth float64) Option {
	return limiterOption(func(c *config) error {
		switch {
		case first <= 0:
			return fmt.Errorf("ratellmiter: WithProbeInterval: first interval %v must be > 0", first)
		case max < first:
			return fmt.Errorf("ratellmiter: WithProbeInterval: max %v is less than first %v", max, first)
		case !(growth >= 1):
			return fmt.Errorf("ratellmiter: WithProbeInterval: growth %v must be >= 1", growth)
		}
		c.probeFirst, c.probeMax, c.probeGrowth = first, max, growth
		return nil
	})
}

// WithProbeTimeout bounds each call of the service's IsBlocked, and how long
// a canary request may stay unanswered before it counts as blocked and the
// next probe is scheduled. The default is 10 s. A canary that succeeds
// later (a long generation) still ends the pause, as long as it was sent
// during it; through the Transport, a canary counts as answered when its
// status and headers arrive, before a streamed body ends.
func WithProbeTimeout(d time.Duration) Option {
	return limiterOption(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("ratellmiter: WithProbeTimeout(%v): must be > 0", d)
		}
		c.probeTimeout = d
		return nil
	})
}

// WithClassifier replaces DefaultClassifier, the hook that tells Do which
// errors are rate limits, overloads or exhausted quotas. A classifier for
// another API usually handles its own errors and hands the rest to
// DefaultClassifier.
func WithClassifier(f Classifier) Option {
	return limiterOption(func(c *config) error {
		if f == nil {
			return fmt.Errorf("ratellmiter: WithClassifier: nil classifier")
		}
		c.classify = f
		return nil
	})
}

// WithMaxInFlight caps the tickets issued and not yet finished. 0, the
// default, means no cap. A ticket is finished only by Done, Abandon or a
// RateLimited that returns an error: one dropped without them holds its
// place under the cap for the limiter's life (Do and the Transport always
// finish theirs; a response body must be closed).
func WithMaxInFlight(n int) Option {
	return limiterOption(func(c *config) error {
		if n < 0 {
			return fmt.Errorf("ratellmiter: WithMaxInFlight(%d): must be >= 0", n)
		}
		c.maxInFlight = n
		return nil
	})
}

// WithMaxWait bounds how long Acquire waits for a ticket, and
// Ticket.RateLimited for the ticket to be issued again, beside the caller's
// context. A wait that cannot end within the bound fails at once with
// ErrWouldExceedDeadline; one that might, fails with it at the bound. 0,
// the default, means no bound.
func WithMaxWait(d time.Duration) Option {
	return limiterOption(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("ratellmiter: WithMaxWait(%v): must be >= 0", d)
		}
		c.maxWait = d
		return nil
	})
}

// LoggerOption is an option for both a BucketRateLimiter and a Monitor.
type LoggerOption struct{ l *slog.Logger }

func (o LoggerOption) applyLimiter(c *config) error  { c.logger = o.l; return nil }
func (o LoggerOption) applyMonitor(c *monitorConfig) { c.logger = o.l }

// WithLogger sets the logger for what the library says: pauses, probes,
// resumes, give-ups and log-file errors. Nothing is logged on the ticket
// path. A limiter without one uses its Monitor's; the default discards.
// The logger's handler may be called while the limiter holds its lock:
// it must return promptly and must not call the limiter or its Monitor
// (Stats, SetRPM, Stop, ...), which would wait for that lock for ever.
func WithLogger(l *slog.Logger) LoggerOption { return LoggerOption{l} }

// WithLearning turns limit learning on or off (on by default). When on,
// a limiter concludes that its configured limit is above the server's real
// one when a pause shows the server admitting part of the traffic (while
// paused, the success of a request issued at least 20 ms after a refused
// one comes back) or when it is paused again within a minute of resuming.
// It then halves the rate it works at, once per pause, never below 1 RPM,
// and adds back 5% of the configured limit after each clean minute, never
// going above the configured or server-reported limit: back from the floor
// in at most 20 clean minutes. A pause in which everything after
// the first refusal is refused, as in an outage, teaches nothing. Stats
// reports the limit in use.
//
// A limiter sharing a quota (WithStore) works at the limit learned on the
// quota, by whichever limiter learned it, whether its own learning is on
// or off.
//
// Whether learning is on or off, a 429 for a request issued before the
// last resume is old news: it is retried first but neither pauses the
// limiter again nor teaches anything.
func WithLearning(on bool) Option {
	return limiterOption(func(c *config) error {
		c.learn = on
		return nil
	})
}

// WithIdleRamp makes the ramp of WithRampUp apply after idleness too, as in
// the original rateLLMiter: every second may issue at most what the one
// before issued plus the step, so a burst after a quiet spell ramps up over
// several seconds. It is off by default: a provider's token bucket is full
// after a quiet spell, so ramping only costs time (for a 600-request
// backlog in the simulator, 1.20 times the physical minimum with the default
// ramp, and 1.41 with the original's WithRampUp(0.25, 0.10), instead of
// 1.14), and the per-second cap already spreads every second's tickets
// evenly. A limiter sharing a quota (WithStore) leaves pacing and ramping
// to the store, which sees every limiter's tickets; its own ramps apply
// only while the store cannot be reached.
func WithIdleRamp(on bool) Option {
	return limiterOption(func(c *config) error {
		c.idleRamp = on
		return nil
	})
}

// positive returns an option that sets *field(c) to n, refusing n <= 0
// with an error naming the option.
func positive(name string, n int, field func(*config) *int) Option {
	return limiterOption(func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("ratellmiter: %s(%d): must be > 0", name, n)
		}
		*field(c) = n
		return nil
	})
}

// WithTokensPerMinute sets a budget of n tokens per minute, input and
// output combined, as OpenAI's TPM limit counts them. (Gemini's TPM counts
// input tokens only: use WithInputTokensPerMinute for it.) A ticket acquired
// with WithTokens is issued only when the budget has room for its
// estimate; Ticket.Used corrects the charge. The budget refills
// continuously, n/60 a second, and banks at most a second's worth
// (WithTokenBurst changes that), so tokens are spread across the minute
// like requests; a call larger than that goes out when the budget is full
// and later calls wait out the debt.
func WithTokensPerMinute(n int) Option {
	return positive("WithTokensPerMinute", n, func(c *config) *int { return &c.tpm })
}

// WithInputTokensPerMinute sets a budget of n input (prompt) tokens per
// minute, as Anthropic's input-tokens limit counts them. See
// WithTokensPerMinute.
func WithInputTokensPerMinute(n int) Option {
	return positive("WithInputTokensPerMinute", n, func(c *config) *int { return &c.inputTPM })
}

// WithOutputTokensPerMinute sets a budget of n output (generated) tokens
// per minute, as Anthropic's output-tokens limit counts them. The charge
// before the call is the output estimate of WithTokens (the max_tokens
// cap). See WithTokensPerMinute.
func WithOutputTokensPerMinute(n int) Option {
	return positive("WithOutputTokensPerMinute", n, func(c *config) *int { return &c.outputTPM })
}

// WithTokenBurst sets how much a token budget (WithTokensPerMinute,
// WithInputTokensPerMinute, WithOutputTokensPerMinute) banks, as the span
// of refill it holds: d's worth of the per-minute limit. The default,
// time.Second, spreads tokens across the minute like requests. Providers
// that refill a bucket up to the whole per-minute limit (Anthropic
// documents its token limits that way) admit bursts up to time.Minute;
// a larger bank then lets calls whose max_tokens is far above what their
// answers use go out together, each charged its cap until Ticket.Used
// gives the rest back, instead of about one a second. d must be in
// (0, time.Minute].
func WithTokenBurst(d time.Duration) Option {
	return limiterOption(func(c *config) error {
		if d <= 0 || d > time.Minute {
			return fmt.Errorf("ratellmiter: WithTokenBurst(%v): must be in (0, 1m0s]", d)
		}
		c.tokenBurst = d
		return nil
	})
}

// WithRequestsPerDay sets a budget of n requests per day (OpenAI's and
// Gemini's RPD). It refills continuously, n per 24 hours, and starts full.
// A request the budget cannot admit within a minute fails at once with a
// *QuotaError (errors.Is(err, ErrQuotaExhausted)) that says when the next
// request fits; a shorter wait is waited.
func WithRequestsPerDay(n int) Option {
	return positive("WithRequestsPerDay", n, func(c *config) *int { return &c.rpd })
}
