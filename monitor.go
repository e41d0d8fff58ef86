package ratellmiter

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"
)

// A Monitor owns the goroutines behind its limiters: the probes that check
// whether a paused service accepts requests again, the writer of the
// per-minute logs, and the syncs of limiters that share a quota. Limiters
// join a Monitor when they are created; a Monitor that was not started
// starts on first use.
//
// Stop stops it: every waiting caller gets ErrStopped, the minute in
// progress is written, and no goroutine of the Monitor survives, but for a
// probe that ignores its context past its timeout (see Stop). Create it
// with NewMonitor; the zero value is not usable. A Monitor is safe for
// concurrent use.
type Monitor struct {
	cfg monitorConfig

	mu       sync.Mutex // guards the fields below; never held while taking a limiter's mu
	started  bool
	stopped  bool
	limiters map[*BucketRateLimiter]struct{}
	// names counts the limiters of each name; nextDefault is the least
	// n whose default name ("default", "default-n") may be free: every
	// default name below it is taken.
	names       map[string]int
	nextDefault int
	// closing holds the closed limiters whose issued tickets may still
	// finish, while logs are on: their finishes are logged until none
	// is left in flight. One with a minute open is held here; one
	// with nothing to log until a ticket finishes is held in dangling,
	// weakly: only a holder of its ticket can finish it, and once
	// nothing can, the limiter is collected, as it is with logs off,
	// rather than kept for a ticket dropped unfinished. A finish opens
	// a minute, which moves it back to closing (see keepClosed).
	closing  map[*BucketRateLimiter]struct{}
	dangling map[weak.Pointer[BucketRateLimiter]]struct{}
	def      *BucketRateLimiter
	ctx      context.Context
	cancel   context.CancelFunc
	quit     chan struct{}
	wg       sync.WaitGroup

	logMu   sync.Mutex // guards pending; taken under a limiter's mu
	pending []*MinuteLog
	w       *logWriter // used by the log goroutine, then by Stop
	// rotateAt is when the log file in use has covered its period
	// (WithLogRotation); used by the log goroutine, then by Stop.
	rotateAt time.Time
	// origin is the wall clock at the start, with its monotonic reading:
	// the Monitor's time line (now) for the logs, which a jump of the
	// wall clock does not move, like the limiters' time lines that date
	// their minutes.
	origin time.Time

	done    chan struct{} // closed when the first Stop has finished
	stopErr error         // what Stop returns; written by the first Stop before done is closed
}

// MonitorOption configures a Monitor.
type MonitorOption interface {
	applyMonitor(*monitorConfig)
}

type monitorConfig struct {
	logDir     string
	noLogs     bool          // WithoutLogs: RATELLMITER_LOGS does not count
	logRotate  time.Duration // WithLogRotation; 0: never
	logKeep    time.Duration // WithLogRetention; 0: keep every file
	logger     *slog.Logger
	defaultRPM int
	observer   Observer
	err        error
}

type monitorOption func(*monitorConfig)

func (f monitorOption) applyMonitor(c *monitorConfig) { f(c) }

// WithDefaultRateLimit sets the requests per minute of the Monitor's
// default limiter (DefaultRPM, 300, otherwise).
func WithDefaultRateLimit(rpm int) MonitorOption {
	return monitorOption(func(c *monitorConfig) {
		if rpm <= 0 || int64(rpm) > maxRPM {
			c.err = fmt.Errorf("ratellmiter: WithDefaultRateLimit(%d): must be in [1, %d]", rpm, maxRPM)
		}
		c.defaultRPM = rpm
	})
}

