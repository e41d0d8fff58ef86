//go:build linux

package ratellmiter

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A log folder whose permissions change while the Monitor runs (a
// chmod -R 644 that takes the folder's search bit away, say) hides the
// log file without removing it: the file the Monitor has open is still
// its file, and the minutes go on being written to it.
//
// Permissions mean nothing to root, so the test runs itself in a child
// process, as nobody when run as root.
func TestAFolderThatCannotBeSearchedKeepsItsOpenLog(t *testing.T) {
	if !inChild(t, "RATELLMITER_UNSEARCHABLE_CHILD") {
		return
	}
	if os.Geteuid() == 0 {
		const nobody = 65534
		require.NoError(t, syscall.Setgroups(nil))
		require.NoError(t, syscall.Setgid(nobody))
		require.NoError(t, syscall.Setuid(nobody))
	}
	dir := filepath.Join(t.TempDir(), "logs")
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	synctest.Test(t, func(t *testing.T) {
		m, use := loggingLimiter(t, dir)
		use()
		time.Sleep(61 * time.Second) // minute 0 is written
		require.FileExists(t, m.LogPath())

		require.NoError(t, os.Chmod(dir, 0o644))
		use()
		time.Sleep(60 * time.Second) // minute 1 is written while the folder cannot be searched
		require.NoError(t, os.Chmod(dir, 0o755))
		use()

		require.NoError(t, m.Stop())
		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		var issued []int
		for _, rec := range lf.Minutes {
			issued = append(issued, int(logSum(rec.Issued[:])))
		}
		assert.Equal(t, []int{1, 1, 1}, issued, "tickets issued in the minutes read back")
	})
}
