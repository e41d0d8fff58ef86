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

// A write cut short (the disk full, a file size limit) leaves part of a
// minute in the file, without its newline. The minutes written once there
// is room again are whole lines of their own, the cut minute first: the
// part left behind is skipped by the reader, and no minute is lost.
//
// The file size limit of the process is lowered for the run, so the test
// runs itself in a child process.
func TestAMinuteCutShortIsWrittenAgainWhole(t *testing.T) {
	if !inChild(t, "RATELLMITER_SHORTWRITE_CHILD") {
		return
	}
	synctest.Test(t, func(t *testing.T) {
		m, use := loggingLimiter(t, t.TempDir())
		use()
		time.Sleep(61 * time.Second) // minute 0 is written
		fi, err := os.Stat(m.LogPath())
		require.NoError(t, err)

		var old syscall.Rlimit
		require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
		low := old
		low.Cur = uint64(fi.Size()) + 100 // room for part of a minute
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &low))
		use()
		time.Sleep(60 * time.Second) // minute 1 is cut short
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old))
		use()
		use()
		time.Sleep(60 * time.Second) // minute 1, then minute 2, are written

		err = m.Stop()
		assert.ErrorIs(t, err, syscall.EFBIG, "Stop reports the failed write")
		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		assert.Equal(t, 1, lf.Skipped, "lines skipped")
		var issued []int
		for _, rec := range lf.Minutes {
			issued = append(issued, int(logSum(rec.Issued[:])))
		}
		assert.Equal(t, []int{1, 1, 2}, issued, "tickets issued in the minutes read back")
	})
}
