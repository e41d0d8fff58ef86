package ratellmiter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// ErrNotLog is wrapped by the error of ReadLog, and of LogReader.Next at the
// end of its input, when the input holds data but not one line of it is a
// minute log of a version this package reads: the file is something else.
var ErrNotLog = errors.New("ratellmiter: not a ratellmiter log")

// ErrNoLogs is wrapped by the error of LatestLog when a folder exists but
// holds no non-empty log file.
var ErrNoLogs = errors.New("ratellmiter: no logs")

// maxLogLine bounds the length of a line that LogReader decodes. A minute
// log is a few kilobytes, tens with many events; a longer line is not a
// minute log and is skipped without being kept in memory.
const maxLogLine = 16 << 20

// LogFile is a minute-log file read whole by ReadLog.
type LogFile struct {
	Path    string      // the file read
	Minutes []MinuteLog // its records, ordered by minute, then by limiter
	Skipped int         // lines that were not valid minute logs and were left out
}

// ReadLog reads the minute-log file at path, as written by a Monitor with
// logging on. Lines that are not valid minute logs (a last line cut short
// by a crash, a corrupt line, a record of another format version) are left
// out and counted in Skipped. An empty file gives a LogFile with no
// minutes. A file that holds data but no valid line at all gives an error
// wrapping ErrNotLog; a file that cannot be opened or read gives an error
// wrapping an *fs.PathError (errors.Is(err, fs.ErrNotExist) when it is
// missing, syscall.EISDIR when it is a folder).
func ReadLog(path string) (*LogFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ratellmiter: reading log: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("ratellmiter: reading log: %w", &fs.PathError{Op: "read", Path: path, Err: syscall.EISDIR})
	}
	r := NewLogReader(f)
	lf := &LogFile{Path: path}
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, ErrNotLog) {
				return nil, fmt.Errorf("%w: %s (%d lines, none is a minute log)", ErrNotLog, path, r.Skipped())
			}
			return nil, fmt.Errorf("ratellmiter: reading %s: %w", path, err)
		}
		lf.Minutes = append(lf.Minutes, m)
	}
	lf.Skipped = r.Skipped()
	slices.SortStableFunc(lf.Minutes, func(a, b MinuteLog) int {
		if a.Start != b.Start {
			if a.Start < b.Start {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Limiter, b.Limiter)
	})
	return lf, nil
}

// LogReader decodes minute logs one line at a time from a stream, such as
// a log file being written. Lines of any length are read; blank lines are
// ignored; a line that is not a valid minute log (bad JSON, a "v" other
// than LogVersion or none, no limiter name, a start that is not the first
// second of a minute, an event outside the minute, a negative count, a
// limit no limiter takes) is skipped and counted.
type LogReader struct {
	br      *bufio.Reader
	parsed  int
	skipped int
	readErr error // the error that ended the input
	err     error // the error Next returns from now on
}

// NewLogReader returns a LogReader that reads from r.
func NewLogReader(r io.Reader) *LogReader {
	return &LogReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next valid minute log. At the end of the input it
// returns io.EOF, or, if the input held lines but none was valid, an error
// wrapping ErrNotLog. A read error of the underlying reader is returned
// as is. Once Next has returned an error it returns the same error again.
func (r *LogReader) Next() (MinuteLog, error) {
	for r.err == nil && r.readErr == nil {
		line, tooLong, err := r.readLine()
		r.readErr = err
		if len(line) > 0 || tooLong {
			if m, ok := decodeMinute(line, tooLong); ok {
				r.parsed++
				return m, nil
			}
			r.skipped++
		}
	}
	if r.err == nil {
		r.err = r.readErr
		if r.err == io.EOF && r.parsed == 0 && r.skipped > 0 {
			r.err = ErrNotLog
		}
	}
	return MinuteLog{}, r.err
}

// Skipped returns how many lines so far were not valid minute logs.
func (r *LogReader) Skipped() int { return r.skipped }

// readLine returns the next line without its end and surrounding blanks.
// A line longer than maxLogLine is consumed and reported as tooLong, with
// no content. err is io.EOF with the last line if it has no newline.
func (r *LogReader) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := r.br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > maxLogLine {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimSpace(buf), tooLong, err
	}
}

// decodeMinute decodes one line and checks that it is a minute log.
func decodeMinute(line []byte, tooLong bool) (MinuteLog, bool) {
	var m MinuteLog
	if tooLong || line[0] != '{' {
		return m, false
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return m, false
	}
	if m.V != LogVersion || m.Limiter == "" || m.Start <= 0 || m.Start%60 != 0 {
		return m, false
	}
	for _, e := range m.Events {
		if e.Second < 0 || e.Second >= 60 || e.Kind == "" {
			return m, false
		}
	}
	if m.RPM < 1 || int64(m.RPM) > maxRPM {
		return m, false
	}
	for _, counts := range [...]*[60]int{&m.Requested, &m.Issued, &m.Overflow, &m.RateLimited, &m.Finished} {
		for _, n := range counts {
			if n < 0 {
				return m, false
			}
		}
	}
	return m, true
}

