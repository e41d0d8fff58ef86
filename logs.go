package ratellmiter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LogVersion is the version of the minute-log format, the "v" field of
// every record. It changes only when a field changes meaning or goes away.
const LogVersion = 1

const rfc3339 = time.RFC3339

// The kinds of LogEvent.
const (
	EventPause  = "pause"  // a rate-limit error paused the limiter
	EventProbe  = "probe"  // a probe ran, or a canary went out, or came back blocked
	EventResume = "resume" // the limiter resumed issuing tickets
	EventLimit  = "limit"  // the limiter lowered or raised the limit it works at
)

// MinuteLog is one limiter's activity during one minute: one line of a log
// file. Each array holds one count per second of the minute.
type MinuteLog struct {
	V           int        `json:"v"`                 // format version, 1
	Limiter     string     `json:"limiter"`           // the limiter's name, each run of bytes that are not UTF-8 as U+FFFD
	Service     string     `json:"service,omitempty"` // its service's name, if any, written so too
	Start       int64      `json:"start"`             // Unix seconds of the minute's first second
	StartTime   string     `json:"start_time"`        // Start in RFC 3339, UTC
	RPM         int        `json:"rpm"`               // the limit in use, requests per minute, at the minute's end
	Requested   [60]int    `json:"requested"`         // tickets asked for
	Issued      [60]int    `json:"issued"`            // tickets issued, retries included
	Overflow    [60]int    `json:"overflow"`          // requests that had to wait
	RateLimited [60]int    `json:"rate_limited"`      // calls refused (429, 529, a 503 with a hint)
	Finished    [60]int    `json:"finished"`          // tickets finished, by Done or Abandon
	Paused      [60]bool   `json:"paused"`            // whether the limiter was paused at any time in the second
	Events      []LogEvent `json:"events,omitempty"`  // in time order
}

// LogEvent is a pause, probe, resume or change of the limit at a second of
// a MinuteLog.
type LogEvent struct {
	Second int    `json:"s"`                // 0 to 59, the second of the minute
	Kind   string `json:"kind"`             // EventPause, EventProbe, EventResume or EventLimit
	Detail string `json:"detail,omitempty"` // what happened, in words
}

// loggedName returns a limiter's or service's name as minute logs hold
// it, and as the metrics package labels it: each run of bytes that are
// not UTF-8 replaced by one U+FFFD. (encoding/json would write one for
// each byte, and the limiter could not be found by its name.)
func loggedName(name string) string { return strings.ToValidUTF8(name, "\uFFFD") }

// logWriter appends minute logs to <dir>/<start-unix-seconds>[-k].jsonl,
// where start is the Monitor's start or, after rotate, the rotation's. The
// folder and file are created on the first write, so a run (or a period)
// that logs nothing leaves nothing. Each record is written as one line with a single
// Write. A record whose write fails (the disk full, a folder that cannot
// be created) is held, with those after it, and written before them, in
// minute order, at the next writeAll that can write: to the file in use
// then, once. The records held are bounded to the last heldLogMinutes
// minutes and heldLogRecords records; older ones are dropped, and each
// drop is said once through the
// logger. The first error is kept and returned by close. Each spell of failures is said once
// through the logger, and so is its end, the next record written: a
// service that runs for months hears of every spell, not only of the
// first. Used only by the Monitor's goroutine.
type logWriter struct {
	dir    string
	logger *slog.Logger
	f      *os.File
	err    error // the first error met, which close returns
	// failing is set from a failure until the next record written: each
	// spell of failures is said once through the logger, and its end.
	failing bool
	// claimed is set once the writer has created its file. Until then
	// the name is only the one it hopes for: another Monitor (of this
	// process or another, or a run before a restart) may have created
	// that file in the same second.
	claimed bool
	start   int64 // the Monitor's start or the last rotation's, in Unix seconds
	// cut is set when a write was cut short (the disk full, say): the
	// file may end with part of a line, which the next record must not
	// run on from.
	cut bool
	// held are the records not written yet, in minute order: the one
	// whose write failed and those after it.
	held []*MinuteLog
	// dropped counts the held records dropped, to keep within
	// heldLogMinutes and heldLogRecords, since the last drop was said; dropFrom and dropTo
	// are the first and last minutes dropped.
	dropped          int
	dropFrom, dropTo int64

	mu   sync.Mutex // guards name, which LogPath reads
	name string
}

// heldLogMinutes and heldLogRecords bound the records a writer holds while
// it cannot write them: those of the last heldLogMinutes minutes (an
// hour), counted back from the latest held, and of those the latest
// heldLogRecords at most (a record takes about 2.7 KB in memory, its six
// arrays of 60 counts, and 1.3 KB as a line: some 27 MB, an hour of 166
// busy limiters, six minutes of 1,666).
const (
	heldLogMinutes = 60
	heldLogRecords = 10_000
)

