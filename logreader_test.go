package ratellmiter

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logLine returns rec as a log line, newline included.
func logLine(t *testing.T, rec MinuteLog) string {
	t.Helper()
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// logMinute returns a record of limiter for the minute starting at start,
// with n requests issued and finished in each of its first seconds.
func logMinute(limiter string, start int64, n int) MinuteLog {
	m := MinuteLog{V: LogVersion, Limiter: limiter, Start: start, RPM: 60 * n}
	for i := range 10 {
		m.Requested[i] = n
		m.Issued[i] = n
		m.Finished[i] = n
	}
	return m
}

func writeLogFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLogReaderSkipsBadLines(t *testing.T) {
	const t0 = 1_700_000_040
	good1 := logLine(t, logMinute("a", t0, 1))
	good2 := logLine(t, logMinute("a", t0+60, 2))
	good3 := logLine(t, logMinute("b", t0+60, 3))
	wrongV := logMinute("a", t0+120, 1)
	wrongV.V = LogVersion + 1
	noName := logMinute("", t0+120, 1)
	oddStart := logMinute("a", t0+7, 1)
	badEvent := logMinute("a", t0+120, 1)
	badEvent.Events = []LogEvent{{Second: 60, Kind: EventPause}}
	torn := good2[:len(good2)/2]
	negative := logMinute("a", t0+120, 1)
	negative.Finished[3] = -1
	hugeRPM := logMinute("a", t0+120, 1)
	hugeRPM.RPM = math.MaxInt
	noRPM := logMinute("a", t0+120, 1)
	noRPM.RPM = 0

	for _, c := range []struct {
		name    string
		data    string
		minutes int
		skipped int
	}{
		{"clean", good1 + good2 + good3, 3, 0},
		{"no final newline", good1 + strings.TrimSuffix(good2, "\n"), 2, 0},
		{"blank lines and CRLF", "\n" + strings.Replace(good1, "\n", "\r\n", 1) + "  \n" + good2, 2, 0},
		{"torn last line", good1 + good2 + torn, 2, 1},
		{"corrupt middle line", good1 + "{\"v\":1,\"limiter\":\"a\",\"start\":\n" + good2, 2, 1},
		{"garbage middle line", good1 + "\x00\x01\x02 binary\n" + good2, 2, 1},
		{"missing v", good1 + `{"limiter":"a","start":1700000100}` + "\n", 1, 1},
		{"wrong v", good1 + logLine(t, wrongV), 1, 1},
		{"missing limiter", good1 + logLine(t, noName), 1, 1},
		{"start not on a minute", good1 + logLine(t, oddStart), 1, 1},
		{"event outside the minute", good1 + logLine(t, badEvent), 1, 1},
		{"negative count", good1 + logLine(t, negative), 1, 1},
		{"limit no limiter takes", good1 + logLine(t, hugeRPM), 1, 1},
		{"no limit", good1 + logLine(t, noRPM), 1, 1},
		{"json array", good1 + "[1,2,3]\n", 1, 1},
		{"empty", "", 0, 0},
		{"only blank lines", "\n\n  \n", 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			// One byte at a time, to exercise lines split across reads.
			r := NewLogReader(iotest.OneByteReader(strings.NewReader(c.data)))
			n := 0
			for {
				_, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("Next after %d minutes: %v", n, err)
				}
				n++
			}
			if n != c.minutes || r.Skipped() != c.skipped {
				t.Errorf("%d minutes, %d skipped; want %d, %d", n, r.Skipped(), c.minutes, c.skipped)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("Next after the end: %v, want io.EOF", err)
			}

			path := filepath.Join(t.TempDir(), "1.jsonl")
			writeLogFile(t, path, c.data)
			lf, err := ReadLog(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(lf.Minutes) != c.minutes || lf.Skipped != c.skipped || lf.Path != path {
				t.Errorf("ReadLog: %d minutes, %d skipped, path %q; want %d, %d, %q",
					len(lf.Minutes), lf.Skipped, lf.Path, c.minutes, c.skipped, path)
			}
		})
	}
}

