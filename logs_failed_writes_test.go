package ratellmiter

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blockedLogFolder makes dir a symbolic link to a folder, and returns
// functions that make it, at once, a link to a file, where no log can be
// written, and back to that folder, with the files it holds.
func blockedLogFolder(t *testing.T, dir string) (block, unblock func()) {
	folder, file := dir+".folder", dir+".file"
	require.NoError(t, os.Mkdir(folder, 0o755))
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	point := func(target string) {
		link := dir + ".link"
		if err := os.Symlink(filepath.Base(target), link); err != nil {
			t.Skip("no symbolic links:", err)
		}
		require.NoError(t, os.Rename(link, dir))
	}
	point(folder)
	return func() { point(file) }, func() { point(folder) }
}

// blockableLogs starts, half a minute into a synctest bubble, a Monitor
// that logs to a folder which block makes unwritable and unblock writable
// again (see blockedLogFolder), with a logger that records what it says.
func blockableLogs(t *testing.T, opts ...MonitorOption) (m *Monitor, dir string, block, unblock func(), rec *logRecorder) {
	t.Helper()
	time.Sleep(30 * time.Second) // the Monitor starts within a minute
	dir = filepath.Join(t.TempDir(), "logs")
	block, unblock = blockedLogFolder(t, dir)
	rec = &logRecorder{}
	m = NewMonitor(append([]MonitorOption{WithLogDir(dir), WithLogger(slog.New(rec))}, opts...)...)
	return m, dir, block, unblock, rec
}

// minuteStarts returns the minutes of the log files of dir, file by file
// (oldest first), in the order they were read.
func minuteStarts(t *testing.T, dir string) (starts []int64, issued []int) {
	t.Helper()
	for _, name := range logFileNames(t, dir) {
		lf, err := ReadLog(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Zero(t, lf.Skipped, name)
		for _, mn := range lf.Minutes {
			starts = append(starts, mn.Start)
			issued = append(issued, int(logSum(mn.Issued[:])))
		}
	}
	return starts, issued
}

// The minutes whose write failed (the folder could not be created for
// ten minutes) are written, in order and once each, as soon as writing
// works again: the log has no hole where the writes failed.
func TestMinutesWhoseWriteFailedAreWrittenOnceWritingWorksAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, dir, block, unblock, rec := blockableLogs(t)
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
		require.NoError(t, err)
		use := func(n int) {
			for range n {
				tk, err := l.Acquire(context.Background())
				require.NoError(t, err)
				tk.Done()
			}
		}
		first := time.Now().Unix() / 60 * 60
		use(1)
		time.Sleep(time.Minute) // minute 0 is written
		require.FileExists(t, m.LogPath())
		block()
		for i := range 10 {
			use(2 + i)
			time.Sleep(time.Minute) // the minute's write fails
		}
		assert.Len(t, rec.matching("not being written"), 1)
		unblock()
		use(20)
		time.Sleep(time.Minute)
		use(21)
		err = m.Stop()
		require.Error(t, err, "Stop returns the first error met")

		starts, issued := minuteStarts(t, dir)
		var wantStarts []int64
		wantIssued := []int{1}
		for i := range 13 {
			wantStarts = append(wantStarts, first+int64(i)*60)
		}
		for i := range 10 {
			wantIssued = append(wantIssued, 2+i)
		}
		wantIssued = append(wantIssued, 20, 21)
		assert.Equal(t, wantStarts, starts, "every minute, once, in order")
		assert.Equal(t, wantIssued, issued, "tickets issued in the minutes read back")
		assert.Len(t, rec.matching("written again"), 1)
		assert.Empty(t, rec.matching("dropped"), "nothing was dropped")
	})
}

// The minutes held while writes fail are bounded: the last hour's are
// kept, older ones dropped, and the drop is said once through the logger,
// with how many.
func TestMinutesHeldWhileWritesFailAreBoundedToAnHour(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, dir, block, unblock, rec := blockableLogs(t, WithLogRotation(0))
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
		require.NoError(t, err)
		use := func() {
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			tk.Done()
		}
		first := time.Now().Unix() / 60 * 60
		use()
		time.Sleep(time.Minute) // minute 0 is written
		block()
		for range 90 { // minutes 1 to 90 fail
			use()
			time.Sleep(time.Minute)
		}
		unblock()
		use()
		time.Sleep(time.Minute) // minute 91, after those held
		require.Error(t, m.Stop())

		starts, _ := minuteStarts(t, dir)
		want := []int64{first}
		for i := 31; i <= 91; i++ {
			want = append(want, first+int64(i)*60)
		}
		assert.Equal(t, want, starts, "minute 0, the last hour of those that failed, and minute 91")
		dropped := rec.matching("dropped")
		if assert.Len(t, dropped, 1, "the drop is said once") {
			assert.Contains(t, dropped[0], "records=30")
		}
	})
}