// NewMonitor returns a Monitor that is not started yet. A bad option makes
// Start, and every limiter that tries to join, fail with its error.
func NewMonitor(opts ...MonitorOption) *Monitor {
	cfg := monitorConfig{defaultRPM: DefaultRPM, logRotate: DefaultLogRotation}
	for _, o := range opts {
		if o != nil {
			o.applyMonitor(&cfg)
		}
	}
	if cfg.logDir == "" && !cfg.noLogs {
		cfg.logDir = os.Getenv(EnvLogDir)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	return &Monitor{
		cfg:      cfg,
		limiters: map[*BucketRateLimiter]struct{}{},
		names:    map[string]int{},
		closing:  map[*BucketRateLimiter]struct{}{},
		dangling: map[weak.Pointer[BucketRateLimiter]]struct{}{},
		done:     make(chan struct{}),
	}
}

var defaultMonitor = sync.OnceValue(func() *Monitor { return NewMonitor() })

// DefaultMonitor returns the process-wide Monitor that limiters join when
// no WithMonitor option is given. It logs only when RATELLMITER_LOGS is
// set. Programs that want its logs flushed call DefaultMonitor().Stop()
// before they exit. Stopping it is for good: every limiter created after
// without WithMonitor fails with ErrStopped, so tests that stop a
// Monitor should stop one of their own.
func DefaultMonitor() *Monitor { return defaultMonitor() }

// DefaultLimiter returns the limiter that Do and Wrap use when given nil:
// DefaultMonitor's default limiter.
func DefaultLimiter() *BucketRateLimiter { return DefaultMonitor().DefaultLimiter() }

// DefaultLimiter returns the Monitor's default limiter, created on first
// use at the Monitor's default rate, without a name (so named "default"
// unless another unnamed limiter was created first; see WithName). Once
// it is closed, the next call creates a new one. It returns nil if the
// Monitor is stopped or misconfigured.
func (m *Monitor) DefaultLimiter() *BucketRateLimiter {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return nil
	}
	if m.def != nil {
		defer m.mu.Unlock()
		return m.def
	}
	rpm := m.cfg.defaultRPM
	m.mu.Unlock()
	l, err := NewBucketRateLimiter(rpm, WithMonitor(m))
	if err != nil {
		return nil
	}
	m.mu.Lock()
	if m.def == nil {
		m.def = l
	}
	def := m.def
	m.mu.Unlock()
	if def != l {
		l.Close() // lost a race with another caller; never used
	}
	return def
}

func (m *Monitor) logger() *slog.Logger { return m.cfg.logger }
func (m *Monitor) logsEnabled() bool    { return m.cfg.logDir != "" }

// LogPath returns the file this Monitor writes its minute logs to now, or
// "" when logging is off or the Monitor has not started. After a rotation
// (WithLogRotation) it is the new file. A file is created when its first
// minute is written; until then LogPath returns the name the Monitor will
// try first, <start>.jsonl, where start is the Monitor's start or the
// rotation's time. Should another Monitor have created that file by then,
// this one takes the next free name of the same second, <start>-2.jsonl,
// <start>-3.jsonl, ..., and LogPath returns that name from then on.
func (m *Monitor) LogPath() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.w == nil {
		return ""
	}
	return m.w.path()
}

// Start starts the Monitor. Starting a started Monitor does nothing; a
// stopped Monitor cannot start again (ErrStopped).
func (m *Monitor) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.startLocked()
}

func (m *Monitor) startLocked() error {
	switch {
	case m.cfg.err != nil:
		return m.cfg.err
	case m.stopped:
		return ErrStopped
	case m.started:
		return nil
	}
	m.started = true
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.quit = make(chan struct{})
	if m.logsEnabled() {
		m.origin = time.Now()
		m.w = newLogWriter(m.cfg.logDir, m.origin, m.cfg.logger)
		if m.cfg.logRotate > 0 {
			m.rotateAt = m.origin.Add(m.cfg.logRotate)
		}
		m.wg.Add(1)
		go m.logLoop()
	}
	return nil
}

