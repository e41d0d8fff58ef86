package ratellmiter

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logFileNames returns the names of the minute logs in dir, oldest first.
func logFileNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if _, _, ok := parseLogName(e.Name()); ok && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		sa, ka, _ := parseLogName(a)
		sb, kb, _ := parseLogName(b)
		if sa != sb {
			return int(sa - sb)
		}
		return ka - kb
	})
	return names
}

// issueEvery takes one ticket of l every gap until end.
func issueEvery(t *testing.T, l *BucketRateLimiter, gap time.Duration, end time.Time) int {
	n := 0
	for time.Now().Before(end) {
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		n++
		time.Sleep(gap)
	}
	return n
}

// A Monitor starts a new file each period, named after the time it does
// so; every minute is in exactly one file, the one of the period it ended
// in, and the minute in progress at Stop goes to the last.
func TestLogsRotateAfterThePeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		start := time.Now()
		m := NewMonitor(WithLogDir(dir), WithLogRotation(time.Hour))
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
		require.NoError(t, err)
		n := issueEvery(t, l, 20*time.Second, start.Add(3*time.Hour+30*time.Second))
		require.NoError(t, m.Stop())

		s0 := start.Unix()
		want := []string{logName(s0, 1), logName(s0+3600, 1), logName(s0+7200, 1), logName(s0+10800, 1)}
		require.Equal(t, want, logFileNames(t, dir))
		assert.Equal(t, filepath.Join(dir, want[3]), m.LogPath())
		latest, err := LatestLog(dir)
		require.NoError(t, err)
		assert.Equal(t, m.LogPath(), latest)

		seen := map[int64]bool{}
		total := 0
		for i, name := range want {
			lf, err := ReadLog(filepath.Join(dir, name))
			require.NoError(t, err)
			require.Zero(t, lf.Skipped)
			from := s0 + int64(i)*3600
			for _, mn := range lf.Minutes {
				assert.False(t, seen[mn.Start], "minute %d written twice", mn.Start)
				seen[mn.Start] = true
				assert.GreaterOrEqual(t, mn.Start, from, "%s holds a minute of an earlier period", name)
				assert.Less(t, mn.Start, from+3600, "%s holds a minute of a later period", name)
				total += int(logSum(mn.Issued[:]))
			}
		}
		assert.Equal(t, n, total, "every ticket issued is in one file")
		assert.Len(t, seen, 3*60+1, "every minute with activity is written")
	})
}

// A Stop at the very time the period ends writes the minutes over by then
// to the file that was in use, and the minute in progress to the new one,
// whether the Monitor's collection of that second came before it or not
// (a period of whole seconds ends at a collection, another between two).
func TestStopAtTheRotationWritesTheMinuteInProgressToTheNewFile(t *testing.T) {
	for _, every := range []time.Duration{time.Hour, time.Hour + 500*time.Millisecond} {
		t.Run(every.String(), func(t *testing.T) {
			for range 10 {
				synctest.Test(t, func(t *testing.T) {
					dir := t.TempDir()
					start := time.Now()
					m := NewMonitor(WithLogDir(dir), WithLogRotation(every))
					l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
					require.NoError(t, err)
					n := issueEvery(t, l, 30*time.Second, start.Add(time.Hour))
					time.Sleep(time.Until(start.Add(every)))
					tk, err := l.Acquire(context.Background()) // in the new period
					require.NoError(t, err)
					tk.Done()
					require.NoError(t, m.Stop())

					s0 := start.Unix()
					require.Equal(t, []string{logName(s0, 1), logName(s0+3600, 1)}, logFileNames(t, dir))
					first, err := ReadLog(filepath.Join(dir, logName(s0, 1)))
					require.NoError(t, err)
					assert.Len(t, first.Minutes, 60)
					assert.Equal(t, uint64(n), logSum(first.Series("a").Issued))
					last, err := ReadLog(m.LogPath())
					require.NoError(t, err)
					require.Len(t, last.Minutes, 1)
					assert.Equal(t, s0+3600, last.Minutes[0].Start)
					assert.Equal(t, 1, last.Minutes[0].Issued[0])
				})
			}
		})
	}
}

