package fakeprovider

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Window selects how the request budget (Config.RPM) is enforced.
type Window int

const (
	// TokenBucket enforces RPM with a continuously refilling bucket that
	// holds RPM/60 requests (at least one) and refills at RPM/60 requests per
	// second. This is the algorithm the providers document.
	TokenBucket Window = iota
	// FixedSecond admits at most ceil(RPM/60) requests in each wall-clock
	// second and resets the count at every second boundary.
	FixedSecond
)

// String returns the name of the window kind.
func (w Window) String() string {
	switch w {
	case TokenBucket:
		return "TokenBucket"
	case FixedSecond:
		return "FixedSecond"
	}
	return fmt.Sprintf("Window(%d)", int(w))
}

// maxLimit bounds every per-minute limit so that the exact integer
// arithmetic of the buckets cannot overflow.
const maxLimit = 100_000_000

// defaultPenaltyThreshold is used when Config.PenaltyThreshold is zero.
const defaultPenaltyThreshold = 5

// defaultReplyTokens is used when Config.ReplyTokens is zero.
const defaultReplyTokens = 12

// Config describes the limits and behaviour of a Server. The zero value of
// every field except RPM is usable.
//
// The budgets belong to the server as a whole, like one organization's
// limits: every model and both APIs draw on them.
type Config struct {
	// RPM is the request budget per minute. It must be positive.
	RPM int
	// TPM is the combined input and output token budget per minute; 0 means
	// unlimited. Token budgets are always continuously refilling buckets that
	// hold one minute's worth of tokens, whatever Window says, so that a
	// single large request can fit.
	TPM int
	// InputTPM is an Anthropic-style budget for input tokens per minute;
	// 0 turns it off.
	InputTPM int
	// OutputTPM is an Anthropic-style budget for output tokens per minute;
	// 0 turns it off. Output tokens are charged as max_tokens up front and
	// corrected to the real count once the reply is produced.
	OutputTPM int
	// Window selects how RPM is enforced; the default is TokenBucket.
	Window Window

	// Latency, when set, returns the processing time of one admitted
	// request. It is called with the server's random source, under a lock.
	Latency func(r *rand.Rand) time.Duration
	// LatencyMedian, used when Latency is nil, is the median of a lognormal
	// processing time (300ms is typical of real services). 0 means no
	// latency.
	LatencyMedian time.Duration
	// Seed seeds the random source used for latency.
	Seed int64

	// PenaltyThreshold is how many refused requests a client may send within
	// one second of a previous refusal before it is penalised. 0 means 5.
	PenaltyThreshold int
	// PenaltyDuration is how long every request is refused once the
	// threshold is passed, like the abuse protection of real services.
	// 0 turns the penalty off.
	PenaltyDuration time.Duration

	// ReplyTokens is the length, in tokens, of every generated reply (capped
	// by the request's max tokens). 0 means 12.
	ReplyTokens int

	// Now returns the current time; nil means time.Now, which is virtual
	// inside a testing/synctest bubble.
	Now func() time.Time
}

// validate reports the first invalid field of c.
func (c Config) validate() error {
	if c.RPM <= 0 {
		return fmt.Errorf("fakeprovider: RPM must be positive, got %d", c.RPM)
	}
	limits := []struct {
		name string
		v    int
	}{{"RPM", c.RPM}, {"TPM", c.TPM}, {"InputTPM", c.InputTPM}, {"OutputTPM", c.OutputTPM}}
	for _, l := range limits {
		if l.v < 0 {
			return fmt.Errorf("fakeprovider: %s must not be negative, got %d", l.name, l.v)
		}
		if l.v > maxLimit {
			return fmt.Errorf("fakeprovider: %s must be at most %d, got %d", l.name, maxLimit, l.v)
		}
	}
	if c.Window != TokenBucket && c.Window != FixedSecond {
		return fmt.Errorf("fakeprovider: unknown Window %d", int(c.Window))
	}
	if c.LatencyMedian < 0 {
		return fmt.Errorf("fakeprovider: LatencyMedian must not be negative, got %v", c.LatencyMedian)
	}
	if c.PenaltyThreshold < 0 {
		return fmt.Errorf("fakeprovider: PenaltyThreshold must not be negative, got %d", c.PenaltyThreshold)
	}
	if c.PenaltyDuration < 0 {
		return fmt.Errorf("fakeprovider: PenaltyDuration must not be negative, got %v", c.PenaltyDuration)
	}
	if c.ReplyTokens < 0 {
		return fmt.Errorf("fakeprovider: ReplyTokens must not be negative, got %d", c.ReplyTokens)
	}
	return nil
}

// withDefaults fills the fields whose zero value stands for a default.
func (c Config) withDefaults() Config {
	if c.PenaltyThreshold == 0 {
		c.PenaltyThreshold = defaultPenaltyThreshold
	}
	if c.ReplyTokens == 0 {
		c.ReplyTokens = defaultReplyTokens
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
