package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"
)

// EnvLogDir is the environment variable that turns minute logs on for
// monitors created without WithLogDir, naming the folder.
const EnvLogDir = "RATELLMITER_LOGS"

// DefaultLogDir is the folder that cmd/llmiter reads by default, when
// RATELLMITER_LOGS is not set. No Monitor writes to it unless told to.
const DefaultLogDir = "ratellmiter_logs"

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
	// closing holds the closed limiters whose issued tickets may still
	// finish, while logs are on: their finishes are logged until none
	// is left in flight.
	closing map[*BucketRateLimiter]struct{}
	def     *BucketRateLimiter
	ctx     context.Context
	cancel  context.CancelFunc
	quit    chan struct{}
	wg      sync.WaitGroup

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

// WithLogDir turns the per-minute logs on and writes them to dir, in a file
// named after the time it was started, <unix-seconds>.jsonl: one at the
// Monitor's start, and a new one each time the file in use has covered a
// day, or the period set with WithLogRotation. When that file exists
// already (another Monitor or process started in the same second, or a run
// before a restart), the Monitor takes the next free name of that second,
// <unix-seconds>-2.jsonl, -3, and so on: a file holds the minutes of one
// Monitor run.
// Without WithLogDir, logs are written only when the environment variable
// RATELLMITER_LOGS names a folder.
func WithLogDir(dir string) MonitorOption {
	return monitorOption(func(c *monitorConfig) {
		if dir == "" {
			c.err = errors.New("ratellmiter: WithLogDir: empty folder name")
		}
		c.logDir, c.noLogs = dir, false
	})
}

// WithoutLogs keeps the per-minute logs off whatever RATELLMITER_LOGS says:
// for a Monitor of a library, a test or a simulation, whose minutes do not
// belong in the program's log folder. The last of WithLogDir and
// WithoutLogs given wins.
func WithoutLogs() MonitorOption {
	return monitorOption(func(c *monitorConfig) {
		c.logDir, c.noLogs = "", true
	})
}

// DefaultLogRotation is how long a Monitor writes its minute logs to one
// file before it starts the next, unless WithLogRotation says otherwise.
const DefaultLogRotation = 24 * time.Hour

// MinLogRotation is the shortest period that WithLogRotation and
// WithLogRetention take: a minute, what one record of the log covers.
const MinLogRotation = time.Minute

// WithLogRotation sets how long a Monitor that writes minute logs writes
// them to one file: once the file in use has covered every (counted from
// the Monitor's start: every day at the time it started, by default), the
// Monitor starts a new file, named after the time it does so (see
// WithLogDir), so that LatestLog finds the newest. Rotation happens in the
// Monitor's log goroutine, at the first of its once-a-second collections
// of finished minutes at or after the end of the period, or in Stop if
// that comes first: every minute collected until then (all that ended by
// then; a minute that ends is collected within a second) goes to the file
// that was in use, later ones and the minute in progress at Stop to the
// new one. No minute is written twice or left out. A new file is created
// only when its first minute is written: a period without activity leaves
// no file.
//
// every <= 0 means never: one file for the whole run. A positive every
// below MinLogRotation (a minute) is refused: Start, and every limiter
// that tries to join, fail with an error naming WithLogRotation.
func WithLogRotation(every time.Duration) MonitorOption {
	return monitorOption(func(c *monitorConfig) {
		if every > 0 && every < MinLogRotation {
			c.err = fmt.Errorf("ratellmiter: WithLogRotation(%v): must be at least %v, or <= 0 for never", every, MinLogRotation)
		}
		c.logRotate = max(every, 0)
	})
}

// WithLogRetention makes a Monitor that writes minute logs remove the old
// ones from its log folder: the files of that folder (not of the folders
// in it) whose names are those of minute logs, <unix-seconds>.jsonl or
// <unix-seconds>-<k>.jsonl, regular files (not symbolic links), whose last
// minute ended more than keep ago. A file's last minute is read from its
// last records; a file without a readable record there counts from its
// modification time. Every other file is left alone, and so are the files
// that this Monitor, or another of the process, writes to. The check runs
// when the Monitor starts and at each rotation (WithLogRotation), in the
// Monitor's log goroutine, never on the ticket path; with rotation off it
// runs only at the start. An error
// (a file that cannot be read or removed) is logged through the Monitor's
// logger (WithLogger) and the check goes on; it never stops the Monitor
// nor shows in what Stop returns.
//
// Without this option no file is ever removed. A keep below
// MinLogRotation (a minute), zero and negative ones included, is refused:
// Start, and every limiter that tries to join, fail with an error naming
// WithLogRetention. A file of another process's Monitor sharing the folder
// is removed once it has had no minute for keep; should that Monitor write
// again, it creates its file anew.
func WithLogRetention(keep time.Duration) MonitorOption {
	return monitorOption(func(c *monitorConfig) {
		if keep < MinLogRotation {
			c.err = fmt.Errorf("ratellmiter: WithLogRetention(%v): must be at least %v", keep, MinLogRotation)
		}
		c.logKeep = keep
	})
}

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
		closing:  map[*BucketRateLimiter]struct{}{},
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
// written to the log file in use (after a rotation that was due, if any)
// and the file closed; limiters that share a quota make their
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
	if l.name == "" {
		l.name = m.freeNameLocked()
	}
	m.limiters[l] = struct{}{}
	return nil
}