// Stop flushes the minute in progress, and those of a limiter closed
// earlier whose tickets finish late, into the file in use after rotations.
func TestStopFlushesIntoTheFileInUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		start := time.Now()
		m := NewMonitor(WithLogDir(dir), WithLogRotation(time.Hour))
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
		require.NoError(t, err)
		issueEvery(t, l, time.Minute, start.Add(90*time.Minute))
		time.Sleep(10 * time.Second)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		l.Close()
		time.Sleep(5 * time.Second)
		tk.Done()
		require.NoError(t, m.Stop())

		assert.Equal(t, filepath.Join(dir, logName(start.Unix()+3600, 1)), m.LogPath())
		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		s := lf.Series("a")
		assert.Equal(t, uint64(31), logSum(s.Issued), "30 minutes of the new period, and the last ticket")
		assert.Equal(t, uint64(31), logSum(s.Finished), "the late finish is logged too")
		assert.Equal(t, lf.Minutes[len(lf.Minutes)-1].Start, start.Unix()+90*60)
	})
}

// Rotation is on by default, once a day; WithLogRotation(0) and a
// negative period turn it off: one file for the whole run, as long as it
// runs.
func TestLogRotationDefaultsToADayAndCanBeTurnedOff(t *testing.T) {
	for _, c := range []struct {
		name  string
		opts  []MonitorOption
		files int
	}{
		{"default", nil, 3},
		{"zero", []MonitorOption{WithLogRotation(0)}, 1},
		{"negative", []MonitorOption{WithLogRotation(-time.Hour)}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				start := time.Now()
				m := NewMonitor(append([]MonitorOption{WithLogDir(dir)}, c.opts...)...)
				l, err := NewBucketRateLimiter(600, WithMonitor(m))
				require.NoError(t, err)
				issueEvery(t, l, 2*time.Hour, start.Add(50*time.Hour))
				require.NoError(t, m.Stop())
				names := logFileNames(t, dir)
				assert.Len(t, names, c.files)
				if c.files == 3 {
					assert.Equal(t, logName(start.Unix()+86400, 1), names[1])
				}
			})
		})
	}
}

func TestLogRotationAndRetentionRefuseBadDurations(t *testing.T) {
	for _, c := range []struct {
		opt  MonitorOption
		want string
	}{
		{WithLogRotation(time.Nanosecond), "WithLogRotation(1ns)"},
		{WithLogRotation(59 * time.Second), "WithLogRotation(59s)"},
		{WithLogRetention(0), "WithLogRetention(0s)"},
		{WithLogRetention(-time.Hour), "WithLogRetention(-1h0m0s)"},
		{WithLogRetention(30 * time.Second), "WithLogRetention(30s)"},
	} {
		m := NewMonitor(WithLogDir(t.TempDir()), c.opt)
		err := m.Start()
		require.Error(t, err, c.want)
		assert.Contains(t, err.Error(), c.want)
		_, err = NewBucketRateLimiter(60, WithMonitor(m))
		assert.Error(t, err, c.want)
	}
	for _, opt := range []MonitorOption{WithLogRotation(time.Minute), WithLogRetention(time.Minute)} {
		m := NewMonitor(WithLogDir(t.TempDir()), opt)
		assert.NoError(t, m.Start())
		assert.NoError(t, m.Stop())
	}
}

// writeMinutes writes a log file at path with one record a minute from
// start for n minutes, last modified at the end of its last minute, as a
// Monitor would have left it.
func writeMinutes(t *testing.T, path string, start int64, n int) {
	t.Helper()
	var b bytes.Buffer
	var end time.Time
	for i := range n {
		s := start - start%60 + int64(i)*60
		line, err := json.Marshal(MinuteLog{V: LogVersion, Limiter: "old", Start: s, StartTime: time.Unix(s, 0).UTC().Format(rfc3339), RPM: 60})
		require.NoError(t, err)
		b.Write(append(line, '\n'))
		end = time.Unix(s+60, 0)
	}
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	require.NoError(t, os.Chtimes(path, end, end))
}