func TestLogReaderLongLine(t *testing.T) {
	rec := logMinute("a", 1_700_000_040, 1)
	for i := range 5000 {
		rec.Events = append(rec.Events, LogEvent{Second: i % 60, Kind: EventProbe, Detail: strings.Repeat("x", 40)})
	}
	line := logLine(t, rec)
	if len(line) < 200_000 {
		t.Fatalf("line of %d bytes is not long", len(line))
	}
	huge := "{" + strings.Repeat(" ", maxLogLine) + "}\n"
	r := NewLogReader(strings.NewReader(line + huge + line))
	for i := range 2 {
		m, err := r.Next()
		if err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
		if len(m.Events) != 5000 {
			t.Errorf("Next %d: %d events, want 5000", i, len(m.Events))
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next: %v, want io.EOF", err)
	}
	if r.Skipped() != 1 {
		t.Errorf("Skipped = %d, want 1", r.Skipped())
	}
}

func TestLogReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	line := logLine(t, logMinute("a", 1_700_000_040, 1))
	r := NewLogReader(io.MultiReader(strings.NewReader(line), iotest.ErrReader(boom)))
	if _, err := r.Next(); err != nil {
		t.Fatalf("Next: %v", err)
	}
	for range 2 {
		if _, err := r.Next(); !errors.Is(err, boom) {
			t.Fatalf("Next: %v, want %v", err, boom)
		}
	}
}

func TestReadLogNotALog(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"csv":         "name,requests\nalpha,12\n",
		"other jsonl": `{"level":"INFO","msg":"started"}` + "\n" + `{"level":"INFO","msg":"done"}` + "\n",
		"binary":      "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
		"torn only":   `{"v":1,"limiter":"a","sta`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".jsonl")
		writeLogFile(t, path, data)
		lf, err := ReadLog(path)
		if !errors.Is(err, ErrNotLog) {
			t.Errorf("%s: ReadLog = %v, %v; want ErrNotLog", name, lf, err)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
		r := NewLogReader(strings.NewReader(data))
		if _, err := r.Next(); !errors.Is(err, ErrNotLog) {
			t.Errorf("%s: Next = %v, want ErrNotLog", name, err)
		}
	}
	if _, err := ReadLog(filepath.Join("testdata", "logs", "foreign", "not-a-log.jsonl")); !errors.Is(err, ErrNotLog) {
		t.Errorf("testdata foreign file: %v, want ErrNotLog", err)
	}
	if _, err := ReadLog(filepath.Join(dir, "missing.jsonl")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := ReadLog(dir); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("ReadLog of a folder: %v, want syscall.EISDIR", err)
	}
}

