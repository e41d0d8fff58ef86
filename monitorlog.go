package ratellmiter

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
	"weak"
)

// EnvLogDir is the environment variable that turns minute logs on for
// monitors created without WithLogDir, naming the folder.
const EnvLogDir = "RATELLMITER_LOGS"

// DefaultLogDir is the folder that cmd/llmiter reads by default, when
// RATELLMITER_LOGS is not set. No Monitor writes to it unless told to.
const DefaultLogDir = "ratellmiter_logs"

// WithLogDir turns the per-minute logs on and writes them to dir, in a file
// named after the time it was started, <unix-seconds>.jsonl: one at the
// Monitor's start, and a new one each time the file in use has covered a
// day, or the period set with WithLogRotation. When that file exists
// already (another Monitor or process started in the same second, or a run
// before a restart), the Monitor takes the next free name of that second,
// <unix-seconds>-2.jsonl, -3, and so on: a file holds the minutes of one
// Monitor run.
//
// A minute whose write fails (the disk full, a folder that cannot be
// created or written to) is not lost: the Monitor keeps it, and the
// minutes after it, tries them again at each of its once-a-second
// collections, and writes them, in minute order and once each, before any
// later minute, as soon as writing works again, to the file in use then
// (a write cut short leaves part of a line there, which ReadLog skips).
// It keeps the minutes of the last hour (60 minutes, counted back from
// the latest kept) at most, and of those the latest 10,000 records (a
// record is one limiter's minute, about 2.7 KB in memory): older ones are
// dropped, and how many is said once through the Monitor's logger
// (WithLogger), when writing works again or at Stop. Each spell of
// failures, and its end, is said through that logger too. Stop tries once
// more; what it still cannot write is said through the logger, and Stop
// returns the first error met writing logs, as it does whenever a write
// failed during the run.
//
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
// new one. No minute is written twice or left out. A minute whose write
// failed goes, once written, to the file in use then (see WithLogDir).
// A new file is created
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
// minute ended more than keep ago, and that were last modified more than
// keep ago: a Monitor dates its minutes on a time line that lags the wall
// clock after the machine was suspended, and a file written to recently is
// not old whatever its records say. Ago counts on the Monitor's time line
// (its start plus the monotonic time since), or on the wall clock when that
// was set back since and is earlier. A file's last minute is read from its
// last records; a file without a readable minute log there (empty, torn,
// or some other data under such a name) is kept, as nothing says it is a
// log, nor that it is old. Every other file is left alone, and so are the files
// that this Monitor, or another of the process, writes to. The check runs
// when the Monitor starts and at each rotation (WithLogRotation), in the
// Monitor's log goroutine, never on the ticket path; with rotation off it
// runs only at the start. Stop does not wait for it: a check under way
// ends at the next file, and none runs at a rotation made by Stop; the
// next Monitor started on the folder checks it again. An error
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
		m.enqueue(m.collectClosed(l))
	}
	m.mu.Lock()
	for p := range m.dangling {
		if p.Value() == nil {
			delete(m.dangling, p)
		}
	}
	m.mu.Unlock()
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
// minute ended more than the retention before now (see WithLogRetention),
// or before the wall clock if that is earlier: set back since the start,
// it dates the files written since, which the Monitor's time line, ahead
// of it, would make look old.
func (m *Monitor) removeOldLogs(now time.Time) {
	if wall := time.Now().Round(0); wall.Before(now) {
		now = wall
	}
	removeOldLogs(m.cfg.logDir, now.Add(-m.cfg.logKeep), m.w.path(), m.cfg.logger, m.quit)
}

// flush writes the minutes whose write failed before, if any, then the
// pending ones, ordered by start time (see logWriter.writeAll).
func (m *Monitor) flush() {
	m.logMu.Lock()
	recs := m.pending
	m.pending = nil
	m.logMu.Unlock()
	m.w.writeAll(recs)
}

// collectClosed returns the minute log of l, a closed limiter among the
// closing ones, if that minute is over. It lets l go once nothing is left
// to log, and holds it weakly while it has no minute open but tickets in
// flight (see Monitor.closing), under l's mu, so that a finish either
// comes before, and keeps the minute open, or after, and holds l again.
func (m *Monitor) collectClosed(l *BucketRateLimiter) *MinuteLog {
	l.lock()
	defer l.mu.Unlock()
	rec := l.act.take(l, l.now(), false)
	if l.act.rec != nil {
		return rec
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case l.flying() == 0:
		delete(m.closing, l)
	case !m.stopped: // Stop takes the closing limiters' last minutes
		delete(m.closing, l)
		m.dangling[weak.Make(l)] = struct{}{}
	}
	return rec
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
