package ratellmiter

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The log readers take files that may be torn, corrupt or something else
// altogether. Whatever the bytes, they never panic, every minute they
// return is a valid one, every other non-blank line is counted as
// skipped, and input with lines but no minute log is reported as
// ErrNotLog. Seeds are in testdata/fuzz.

// nonBlankLines counts the lines the readers look at.
func nonBlankLines(data []byte) int {
	n := 0
	for line := range bytes.Lines(data) {
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
	}
	return n
}

// checkMinute fails unless m passes the checks the reader promises.
func checkMinute(t *testing.T, m MinuteLog) {
	t.Helper()
	if m.V != LogVersion || m.Limiter == "" || m.Start <= 0 || m.Start%60 != 0 {
		t.Fatalf("invalid minute returned: v=%d limiter=%q start=%d", m.V, m.Limiter, m.Start)
	}
	for _, e := range m.Events {
		if e.Second < 0 || e.Second >= 60 || e.Kind == "" {
			t.Fatalf("invalid event returned: %+v", e)
		}
	}
}

// addLogSeeds adds a small valid log to the seeds of testdata/fuzz. Seeds
// stay short: the fuzzer minimizes every input that finds new code, and a
// long one would use up a short run.
func addLogSeeds(f *testing.F) {
	f.Add([]byte(`{"v":1,"limiter":"a","start":60,"issued":[1,2],"paused":[true],"events":[{"s":1,"kind":"pause"}]}` + "\n" +
		`{"v":1,"limiter":"a","start":0}` + "\n"))
}

func FuzzLogReader(f *testing.F) {
	addLogSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewLogReader(bytes.NewReader(data))
		lines := nonBlankLines(data)
		parsed := 0
		var err error
		for range lines + 2 {
			var m MinuteLog
			if m, err = r.Next(); err != nil {
				break
			}
			checkMinute(t, m)
			parsed++
		}
		if err == nil {
			t.Fatalf("Next gave more minutes than the %d lines of input", lines)
		}
		if got := parsed + r.Skipped(); got != lines {
			t.Fatalf("%d parsed + %d skipped, want the %d non-blank lines", parsed, r.Skipped(), lines)
		}
		switch {
		case parsed == 0 && lines > 0:
			if !errors.Is(err, ErrNotLog) {
				t.Fatalf("no line is a minute log: Next = %v, want ErrNotLog", err)
			}
		case err != io.EOF:
			t.Fatalf("Next = %v at the end of the input, want io.EOF", err)
		}
		if _, again := r.Next(); again != err {
			t.Fatalf("Next after %v = %v, want the same error", err, again)
		}
	})
}

func FuzzReadLog(f *testing.F) {
	addLogSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "1.jsonl")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		lf, err := ReadLog(path)
		lines := nonBlankLines(data)
		if err != nil {
			if !errors.Is(err, ErrNotLog) {
				t.Fatalf("ReadLog = %v, want nil or ErrNotLog for a readable file", err)
			}
			if lines == 0 {
				t.Fatal("ErrNotLog for a file without a line")
			}
			return
		}
		if len(lf.Minutes)+lf.Skipped != lines {
			t.Fatalf("%d minutes + %d skipped, want the %d non-blank lines", len(lf.Minutes), lf.Skipped, lines)
		}
		if lines > 0 && len(lf.Minutes) == 0 {
			t.Fatal("no minute and no ErrNotLog")
		}
		for i, m := range lf.Minutes {
			checkMinute(t, m)
			if i > 0 {
				p := lf.Minutes[i-1]
				if p.Start > m.Start || p.Start == m.Start && p.Limiter > m.Limiter {
					t.Fatalf("minutes out of order at %d: %d %q after %d %q", i, m.Start, m.Limiter, p.Start, p.Limiter)
				}
			}
		}
		for _, name := range lf.Limiters() {
			s := lf.Series(name)
			if s.Len() == 0 || s.Len()%60 != 0 || s.Len() > int(MaxSeriesSpan/time.Second) {
				t.Fatalf("Series(%q) has %d seconds", name, s.Len())
			}
		}
	})
}
