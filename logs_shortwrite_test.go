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
		lf, issued, _ := logsWithAMinuteCut(t, func(size int64) int64 {
			return size + 100 // room for part of a minute
		})
		assert.Equal(t, 1, lf.Skipped, "lines skipped")
		assert.Equal(t, []int{1, 1, 2}, issued, "tickets issued in the minutes read back")
	})
}

// logsWithAMinuteCut logs minute 0 (one ticket), then minute 1 (one
// ticket) with the file size limit of the process lowered to room(the size
// of the file holding minute 0), then minute 2 (two tickets) with the
// limit restored, and stops the Monitor, which must report the failed
// write. It returns the log read back, the tickets issued in each of its
// minutes, and the size of the file once minute 1 was cut. Run it in a
// synctest bubble of a child process (see inChild).
func logsWithAMinuteCut(t *testing.T, room func(size int64) int64) (lf *LogFile, issued []int, cutSize int64) {
	t.Helper()
	m, use := loggingLimiter(t, t.TempDir())
	use()
	time.Sleep(61 * time.Second) // minute 0 is written
	fi, err := os.Stat(m.LogPath())
	require.NoError(t, err)

	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
	low := old
	low.Cur = uint64(room(fi.Size()))
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &low))
	use()
	time.Sleep(60 * time.Second) // minute 1 is cut short
	cut, err := os.Stat(m.LogPath())
	require.NoError(t, err)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old))
	use()
	use()
	time.Sleep(60 * time.Second) // minute 1, then minute 2, are written

	assert.ErrorIs(t, m.Stop(), syscall.EFBIG, "Stop reports the failed write")
	lf, err = ReadLog(m.LogPath())
	require.NoError(t, err)
	for _, rec := range lf.Minutes {
		issued = append(issued, int(logSum(rec.Issued[:])))
	}
	return lf, issued, cut.Size()
}
