package ratellmiter

import (
	"context"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logFiles runs a limiter of a Monitor made with opts for two minutes and
// returns the files in dir, where RATELLMITER_LOGS points.
func logFiles(t *testing.T, dir string, opts ...MonitorOption) []os.DirEntry {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(opts...)
		l, err := NewBucketRateLimiter(600, WithMonitor(m))
		require.NoError(t, err)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		time.Sleep(2 * time.Minute)
		require.NoError(t, m.Stop())
	})
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	return files
}

func TestTheLogVariableTurnsLogsOnUnlessWithoutLogs(t *testing.T) {
	on := t.TempDir()
	t.Setenv(EnvLogDir, on)
	assert.Len(t, logFiles(t, on), 1, "the variable turns the logs on")

	off := t.TempDir()
	t.Setenv(EnvLogDir, off)
	assert.Empty(t, logFiles(t, off, WithoutLogs()), "WithoutLogs keeps them off")

	other := t.TempDir()
	assert.Empty(t, logFiles(t, off, WithoutLogs(), WithLogDir(other)), "the last option wins")
	files, err := os.ReadDir(other)
	require.NoError(t, err)
	assert.Len(t, files, 1)
}