// claimTries bounds the search for a free file name among those of the
// Monitor's start second: far more Monitors than start in one second.
const claimTries = 100_000

func newLogWriter(dir string, start time.Time, logger *slog.Logger) *logWriter {
	return &logWriter{dir: dir, start: start.Unix(), name: logName(start.Unix(), 1), logger: logger}
}

// logName returns the name of the k-th log file of the second unix:
// <unix>.jsonl for the first, <unix>-<k>.jsonl for the others.
func logName(unix int64, k int) string {
	name := strconv.FormatInt(unix, 10)
	if k > 1 {
		name += "-" + strconv.Itoa(k)
	}
	return name + ".jsonl"
}

// parseLogName returns the second and rank of a log file's name, and
// whether name is one (see logName).
func parseLogName(name string) (unix int64, k int, ok bool) {
	stem, ok := strings.CutSuffix(name, ".jsonl")
	if !ok {
		return 0, 0, false
	}
	k = 1
	if sec, rank, found := strings.Cut(stem, "-"); found {
		n, err := strconv.Atoi(rank)
		if err != nil || n < 2 || strconv.Itoa(n) != rank {
			return 0, 0, false
		}
		stem, k = sec, n
	}
	unix, err := strconv.ParseInt(stem, 10, 64)
	if err != nil || unix < 0 || strconv.FormatInt(unix, 10) != stem {
		return 0, 0, false
	}
	return unix, k, true
}

// path returns the file the writer writes to.
func (w *logWriter) path() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return filepath.Join(w.dir, w.name)
}