// freeNameLocked returns the first of "default", "default-2", ... that no
// limiter of m has. Requires m.mu.
func (m *Monitor) freeNameLocked() string {
	for n := 1; ; n++ {
		name := "default"
		if n > 1 {
			name = fmt.Sprintf("default-%d", n)
		}
		if !m.hasNameLocked(name) {
			return name
		}
	}
}

// hasNameLocked reports whether a limiter of m is named name. Requires
// m.mu.
func (m *Monitor) hasNameLocked(name string) bool {
	for l := range m.limiters {
		if l.name == name {
			return true
		}
	}
	return false
}

// leave removes l; Close has already handed its last minute to enqueue.
// While logs are on and the Monitor runs, l stays among the closing
// limiters: the tickets it issued may still finish, and those finishes
// are logged.
func (m *Monitor) leave(l *BucketRateLimiter) {
	m.mu.Lock()
	if _, ok := m.limiters[l]; ok && m.logsEnabled() && !m.stopped {
		m.closing[l] = struct{}{}
	}
	delete(m.limiters, l)
	if m.def == l {
		m.def = nil
	}
	m.mu.Unlock()
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

// enqueue hands a finished minute to the log writer. It never blocks on
// I/O, so the ticket path may call it.
func (m *Monitor) enqueue(rec *MinuteLog) {
	if rec == nil || !m.logsEnabled() {
		return
	}
	m.logMu.Lock()
	m.pending = append(m.pending, rec)
	m.logMu.Unlock()
}

// logLoop removes the old log files, if asked to, then collects every
// limiter's finished minutes once a second and writes them.
func (m *Monitor) logLoop() {
	defer m.wg.Done()
	if m.cfg.logKeep > 0 {
		m.removeOldLogs(m.now())
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-tick.C:
			m.logStep(m.now())
		}
	}
}

// now returns the time on the Monitor's time line: its start plus the
// monotonic time elapsed since.
func (m *Monitor) now() time.Time { return m.origin.Add(time.Since(m.origin)) }

// logStep collects every limiter's finished minutes and writes them, then
// starts a new log file if the one in use has covered its period at now.
func (m *Monitor) logStep(now time.Time) {
	m.mu.Lock()
	ls := m.snapshot()
	closing := slices.Collect(maps.Keys(m.closing))
	m.mu.Unlock()
	for _, l := range ls {
		rec, _ := l.takeLog(false)
		m.enqueue(rec)
	}
	for _, l := range closing {
		rec, idle := l.takeLog(false)
		m.enqueue(rec)
		if idle {
			m.mu.Lock()
			delete(m.closing, l)
			m.mu.Unlock()
		}
	}
	m.flush()
	m.rotateIfDue(now)
}

// rotateIfDue starts a new log file, named after now, if the one in use
// has covered its period, then removes the old files if asked to. The
// periods follow one another from the Monitor's start; those that went by
// whole (the process was suspended) are skipped.
func (m *Monitor) rotateIfDue(now time.Time) {
	every := m.cfg.logRotate
	if every <= 0 || now.Before(m.rotateAt) {
		return
	}
	m.rotateAt = m.rotateAt.Add((now.Sub(m.rotateAt)/every + 1) * every)
	m.w.rotate(now)
	if m.cfg.logKeep > 0 {
		m.removeOldLogs(now)
	}
}

// removeOldLogs removes the log files of the Monitor's folder whose last
// minute ended more than the retention before now (see WithLogRetention).
func (m *Monitor) removeOldLogs(now time.Time) {
	removeOldLogs(m.cfg.logDir, now.Add(-m.cfg.logKeep), m.w.path(), m.cfg.logger)
}

// flush writes the pending minutes, ordered by start time.
func (m *Monitor) flush() {
	m.logMu.Lock()
	recs := m.pending
	m.pending = nil
	m.logMu.Unlock()
	sortMinutes(recs)
	for _, r := range recs {
		m.w.write(r)
	}
}

// takeLog returns the limiter's minute log if that minute is over, or,
// when final, whatever was recorded; idle reports that nothing is left to
// log: no minute open and no ticket in flight (which a closed limiter's
// issued tickets may still change).
func (l *BucketRateLimiter) takeLog(final bool) (rec *MinuteLog, idle bool) {
	l.lock()
	defer l.mu.Unlock()
	rec = l.act.take(l, l.now(), final)
	return rec, l.act.rec == nil && l.flying() == 0
}
