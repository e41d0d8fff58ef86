package ratellmiter

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// openLogs holds the files that the log writers of this process write to
// (open, or closed after a failed write until the next), so that no
// Monitor's retention removes another's file in use.
var openLogs struct {
	sync.Mutex
	files map[*logWriter]os.FileInfo
}

// isOpenLog reports whether fi is a file that a log writer of this
// process writes to.
func isOpenLog(fi os.FileInfo) bool {
	openLogs.Lock()
	defer openLogs.Unlock()
	for _, open := range openLogs.files {
		if os.SameFile(fi, open) {
			return true
		}
	}
	return false
}

// logTail is how much of the end of a log file removeOldLogs reads to find
// its last minute: many records of a few kilobytes.
const logTail = 256 << 10

// removeOldLogs removes from dir the regular files named as minute logs
// (parseLogName) whose last minute ended before cutoff, but for inUse, the
// files a Monitor of this process writes to (openLogs) and those with no
// minute log among their last records, which are not known to be logs
// nor to be old. It
// says what it removes, and the errors it meets, through logger, and goes
// on past them. It returns, leaving the rest, once stop is closed.
func removeOldLogs(dir string, cutoff time.Time, inUse string, logger *slog.Logger, stop <-chan struct{}) {
	if stopped(stop) {
		return // not even the listing of a large folder
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) { // nothing written yet
			logger.Error("ratellmiter: removing old minute logs: reading the log folder", "dir", dir, "err", err)
		}
		// ReadDir returns the entries it read before the error.
	}
	for _, e := range entries {
		if stopped(stop) {
			return // the Monitor stops: the next one on the folder goes on
		}
		if _, _, ok := parseLogName(e.Name()); !ok || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if path == inUse {
			continue
		}
		end, open, err := lastMinuteEnd(path)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) { // removed meanwhile
				logger.Error("ratellmiter: removing old minute logs", "path", path, "err", err)
			}
			continue
		}
		if open || end.IsZero() || !end.Before(cutoff) {
			continue
		}
		if err := os.Remove(path); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				logger.Error("ratellmiter: removing old minute logs", "path", path, "err", err)
			}
			continue
		}
		logger.Info("ratellmiter: removed an old minute log", "path", path, "last_minute_end", end.UTC().Format(rfc3339))
	}
}

// lastMinuteEnd returns when the last minute of the log file at path
// ended: the latest end of the valid records among its last logTail
// bytes, or the file's modification time if later (the records of a
// Monitor are dated on its monotonic time line, which lags the wall clock
// after the machine was suspended or the clock set forward), or, when
// there is no valid record, the zero Time; and whether a Monitor of this
// process writes to the file.
func lastMinuteEnd(path string) (end time.Time, open bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return time.Time{}, false, err
	}
	if isOpenLog(fi) {
		return time.Time{}, true, nil
	}
	// A few records are enough, and most files have them in their last
	// kilobytes; records with many events take more.
	for _, tail := range [...]int64{logTail / 16, logTail} {
		off := max(fi.Size()-tail, 0)
		buf := make([]byte, fi.Size()-off)
		n, err := f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return time.Time{}, false, err
		}
		lines := bytes.Split(buf[:n], []byte{'\n'})
		if off > 0 {
			lines = lines[1:] // the end of a line that starts before
		}
		last := int64(-1)
		for _, line := range lines {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			if m, ok := decodeMinute(line, false); ok {
				last = max(last, m.Start)
			}
		}
		if last >= 0 {
			end := time.Unix(last+60, 0)
			if mod := fi.ModTime(); mod.After(end) {
				// Written since on the wall clock: the records are
				// dated on a time line behind it.
				end = mod
			}
			return end, false, nil
		}
		if off == 0 {
			break
		}
	}
	return time.Time{}, false, nil
}

// stopped reports whether stop is closed.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}