// settleLogTimes sets the modification time of the log files in dir that
// were written since the last call to the bubble's now. A file written in
// a synctest bubble gets the real clock's time, years after the bubble's,
// which would keep it from retention however old it is on the bubble's
// time line.
func settleLogTimes(t *testing.T, dir string) {
	t.Helper()
	now := time.Now()
	for _, name := range logFileNames(t, dir) {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		if fi.ModTime().After(now) {
			require.NoError(t, os.Chtimes(path, now, now))
		}
	}
}

// Retention removes, at the start, the minute logs of the folder whose
// last minute is older than it keeps, and nothing else: not a recent log,
// not a file or folder of another name, not a symbolic link, not a log of
// a folder within.
func TestLogRetentionRemovesOnlyOldLogsAtTheStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		other := t.TempDir()
		now := time.Now().Unix()
		day := int64(86400)
		old := time.Now().Add(-10 * 24 * time.Hour)

		// Old logs: removed.
		writeMinutes(t, filepath.Join(dir, logName(now-10*day, 1)), now-10*day, 5)
		// Named as recent, but its minutes are old.
		writeMinutes(t, filepath.Join(dir, logName(now-1000, 2)), now-3*day, 5)
		// Not a log inside, or nothing inside, however old: kept.
		garbage := filepath.Join(dir, logName(now-9*day, 1))
		require.NoError(t, os.WriteFile(garbage, []byte("not a log\n"), 0o644))
		require.NoError(t, os.Chtimes(garbage, old, old))
		empty := filepath.Join(dir, logName(now-8*day, 1))
		require.NoError(t, os.WriteFile(empty, nil, 0o644))
		require.NoError(t, os.Chtimes(empty, old, old))
		// A long file whose last minute is recent: kept.
		writeMinutes(t, filepath.Join(dir, logName(now-2*day, 1)), now-2*day, 2*24*60-30)

		// Kept: other names, folders, links, logs of a folder within.
		keep := []string{"notes.txt", "1.json", "0123.jsonl", "12-1.jsonl", "x.jsonl", logName(now-7*day, 1) + ".bak"}
		for _, name := range keep {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x\n"), 0o644))
			require.NoError(t, os.Chtimes(filepath.Join(dir, name), old, old))
		}
		require.NoError(t, os.Mkdir(filepath.Join(dir, logName(now-6*day, 1)), 0o755))
		require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
		writeMinutes(t, filepath.Join(dir, "sub", logName(now-10*day, 1)), now-10*day, 5)
		target := filepath.Join(other, logName(now-10*day, 1))
		writeMinutes(t, target, now-10*day, 5)
		require.NoError(t, os.Symlink(target, filepath.Join(dir, logName(now-5*day, 1))))

		var logs bytes.Buffer
		m := NewMonitor(WithLogDir(dir), WithLogRetention(24*time.Hour), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, m.Start())
		synctest.Wait()

		var got []string
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			got = append(got, e.Name())
		}
		want := append(slices.Clone(keep), logName(now-2*day, 1), logName(now-6*day, 1), "sub", logName(now-5*day, 1),
			logName(now-9*day, 1), logName(now-8*day, 1))
		assert.ElementsMatch(t, want, got)
		assert.FileExists(t, target)
		assert.FileExists(t, filepath.Join(dir, "sub", logName(now-10*day, 1)))
		assert.Equal(t, 2, strings.Count(logs.String(), "removed an old minute log"), logs.String())
		require.NoError(t, m.Stop())
	})
}

// Without WithLogRetention nothing is removed, however old.
func TestNoLogIsRemovedWithoutRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		start := time.Now()
		oldLog := filepath.Join(dir, logName(start.Unix()-100*86400, 1))
		writeMinutes(t, oldLog, start.Unix()-100*86400, 3)
		m := NewMonitor(WithLogDir(dir), WithLogRotation(time.Hour))
		l, err := NewBucketRateLimiter(600, WithMonitor(m))
		require.NoError(t, err)
		issueEvery(t, l, 10*time.Minute, start.Add(5*time.Hour))
		require.NoError(t, m.Stop())
		assert.FileExists(t, oldLog)
		assert.Len(t, logFileNames(t, dir), 1+5)
	})
}

