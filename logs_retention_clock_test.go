package ratellmiter

import (
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The records of a log are dated on its Monitor's time line, which runs
// from the Monitor's start on the monotonic clock: after the machine was
// suspended for days, or after the wall clock was set forward, a Monitor
// that runs on dates its minutes days behind the wall clock. Its file, in
// use in another process and written a second ago, is not old: retention
// keeps a file written to within keep, whatever its records say.
func TestLogRetentionKeepsAFileWrittenRecentlyWhateverItsRecordsSay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		now := time.Now()
		behind := filepath.Join(dir, logName(now.Unix()-3*86400, 1))
		writeMinutes(t, behind, now.Unix()-3*86400, 3) // dated 3 days behind
		recent := now.Add(-time.Second)
		require.NoError(t, os.Chtimes(behind, recent, recent)) // but written a second ago

		old := filepath.Join(dir, logName(now.Unix()-4*86400, 1))
		writeMinutes(t, old, now.Unix()-4*86400, 3)
		long := now.Add(-4 * 86400 * time.Second)
		require.NoError(t, os.Chtimes(old, long, long))

		m := NewMonitor(WithLogDir(dir), WithLogRetention(24*time.Hour))
		require.NoError(t, m.Start())
		synctest.Wait()
		assert.FileExists(t, behind, "written a second ago")
		assert.NoFileExists(t, old, "its records and its last write are 4 days old")
		require.NoError(t, m.Stop())
	})
}

// When the wall clock is set back while a Monitor runs, the Monitor's time
// line (its start plus the monotonic time since) runs ahead of it. The
// files that others write from then on are dated, in their records and
// their modification times, on the wall clock: counted from the Monitor's
// time line, a file written a minute ago would look as old as the clock
// went back. Retention counts keep back from the earlier of the two.
func TestLogRetentionAfterTheWallClockWasSetBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		now := time.Now()
		fresh := filepath.Join(dir, logName(now.Unix()-3600, 1))
		writeMinutes(t, fresh, now.Unix()-3600, 59) // its last minute ended a minute ago
		old := filepath.Join(dir, logName(now.Unix()-4*86400, 1))
		writeMinutes(t, old, now.Unix()-4*86400, 3)

		m := NewMonitor(WithLogDir(dir), WithLogRotation(time.Hour), WithLogRetention(24*time.Hour))
		require.NoError(t, m.Start())
		synctest.Wait()
		require.FileExists(t, fresh)
		require.NoFileExists(t, old)

		// The Monitor's time line is two days ahead of the wall clock,
		// which was set back: the check of a rotation now.
		old = filepath.Join(dir, logName(now.Unix()-5*86400, 1))
		writeMinutes(t, old, now.Unix()-5*86400, 3)
		m.removeOldLogs(time.Now().Add(48 * time.Hour))
		assert.FileExists(t, fresh, "written a minute ago on the wall clock")
		assert.NoFileExists(t, old)
		require.NoError(t, m.Stop())
	})
}
