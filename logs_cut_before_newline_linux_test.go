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

// A write cut short just before the newline of its record (the disk full
// at that byte) leaves the whole record in the file: the next line ends
// it, and the record is not written again, so the minute is read once.
//
// The file size limit of the process is lowered for the run, so the test
// runs itself in a child process.
func TestAMinuteCutJustBeforeItsNewlineIsReadOnce(t *testing.T) {
	if !inChild(t, "RATELLMITER_CUT_NEWLINE_CHILD") {
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
		// Minute 1's line is as long as minute 0's, the whole file: room
		// for all of it but its newline.
		low.Cur = uint64(2*fi.Size() - 1)
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &low))
		use()
		time.Sleep(60 * time.Second) // minute 1 is cut before its newline
		fi1, err := os.Stat(m.LogPath())
		require.NoError(t, err)
		require.Equal(t, 2*fi.Size()-1, fi1.Size(), "minute 1's line but its newline")
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old))
		use()
		use()
		time.Sleep(60 * time.Second) // minute 2 is written

		assert.ErrorIs(t, m.Stop(), syscall.EFBIG, "Stop reports the failed write")
		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		assert.Zero(t, lf.Skipped, "lines skipped")
		var issued []int
		for _, rec := range lf.Minutes {
			issued = append(issued, int(logSum(rec.Issued[:])))
		}
		assert.Equal(t, []int{1, 1, 2}, issued, "tickets issued in the minutes read back, each minute once")
	})
}