// At each rotation, the Monitor's own files whose last minute is older
// than the retention go; the file in use and the recent ones stay.
func TestLogRetentionRunsAtEachRotation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		start := time.Now()
		m := NewMonitor(WithLogDir(dir), WithLogRotation(time.Hour), WithLogRetention(90*time.Minute))
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
		require.NoError(t, err)
		s0 := start.Unix()
		for h := range 6 {
			issueEvery(t, l, 20*time.Second, start.Add(time.Duration(h)*time.Hour+30*time.Minute))
			time.Sleep(time.Until(start.Add(time.Duration(h)*time.Hour + 59*time.Minute)))
			synctest.Wait()
			settleLogTimes(t, dir)
			time.Sleep(time.Until(start.Add(time.Duration(h+1) * time.Hour)))
			synctest.Wait()
			// At h+1 hours: the file of hour h just closed (last minute
			// ended 30 minutes ago) and that of hour h-1 (90 minutes
			// ago, not more) stay; older ones are gone.
			var want []string
			for k := max(h-1, 0); k <= h; k++ {
				want = append(want, logName(s0+int64(k)*3600, 1))
			}
			require.Equal(t, want, logFileNames(t, dir), "after %d hours", h+1)
		}
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		require.NoError(t, m.Stop())
		assert.FileExists(t, m.LogPath(), "the file in use is written at Stop")
		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		assert.Equal(t, uint64(1), logSum(lf.Series("a").Issued))
	})
}

// A Monitor restarted in the same second as the last run started takes
// the next name, and its retention leaves the last run's file alone; two
// Monitors of one folder that rotate in the same second write one file
// each.
func TestMonitorRestartedInTheSameSecondWithRotation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		start := time.Now()
		s0 := start.Unix()
		first := NewMonitor(WithLogDir(dir), WithLogRotation(time.Hour), WithLogRetention(time.Minute))
		l, err := NewBucketRateLimiter(600, WithMonitor(first), WithName("a"))
		require.NoError(t, err)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		require.NoError(t, first.Stop())
		assert.Equal(t, filepath.Join(dir, logName(s0, 1)), first.LogPath())
		settleLogTimes(t, dir)

		time.Sleep(500 * time.Millisecond) // still the same second
		second := NewMonitor(WithLogDir(dir), WithLogRotation(time.Hour), WithLogRetention(time.Minute))
		third := NewMonitor(WithLogDir(dir), WithLogRotation(time.Hour))
		var ls []*BucketRateLimiter
		for _, m := range []*Monitor{second, third} {
			l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
			require.NoError(t, err)
			ls = append(ls, l)
		}
		end := time.Now().Add(time.Hour + 2*time.Minute)
		for time.Now().Before(end) {
			for i, l := range ls {
				for range i + 1 {
					tk, err := l.Acquire(context.Background())
					require.NoError(t, err)
					tk.Done()
				}
			}
			time.Sleep(time.Minute)
		}
		require.NoError(t, second.Stop())
		require.NoError(t, third.Stop())

		// The first run's file is gone only if it was older than a
		// minute at the second's rotation: it was.
		names := logFileNames(t, dir)
		assert.NotContains(t, names, logName(s0, 1), "older than the retention at the rotation")
		assert.Contains(t, names, logName(s0, 2))
		assert.Contains(t, names, logName(s0, 3))
		assert.Contains(t, names, logName(s0+3600, 1))
		assert.Contains(t, names, logName(s0+3600, 2))
		assert.Len(t, names, 4)
		var perMonitor [2]uint64
		for _, name := range names {
			lf, err := ReadLog(filepath.Join(dir, name))
			require.NoError(t, err)
			n := logSum(lf.Series("a").Issued)
			minutes := uint64(len(lf.Minutes))
			switch {
			case n == minutes:
				perMonitor[0] += n
			case n == 2*minutes:
				perMonitor[1] += n
			default:
				t.Errorf("%s mixes the minutes of two Monitors: %d tickets in %d minutes", name, n, minutes)
			}
		}
		assert.Equal(t, [2]uint64{62, 124}, perMonitor)
	})
}

