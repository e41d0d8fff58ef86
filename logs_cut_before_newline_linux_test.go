//go:build linux

package ratellmiter

import (
	"testing"
	"testing/synctest"

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
		var first int64
		lf, issued, cut := logsWithAMinuteCut(t, func(size int64) int64 {
			// Minute 1's line is as long as minute 0's, the whole file:
			// room for all of it but its newline.
			first = size
			return 2*size - 1
		})
		require.Equal(t, 2*first-1, cut, "minute 1's line but its newline")
		assert.Zero(t, lf.Skipped, "lines skipped")
		assert.Equal(t, []int{1, 1, 2}, issued, "tickets issued in the minutes read back, each minute once")
	})
}
