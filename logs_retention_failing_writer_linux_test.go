//go:build linux

package ratellmiter

import (
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Monitor whose writes fail for a while (the disk full, a file size
// limit) still writes to its file: retention in another Monitor of the
// process leaves that file alone, however long the failures last, and the
// minutes written before them are still there once the writes succeed
// again, followed by those whose writes failed.
//
// The file size limit of the process is lowered for the run, so the test
// runs itself in a child process.
func TestLogRetentionKeepsTheFileOfAMonitorWhoseWritesFail(t *testing.T) {
	if !inChild(t, "RATELLMITER_RETENTION_FAILING_CHILD") {
		return
	}
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		m, use := loggingLimiter(t, dir)
		use()
		time.Sleep(61 * time.Second) // minute 0 is written
		settleLogTimes(t, dir)
		path := m.LogPath()
		fi, err := os.Stat(path)
		require.NoError(t, err)

		var old syscall.Rlimit
		require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
		low := old
		low.Cur = uint64(fi.Size()) // no room for another minute
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &low))
		for range 5 {
			use()
			time.Sleep(60 * time.Second) // the minute's write fails
		}
		pruner := NewMonitor(WithLogDir(dir), WithLogRetention(time.Minute))
		require.NoError(t, pruner.Start())
		synctest.Wait()
		assert.FileExists(t, path, "the file a Monitor of the process writes to")
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old))
		use()

		assert.ErrorIs(t, m.Stop(), syscall.EFBIG)
		require.NoError(t, pruner.Stop())
		lf, err := ReadLog(path)
		require.NoError(t, err)
		var issued []int
		for _, rec := range lf.Minutes {
			issued = append(issued, int(logSum(rec.Issued[:])))
		}
		assert.Equal(t, []int{1, 1, 1, 1, 1, 1, 1}, issued, "minute 0, the five whose writes failed, and the one of Stop")
	})
}
