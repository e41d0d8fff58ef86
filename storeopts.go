package ratellmiter

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"
)

// DefaultSyncTimeout bounds each round trip of a limiter to its Store
// unless WithSyncTimeout says otherwise.
const DefaultSyncTimeout = 250 * time.Millisecond

// FailurePolicy says what a limiter created WithStore does while its Store
// cannot be reached. A limiter notices within one sync (each sync is
// bounded by WithSyncTimeout, DefaultSyncTimeout by default), tries again
// half a second after each failed sync, and goes back to the shared quota
// by itself as soon as a sync succeeds.
type FailurePolicy uint8

const (
	// FallbackLocal, the default, keeps issuing tickets at 1/N of the
	// rate, N being the number of live limiters the store last reported
	// (at least 1), from the second after the one in which a sync failed:
	// at most max(1, perSecond/N) a second and max(1, perMinute/N) in
	// sixty seconds of this limiter's own tickets. Until the tickets of
	// the store's last window have left it, the limiter also spends no
	// more than its 1/N share of what that window had left, so when every
	// limiter has lost the store the quota is exceeded by at most the
	// rounding of one second's share per limiter. When only some lose it,
	// the others stop counting them as live after a few seconds and share
	// the whole quota among themselves, so the shares of the cut-off
	// limiters come on top of it. A limiter whose syncs have all failed
	// since it was created knows no N: it takes the one given by
	// WithExpectedProcesses, or else perSecond (at most one ticket a
	// second).
	FallbackLocal FailurePolicy = iota
	// FailClosed refuses tickets while the store cannot be reached:
	// Acquire fails at once and every waiter is woken, with an error that
	// wraps ErrStoreUnavailable and the store's error.
	FailClosed
)

// String names the policy.
func (p FailurePolicy) String() string {
	switch p {
	case FallbackLocal:
		return "FallbackLocal"
	case FailClosed:
		return "FailClosed"
	}
	return fmt.Sprintf("FailurePolicy(%d)", uint8(p))
}

func (p FailurePolicy) applyStore(c *shareConfig) error {
	if p > FailClosed {
		return fmt.Errorf("ratellmiter: WithStore: unknown failure policy %v", p)
	}
	c.policy = p
	return nil
}

// StoreOption configures how a limiter uses its Store: a FailurePolicy,
// WithSyncTimeout, WithProcessID or WithExpectedProcesses. The set is
// closed.
type StoreOption interface {
	applyStore(*shareConfig) error
}

type storeOption func(*shareConfig) error

func (f storeOption) applyStore(c *shareConfig) error { return f(c) }

// shareConfig is how a limiter shares its quota.
type shareConfig struct {
	store    Store
	key      string
	id       string
	policy   FailurePolicy
	timeout  time.Duration
	expected int // WithExpectedProcesses; 0 if not given
}

// WithSyncTimeout bounds each round trip to the store; DefaultSyncTimeout
// (250 ms) otherwise. A sync that takes longer counts as a failure. The
// final sync of a limiter that closes makes at most two round trips, so
// Monitor.Stop may take up to twice this longer.
func WithSyncTimeout(d time.Duration) StoreOption {
	return storeOption(func(c *shareConfig) error {
		if d <= 0 {
			return fmt.Errorf("ratellmiter: WithSyncTimeout(%v): must be > 0", d)
		}
		c.timeout = d
		return nil
	})
}

// WithProcessID names the limiter among those sharing the quota, in the
// store's heartbeats and probe lease. It must be unique per limiter; the
// default is the host name, the process id and a random suffix.
func WithProcessID(id string) StoreOption {
	return storeOption(func(c *shareConfig) error {
		if id == "" {
			return fmt.Errorf("ratellmiter: WithProcessID: empty id")
		}
		c.id = id
		return nil
	})
}

// WithExpectedProcesses says how many limiters are expected to share the
// quota, for FallbackLocal before the limiter's first sync succeeds: a
// limiter created while its store is unreachable then issues 1/n of the
// rate. Without it, such a limiter issues one ticket a second. Once a
// sync succeeds, the store's count of live limiters is used instead.
func WithExpectedProcesses(n int) StoreOption {
	return storeOption(func(c *shareConfig) error {
		if n < 1 {
			return fmt.Errorf("ratellmiter: WithExpectedProcesses(%d): must be >= 1", n)
		}
		c.expected = n
		return nil
	})
}

// WithStore makes the limiter share the quota named key with every
// limiter, in any process, created with the same store and key: tickets
// are counted per second and per minute over all of them, a rate limit
// seen by one pauses all of them within a second, only one probes at a
// time, and the resume, the ramp after it and the learned limit are
// shared. Limiters sharing a key may have different requests per minute
// (during a deploy that changes it, or when the server's headers lowered
// one limiter's limit): the store holds all of them to the least caps of
// the live ones (see SyncRequest.Limit), and a limiter that falls back
// while the store is unreachable takes its share of those. The other budgets (WithTokensPerMinute,
// WithInputTokensPerMinute, WithOutputTokensPerMinute, WithRequestsPerDay,
// WithMaxInFlight) are not shared: each limiter keeps its own, so give
// each its share of the quota's.
//
// Without WithStore a limiter keeps everything in its own memory. opts
// choose the FailurePolicy (FallbackLocal by default), the sync timeout,
// the process id and the expected number of processes. A nil s, or a nil
// pointer, is an error.
func WithStore(s Store, key string, opts ...StoreOption) Option {
	return limiterOption(func(c *config) error {
		if isNil(s) {
			return fmt.Errorf("ratellmiter: WithStore: nil store%s", nilOf(s))
		}
		if key == "" {
			return fmt.Errorf("ratellmiter: WithStore: empty key")
		}
		sc := &shareConfig{store: s, key: key, timeout: DefaultSyncTimeout}
		for _, o := range opts {
			if o == nil {
				continue
			}
			if err := o.applyStore(sc); err != nil {
				return err
			}
		}
		if sc.id == "" {
			sc.id = processID()
		}
		c.share = sc
		return nil
	})
}

// processID returns a limiter id unique with high probability: host,
// process id and eight random hex digits.
func processID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