// Retention never removes a file that a Monitor of the process writes to,
// however long that Monitor has been quiet: only once it has moved on to
// another file, or stopped.
func TestLogRetentionKeepsTheFilesOfRunningMonitors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		quiet := NewMonitor(WithLogDir(dir), WithLogRotation(0))
		tk, err := quiet.DefaultLimiter().Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		quietFile := quiet.LogPath()
		require.FileExists(t, quietFile)
		settleLogTimes(t, dir)

		time.Sleep(8 * time.Minute)
		pruner := NewMonitor(WithLogDir(dir), WithLogRotation(time.Hour), WithLogRetention(time.Minute))
		require.NoError(t, pruner.Start())
		synctest.Wait()
		assert.FileExists(t, quietFile, "in use at the start's check")
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.FileExists(t, quietFile, "in use at the rotation's check")

		require.NoError(t, quiet.Stop())
		settleLogTimes(t, dir)
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.NoFileExists(t, quietFile, "removed at the next rotation once its Monitor stopped")
		require.NoError(t, pruner.Stop())
	})
}

// A file's last minute is read from its last records, however long they
// are, past a torn or corrupt end; a file with no record there has none
// (the zero Time).
func TestLastMinuteOfALogFile(t *testing.T) {
	dir := t.TempDir()
	record := func(start int64, events int) []byte {
		m := MinuteLog{V: LogVersion, Limiter: "a", Start: start, StartTime: time.Unix(start, 0).UTC().Format(rfc3339), RPM: 60}
		for i := range events {
			m.Events = append(m.Events, LogEvent{Second: i % 60, Kind: EventProbe, Detail: "canary request issued"})
		}
		line, err := json.Marshal(m)
		require.NoError(t, err)
		return append(line, '\n')
	}
	var long bytes.Buffer
	for i := range 200 {
		long.Write(record(1_700_000_040+int64(i)*60, 0))
	}
	long.Write(record(1_700_100_000-1_700_100_000%60, 500)) // tens of kilobytes
	var torn bytes.Buffer
	torn.Write(record(1_700_000_040, 0))
	torn.Write(bytes.Repeat([]byte("x"), 20<<10))
	old := time.Unix(1_600_000_000, 0)
	for _, c := range []struct {
		name string
		data []byte
		want time.Time
	}{
		{"long last record", long.Bytes(), time.Unix(1_700_100_000-1_700_100_000%60+60, 0)},
		{"torn end", torn.Bytes(), time.Unix(1_700_000_100, 0)},
		{"no record", []byte("not a log\n"), time.Time{}},
		{"empty", nil, time.Time{}},
	} {
		path := filepath.Join(dir, c.name)
		require.NoError(t, os.WriteFile(path, c.data, 0o644))
		require.NoError(t, os.Chtimes(path, old, old))
		end, open, err := lastMinuteEnd(path)
		require.NoError(t, err, c.name)
		assert.False(t, open, c.name)
		assert.True(t, c.want.Equal(end), "%s: %v, want %v", c.name, end, c.want)
	}
}

// A Monitor that starts within a minute rotates within one too: a minute
// goes to the file of the period it ended in, not of the one it started
// in.
func TestLogRotationPutsAMinuteInTheFileOfThePeriodItEndedIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(30 * time.Second) // the minutes start on the minute, the Monitor does not
		dir := t.TempDir()
		start := time.Now()
		m := NewMonitor(WithLogDir(dir), WithLogRotation(time.Hour))
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
		require.NoError(t, err)
		issueEvery(t, l, 20*time.Second, start.Add(time.Hour+90*time.Second))
		require.NoError(t, m.Stop())

		s0 := start.Unix()
		names := logFileNames(t, dir)
		require.Equal(t, []string{logName(s0, 1), logName(s0+3600, 1)}, names)
		for i, name := range names {
			lf, err := ReadLog(filepath.Join(dir, name))
			require.NoError(t, err)
			from := s0 + int64(i)*3600
			for _, mn := range lf.Minutes[:len(lf.Minutes)-i] { // the last file's last minute was in progress at Stop
				end := mn.Start + 60
				assert.Greater(t, end, from, "%s holds a minute that ended in an earlier period", name)
				assert.LessOrEqual(t, end, from+3600, "%s holds a minute that ended in a later period", name)
			}
		}
		second, err := ReadLog(filepath.Join(dir, names[1]))
		require.NoError(t, err)
		assert.Less(t, second.Minutes[0].Start, s0+3600, "the new file's first minute started in the first period")
	})
}