// Stop stops the Monitor and every limiter on it: waiting callers get
// ErrStopped, later Acquires too; probes are cancelled and waited for, up
// to their timeout (WithProbeTimeout), past which a probe that ignores its
// context is left to return on its own; the minutes in progress are
// written to the log file in use (after a rotation that was due, if any),
// after the minutes whose write failed earlier, which are tried once more
// (those that still cannot be written are said through the logger; see
// WithLogDir), and the file closed; limiters that share a quota make their
// final sync with the store (up to two sync timeouts each, in parallel).
// It returns the first error met writing logs. Stop is safe to call more
// than once, from any goroutine: every call returns once the Monitor is
// stopped, with the first call's result. A probe (IsBlocked) that calls
// Stop itself waits in it for its own timeout, since Stop waits for the
// probe.
func (m *Monitor) Stop() error {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		<-m.done
		return m.stopErr
	}
	m.stopped = true
	wasStarted := m.started
	ls := m.snapshot()
	m.mu.Unlock()
	if wasStarted {
		m.cancel()
		close(m.quit)
		m.wg.Wait()
	}
	if m.w != nil {
		// A rotation that is due happens first, as at the collection
		// that would have made it: the minutes over by now go to the
		// file that was in use.
		m.logStep(m.now())
	}
	for _, l := range ls {
		l.shutdown(ErrStopped)
	}
	if m.w != nil {
		m.mu.Lock()
		closing := slices.Collect(maps.Keys(m.closing))
		// Later finishes are not logged: the file is closed.
		m.closing, m.dangling = nil, nil
		m.mu.Unlock()
		for _, l := range closing {
			rec, _ := l.takeLog(true)
			m.enqueue(rec)
		}
		m.flush()
		m.stopErr = m.w.close()
	}
	close(m.done)
	return m.stopErr
}

// Limiters returns the limiters that belong to the Monitor now, in no
// particular order: those created with it and not closed.
func (m *Monitor) Limiters() []*BucketRateLimiter {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snapshot()
}

// snapshot returns the limiters. Requires mu.
func (m *Monitor) snapshot() []*BucketRateLimiter {
	return slices.Collect(maps.Keys(m.limiters))
}

// join adds l, starting the Monitor if needed.
func (m *Monitor) join(l *BucketRateLimiter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.startLocked(); err != nil {
		return err
	}
	if _, ok := m.limiters[l]; ok {
		return nil
	}
	if l.name == "" {
		l.name = m.freeNameLocked()
	}
	m.limiters[l] = struct{}{}
	m.names[l.name]++
	return nil
}

// freeNameLocked returns the first of "default", "default-2", ... that no
// limiter of m has. Requires m.mu.
func (m *Monitor) freeNameLocked() string {
	for n := max(m.nextDefault, 1); ; n++ {
		if name := defaultName(n); m.names[name] == 0 {
			m.nextDefault = n + 1
			return name
		}
	}
}

// defaultName returns the n-th name of unnamed limiters: "default",
// "default-2", ...
func defaultName(n int) string {
	if n == 1 {
		return "default"
	}
	return "default-" + strconv.Itoa(n)
}

// defaultIndex returns n if name is defaultName(n), else 0.
func defaultIndex(name string) int {
	if name == "default" {
		return 1
	}
	rest, ok := strings.CutPrefix(name, "default-")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 2 || defaultName(n) != name {
		return 0
	}
	return n
}

// leave removes l; Close has already handed its last minute to enqueue.
// While logs are on and the Monitor runs, l stays among the closing
// limiters: the tickets it issued may still finish, and those finishes
// are logged.
func (m *Monitor) leave(l *BucketRateLimiter) {
	m.mu.Lock()
	if _, ok := m.limiters[l]; ok {
		if m.logsEnabled() && !m.stopped {
			m.closing[l] = struct{}{}
		}
		if m.names[l.name]--; m.names[l.name] == 0 {
			delete(m.names, l.name)
			if n := defaultIndex(l.name); n > 0 && n < m.nextDefault {
				m.nextDefault = n
			}
		}
	}
	delete(m.limiters, l)
	if m.def == l {
		m.def = nil
	}
	m.mu.Unlock()
}

// keepClosed holds l strongly again, if it was held weakly among the
// closing limiters: l, closed, has just opened a minute to log. Called
// with l's mu held, so that collectClosed cannot let it go meanwhile.
func (m *Monitor) keepClosed(l *BucketRateLimiter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := weak.Make(l)
	if _, ok := m.dangling[p]; ok {
		delete(m.dangling, p)
		m.closing[l] = struct{}{}
	}
}

// spawn runs fn on a goroutine the Monitor owns: Stop cancels fn's context
// and waits for it. It reports false, running nothing, once stopped.
func (m *Monitor) spawn(fn func(ctx context.Context)) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped || !m.started {
		return false
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		fn(m.ctx)
	}()
	return true
}