// open opens the writer's file. The first time it creates a file of its
// own: when the file named after the start exists already, it takes the
// next free name of the same second, <start>-2.jsonl, <start>-3.jsonl, ...,
// so a file never holds the minutes of two Monitor runs, and names never
// run ahead of the clock however many Monitors start. Later (the file was
// removed) it creates the same file again.
func (w *logWriter) open() (*os.File, error) {
	if w.claimed {
		return os.OpenFile(w.path(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	}
	for k := 1; k <= claimTries; k++ {
		name := logName(w.start, k)
		f, err := os.OpenFile(filepath.Join(w.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		w.mu.Lock()
		w.name = name
		w.mu.Unlock()
		w.claimed = true
		return f, nil
	}
	return nil, fmt.Errorf("%s to %s exist already", logName(w.start, 1), logName(w.start, claimTries))
}

// writeAll writes the records held, then recs, in minute order, up to the
// first whose write fails: that one and those after it are held for the
// next call, within heldLogMinutes. A call with no records tries the held
// ones again.
func (w *logWriter) writeAll(recs []*MinuteLog) {
	if len(recs) > 0 {
		w.held = append(w.held, recs...)
		sortMinutes(w.held)
	}
	for len(w.held) > 0 && w.write(w.held[0]) {
		w.held[0] = nil
		w.held = w.held[1:]
	}
	if len(w.held) == 0 {
		w.held = nil
	}
	w.bound()
	if !w.failing {
		w.sayDropped()
	}
}

// bound drops the held records of minutes before the last heldLogMinutes
// of those held, and the oldest beyond heldLogRecords.
func (w *logWriter) bound() {
	if len(w.held) == 0 {
		return
	}
	from := w.held[len(w.held)-1].Start - (heldLogMinutes-1)*60
	n := max(len(w.held)-heldLogRecords, 0)
	for n < len(w.held) && w.held[n].Start < from {
		n++
	}
	if n == 0 {
		return
	}
	if w.dropped == 0 {
		w.dropFrom = w.held[0].Start
	}
	w.dropped += n
	w.dropTo = w.held[n-1].Start
	clear(w.held[:n])
	w.held = w.held[n:]
}

// sayDropped says, once, how many held records were dropped since it was
// last said.
func (w *logWriter) sayDropped() {
	if w.dropped == 0 {
		return
	}
	w.logger.Warn("ratellmiter: minute logs dropped: they could not be written, and were older than the last minutes or records kept",
		"records", w.dropped, "kept_minutes", heldLogMinutes, "kept_records", heldLogRecords,
		"first_minute", time.Unix(w.dropFrom, 0).UTC().Format(rfc3339),
		"last_minute", time.Unix(w.dropTo, 0).UTC().Format(rfc3339))
	w.dropped = 0
}

// write appends rec as one line, and reports whether it is done with: it
// was written (all of it, or all but its newline), or cannot be encoded. After a write cut short, it starts a
// new line first, so that the part left behind spoils no other record.
func (w *logWriter) write(rec *MinuteLog) bool {
	line, err := json.Marshal(rec)
	if err != nil {
		w.fail(fmt.Errorf("ratellmiter: encoding minute log: %w", err))
		return true
	}
	line = append(line, '\n')
	if w.f != nil && !w.stillThere() {
		// The folder or the file was removed or replaced: writing on
		// would go where nobody can read it. Create them again.
		w.logger.Warn("ratellmiter: minute log file is gone; starting it again", "path", w.path())
		w.f.Close()
		w.setFile(nil)
		w.cut = false
	}
	if w.f == nil {
		if err := os.MkdirAll(w.dir, 0o755); err != nil {
			w.fail(fmt.Errorf("ratellmiter: log folder: %w", err))
			return false
		}
		f, err := w.open()
		if err != nil {
			w.fail(fmt.Errorf("ratellmiter: log file: %w", err))
			return false
		}
		w.setFile(f)
	}
	if w.cut {
		line = append([]byte{'\n'}, line...)
	}
	n, err := w.f.Write(line)
	if n > 0 {
		w.cut = line[n-1] != '\n'
	}
	if n == len(line) {
		err = nil // the whole line is there: it must not be written again
	}
	if err == nil && w.failing {
		w.failing = false
		w.logger.Info("ratellmiter: minute logs are written again", "path", w.path())
	}
	if err != nil {
		w.fail(fmt.Errorf("ratellmiter: writing %s: %w", w.path(), err))
		// The file may be gone with its folder: open it again next time.
		// It stays in openLogs meanwhile: it is still the file the
		// writer writes to, which no retention may remove.
		w.f.Close()
		w.f = nil
		// Cut short of its newline only, the line holds the whole
		// record, which the next line ends: it must not be written again.
		return n >= len(line)-1
	}
	return true
}

// stillThere reports whether the open file is still the file at the
// writer's path. A path that cannot be looked up for another reason than
// its absence (a folder whose search permission was taken away) hides the
// file without removing it: the open file is kept, as it can still be
// written, where a file opened again could not.
func (w *logWriter) stillThere() bool {
	at, err := os.Stat(w.path())
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR)
	}
	open, err := w.f.Stat()
	return err == nil && os.SameFile(at, open)
}

func (w *logWriter) fail(err error) {
	if w.err == nil {
		w.err = err
	}
	if !w.failing {
		w.failing = true
		w.logger.Error("ratellmiter: minute logs are not being written", "err", err)
	}
}

// setFile makes f, or none, the writer's open file, and tells openLogs,
// which keeps the file a writer writes to, open or not (closed after a
// failed write), until setFile(nil).
func (w *logWriter) setFile(f *os.File) {
	w.f = f
	var fi os.FileInfo
	if f != nil {
		fi, _ = f.Stat()
	}
	openLogs.Lock()
	defer openLogs.Unlock()
	if fi == nil {
		delete(openLogs.files, w)
		return
	}
	if openLogs.files == nil {
		openLogs.files = map[*logWriter]os.FileInfo{}
	}
	openLogs.files[w] = fi
}

// rotate closes the file in use, if any, and makes the writer write the
// next records to a file of its own named after start (see open). The
// first error met stays the one close returns.
func (w *logWriter) rotate(start time.Time) {
	if w.f != nil {
		if err := w.f.Close(); err != nil {
			w.fail(fmt.Errorf("ratellmiter: closing %s: %w", w.path(), err))
		}
	}
	w.setFile(nil)
	w.claimed, w.cut = false, false
	w.start = start.Unix()
	w.mu.Lock()
	w.name = logName(w.start, 1)
	w.mu.Unlock()
}

// close closes the file and returns the first error met. The records
// still held are said through the logger, and dropped.
func (w *logWriter) close() error {
	if w.f != nil {
		if err := w.f.Close(); err != nil {
			w.fail(err)
		}
	}
	w.setFile(nil)
	w.sayDropped()
	if len(w.held) > 0 {
		w.logger.Error("ratellmiter: minute logs left unwritten", "records", len(w.held),
			"first_minute", time.Unix(w.held[0].Start, 0).UTC().Format(rfc3339),
			"last_minute", time.Unix(w.held[len(w.held)-1].Start, 0).UTC().Format(rfc3339))
		w.held = nil
	}
	return w.err
}

// sortMinutes orders records by minute, then by limiter name.
func sortMinutes(recs []*MinuteLog) {
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].Start != recs[j].Start {
			return recs[i].Start < recs[j].Start
		}
		return recs[i].Limiter < recs[j].Limiter
	})
}