func TestLatestLog(t *testing.T) {
	dir := t.TempDir()
	line := logLine(t, logMinute("a", 1_700_000_040, 1))
	if _, err := LatestLog(filepath.Join(dir, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing folder: %v, want fs.ErrNotExist", err)
	}
	if _, err := LatestLog(dir); !errors.Is(err, ErrNoLogs) {
		t.Errorf("empty folder: %v, want ErrNoLogs", err)
	}
	writeLogFile(t, filepath.Join(dir, "f"), "")
	if _, err := LatestLog(filepath.Join(dir, "f")); err == nil || errors.Is(err, ErrNoLogs) {
		t.Errorf("a file as folder: %v, want an error saying so", err)
	}

	writeLogFile(t, filepath.Join(dir, "1700000000.jsonl"), line)
	writeLogFile(t, filepath.Join(dir, "999999999.jsonl"), line) // fewer digits, older
	writeLogFile(t, filepath.Join(dir, "1700000500.jsonl"), line)
	writeLogFile(t, filepath.Join(dir, "1700000900.jsonl"), "")  // newest, but empty
	writeLogFile(t, filepath.Join(dir, "1800000000.json"), line) // not a log name
	writeLogFile(t, filepath.Join(dir, "latest.jsonl"), line)    // not a start time
	if err := os.Mkdir(filepath.Join(dir, "1900000000.jsonl"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := LatestLog(dir)
	if want := filepath.Join(dir, "1700000500.jsonl"); err != nil || got != want {
		t.Errorf("LatestLog = %q, %v; want %q", got, err, want)
	}

	only := t.TempDir()
	writeLogFile(t, filepath.Join(only, "1700000000.jsonl"), "")
	if _, err := LatestLog(only); !errors.Is(err, ErrNoLogs) {
		t.Errorf("only empty logs: %v, want ErrNoLogs", err)
	}
}

func TestLogSeries(t *testing.T) {
	const t0 = 1_700_000_040
	a1 := logMinute("a", t0, 1)
	a1.Paused[58], a1.Paused[59] = true, true
	a1.Events = []LogEvent{{Second: 58, Kind: EventPause, Detail: "rate limited"}}
	a3 := logMinute("a", t0+120, 2)
	a3.Paused[0] = true
	a3.RPM = 120
	a3.Events = []LogEvent{{Second: 1, Kind: EventResume}}
	b2 := logMinute("b", t0+60, 3)
	b2.Overflow[5] = 4
	b2.RateLimited[6] = 1
	b4 := logMinute("b", t0+180, 1)
	b4dup := logMinute("b", t0+180, 1) // a second limiter of the same name

	var data bytes.Buffer
	for _, m := range []MinuteLog{a3, b2, a1, b4, b4dup} { // out of order
		data.WriteString(logLine(t, m))
	}
	path := filepath.Join(t.TempDir(), "1.jsonl")
	writeLogFile(t, path, data.String())
	lf, err := ReadLog(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(lf.Minutes); i++ {
		if lf.Minutes[i-1].Start > lf.Minutes[i].Start {
			t.Fatalf("minutes not in time order: %d before %d", lf.Minutes[i-1].Start, lf.Minutes[i].Start)
		}
	}
	if got := lf.Limiters(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("Limiters() = %q, want [a b]", got)
	}

	a := lf.Series("a")
	if a.Start != t0 || a.Len() != 240 || len(a.Requested) != 240 || len(a.Finished) != 240 {
		t.Fatalf("series a: start %d, %d seconds; want %d, 240", a.Start, a.Len(), t0)
	}
	if a.RPM != 120 || a.Limiter != "a" {
		t.Errorf("series a: RPM %d, limiter %q; want 120, a", a.RPM, a.Limiter)
	}
	if a.Issued[0] != 1 || a.Issued[60] != 0 || a.Issued[120] != 2 || a.Issued[180] != 0 {
		t.Errorf("series a issued at 0, 60, 120, 180: %d %d %d %d; want 1 0 2 0",
			a.Issued[0], a.Issued[60], a.Issued[120], a.Issued[180])
	}
	for i, p := range a.Paused {
		if want := i == 58 || i == 59 || i == 120; p != want {
			t.Errorf("series a: Paused[%d] = %v", i, p)
		}
	}
	wantEv := []SeriesEvent{{58, EventPause, "rate limited"}, {121, EventResume, ""}}
	if len(a.Events) != 2 || a.Events[0] != wantEv[0] || a.Events[1] != wantEv[1] {
		t.Errorf("series a events %+v, want %+v", a.Events, wantEv)
	}

	b := lf.Series("b")
	if b.Start != t0 || b.Len() != 240 {
		t.Fatalf("series b: start %d, %d seconds", b.Start, b.Len())
	}
	if b.Issued[0] != 0 || b.Issued[60] != 3 || b.Overflow[65] != 4 || b.RateLimited[66] != 1 || b.Issued[180] != 2 {
		t.Errorf("series b: issued %d %d, overflow %d, rate limited %d, issued %d",
			b.Issued[0], b.Issued[60], b.Overflow[65], b.RateLimited[66], b.Issued[180])
	}

	none := lf.Series("c")
	if none.Len() != 240 || logSum(none.Issued) != 0 || none.RPM != 0 || len(none.Events) != 0 {
		t.Errorf("series of an unknown limiter: %+v", none)
	}
	empty := (&LogFile{}).Series("a")
	if (&LogFile{}).Series("a").Len() != 0 || empty.Start != 0 {
		t.Errorf("series of an empty file: %+v", empty)
	}
	if got := (&LogFile{}).Limiters(); got != nil {
		t.Errorf("Limiters of an empty file: %q", got)
	}
}

func TestSeriesOfASparseFileCoversItsLastDay(t *testing.T) {
	const day = 86400
	minute := func(start int64, finished int) MinuteLog {
		m := MinuteLog{V: LogVersion, Limiter: "a", Start: start, RPM: 60}
		m.Finished[0] = finished
		return m
	}
	for _, tc := range []struct {
		name        string
		first, last int64
	}{
		{"a year apart", 1_700_000_040, 1_700_000_040 + 365*day},
		{"an absurd start", 1_700_000_040, 60_000_000_000_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &LogFile{Minutes: []MinuteLog{minute(tc.first, 7), minute(tc.last, 5)}}
			s := f.Series("a")
			require.Equal(t, day, s.Len())
			assert.Equal(t, tc.last+60-day, s.Start)
			assert.Equal(t, 5, s.Finished[day-60], "the last minute")
			sum := 0
			for _, n := range s.Finished {
				sum += n
			}
			assert.Equal(t, 5, sum, "the minute a year before is outside the day")
		})
	}
}