// LatestLog returns the path of the newest non-empty log file in dir: of
// the files named <unix-seconds>.jsonl or, for the later Monitors started
// in the same second, <unix-seconds>-<k>.jsonl (k = 2, 3, ...), the one
// with the largest second and, within it, the largest k.
// Other files, folders and empty files are ignored. It returns an error
// wrapping fs.ErrNotExist when dir does not exist, an error when dir is
// not a folder or cannot be read, and one wrapping ErrNoLogs when dir
// holds no non-empty log.
func LatestLog(dir string) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("ratellmiter: log folder %s does not exist: %w", dir, fs.ErrNotExist)
		}
		return "", fmt.Errorf("ratellmiter: log folder: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("ratellmiter: log folder %s is not a folder", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("ratellmiter: log folder: %w", err)
	}
	best, bestN, bestK := "", int64(-1), 0
	for _, e := range entries {
		name := e.Name()
		n, k, ok := parseLogName(name)
		if !ok || n < bestN || n == bestN && k <= bestK {
			continue
		}
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path) // follows symbolic links
		if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
			continue
		}
		best, bestN, bestK = path, n, k
	}
	if best == "" {
		return "", fmt.Errorf("%w in %s (expected non-empty <unix-seconds>.jsonl or <unix-seconds>-<k>.jsonl files)", ErrNoLogs, dir)
	}
	return best, nil
}

// Limiters returns the names of the limiters that have minutes in the
// file, sorted. It returns nil for a file with no minutes.
func (f *LogFile) Limiters() []string {
	var names []string
	for _, m := range f.Minutes {
		names = append(names, m.Limiter)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// MaxSeriesSpan is the longest time a Series covers: a day of seconds.
const MaxSeriesSpan = 24 * time.Hour

// Series is one limiter's activity over a whole log file, one element per
// second. All the series of a file share the same time axis, from the
// first second of the file's first minute to the last second of its last
// minute, whichever limiters those minutes belong to; the seconds of
// minutes the limiter did not log are zero and not paused. A file that
// spans more than MaxSeriesSpan (a long-lived process with sparse
// traffic) gives the span that ends with its last minute.
type Series struct {
	Limiter string // the limiter's name
	Start   int64  // Unix seconds of element 0
	RPM     int    // the limit in use at the end of the limiter's last minute; 0 if none
	// The counts per second, as in MinuteLog.
	Requested   []int
	Issued      []int
	Overflow    []int
	RateLimited []int
	Finished    []int
	Paused      []bool
	Events      []SeriesEvent // in time order
}

// SeriesEvent is a pause, probe, resume or change of the limit in a Series.
type SeriesEvent struct {
	Second int    // offset from the Series' Start
	Kind   string // as in LogEvent
	Detail string // as in LogEvent
}

// Len returns the number of seconds in the series.
func (s Series) Len() int { return len(s.Paused) }

// Series returns the limiter's activity over the file. A limiter that has
// no minute in the file gives an all-zero Series on the file's time axis
// (check Limiters first to tell the two apart); a file with no minutes
// gives an empty Series. Two records of the same limiter and minute (two
// limiters given the same name) are added up. A name with bytes that are
// not UTF-8 is looked up, and named in the Series, as the log holds it:
// each run of such bytes replaced by U+FFFD, so that the limiter's Name
// finds it.
func (f *LogFile) Series(limiter string) Series {
	limiter = loggedName(limiter)
	s := Series{Limiter: limiter}
	if len(f.Minutes) == 0 {
		return s
	}
	first, last := f.Minutes[0].Start, f.Minutes[0].Start
	for _, m := range f.Minutes {
		first, last = min(first, m.Start), max(last, m.Start)
	}
	// Starts are whole minutes, and so is the span: first stays one.
	first = max(first, last+60-int64(MaxSeriesSpan/time.Second))
	n := int(last-first) + 60
	s.Start = first
	s.Requested = make([]int, n)
	s.Issued = make([]int, n)
	s.Overflow = make([]int, n)
	s.RateLimited = make([]int, n)
	s.Finished = make([]int, n)
	s.Paused = make([]bool, n)
	lastStart := int64(-1)
	for _, m := range f.Minutes {
		if m.Limiter != limiter || m.Start < first {
			continue
		}
		if m.Start >= lastStart {
			lastStart, s.RPM = m.Start, m.RPM
		}
		off := int(m.Start - first)
		for i := range 60 {
			s.Requested[off+i] += m.Requested[i]
			s.Issued[off+i] += m.Issued[i]
			s.Overflow[off+i] += m.Overflow[i]
			s.RateLimited[off+i] += m.RateLimited[i]
			s.Finished[off+i] += m.Finished[i]
			s.Paused[off+i] = s.Paused[off+i] || m.Paused[i]
		}
		for _, e := range m.Events {
			s.Events = append(s.Events, SeriesEvent{Second: off + e.Second, Kind: e.Kind, Detail: e.Detail})
		}
	}
	slices.SortStableFunc(s.Events, func(a, b SeriesEvent) int { return a.Second - b.Second })
	return s
}