// A spell of failures across a rotation puts the minutes held into the
// file in use once writing works again: each minute is in exactly one
// file, and none is lost.
func TestMinutesHeldAcrossARotationLandInOneFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "logs")
		block, unblock := blockedLogFolder(t, dir)
		start := time.Now()
		m := NewMonitor(WithLogDir(dir), WithLogRotation(time.Hour))
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
		require.NoError(t, err)
		n := 0
		for i := range 80 {
			switch i {
			case 50:
				block()
			case 70:
				unblock()
			}
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			tk.Done()
			n++
			time.Sleep(time.Minute)
		}
		require.Error(t, m.Stop())

		s0 := start.Unix()
		assert.Equal(t, []string{logName(s0, 1), logName(s0+3600, 1)}, logFileNames(t, dir))
		starts, issued := minuteStarts(t, dir)
		var want []int64
		for i := range 80 {
			want = append(want, s0+int64(i)*60)
		}
		assert.Equal(t, want, starts, "every minute, once, in order")
		total := 0
		for _, k := range issued {
			total += k
		}
		assert.Equal(t, n, total)
	})
}

// Records still held at Stop are tried once more there; those that still
// cannot be written are said through the logger, and Stop returns the
// first error met.
func TestStopTriesTheHeldMinutesOnceMore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	block, unblock := blockedLogFolder(t, dir)
	rec := &logRecorder{}
	w := newLogWriter(dir, time.Unix(1_700_000_000, 0), slog.New(rec))
	minute := func(start int64) *MinuteLog {
		return &MinuteLog{V: LogVersion, Limiter: "a", Start: start, RPM: 60}
	}
	block()
	w.writeAll([]*MinuteLog{minute(1_700_000_040)})
	w.writeAll([]*MinuteLog{minute(1_700_000_100)})
	w.writeAll(nil)
	unblock()
	w.writeAll(nil) // Stop's last try
	require.Error(t, w.close())
	lf, err := ReadLog(w.path())
	require.NoError(t, err)
	require.Len(t, lf.Minutes, 2)
	assert.Equal(t, int64(1_700_000_040), lf.Minutes[0].Start)
	assert.Equal(t, int64(1_700_000_100), lf.Minutes[1].Start)

	w = newLogWriter(dir, time.Unix(1_700_000_200, 0), slog.New(rec))
	block()
	w.writeAll([]*MinuteLog{minute(1_700_000_220)})
	require.Error(t, w.close())
	assert.Len(t, rec.matching("ERROR", "unwritten", "records=1"), 1, "what Stop could not write is said")
	unblock()
}

// The minutes held are bounded in records too, whatever the number of
// limiters: 250 busy limiters held for 41 minutes make 10,250 records,
// and the oldest 250 beyond the 10,000 kept are dropped, and said so.
func TestMinutesHeldWhileWritesFailAreBoundedInRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, dir, block, unblock, rec := blockableLogs(t, WithLogRotation(0))
		const limiters, minutes = 250, 41
		ls := make([]*BucketRateLimiter, limiters)
		for i := range ls {
			l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName(fmt.Sprint("l", i)))
			require.NoError(t, err)
			ls[i] = l
		}
		use := func() {
			for _, l := range ls {
				tk, err := l.Acquire(context.Background())
				require.NoError(t, err)
				tk.Done()
			}
		}
		first := time.Now().Unix() / 60 * 60
		block()
		for range minutes { // minutes 0 to 40 fail
			use()
			time.Sleep(time.Minute)
		}
		unblock()
		time.Sleep(time.Minute) // the records held are written
		require.Error(t, m.Stop())

		starts, _ := minuteStarts(t, dir)
		require.Equal(t, heldLogRecords, len(starts), "records written")
		assert.Equal(t, first+60, starts[0], "minute 0 was dropped")
		assert.Equal(t, first+(minutes-1)*60, starts[len(starts)-1])
		dropped := rec.matching("dropped")
		if assert.Len(t, dropped, 1, "the drop is said once") {
			assert.Contains(t, dropped[0], fmt.Sprint("records=", limiters))
		}
	})
}
