package ratellmiter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Retention in a folder of many files (20,000 old logs: years of hourly
// rotation of a few Monitors) takes seconds. Stop does not wait for the
// check to go through them: it stops at the next file, and the Monitor's
// next start goes on with it.
//
// This test runs on the real clock, as it measures file system work; the
// bound leaves the check many times the time one file takes.
func TestStopDoesNotWaitForRetentionOfAFolderOfManyFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 20,000 files")
	}
	dir := t.TempDir()
	now := time.Now().Unix()
	const files = 20_000
	old := time.Now().Add(-30 * 24 * time.Hour)
	for i := range files {
		start := now - 30*86400 - int64(i)*3600
		start -= start % 60
		line, err := json.Marshal(MinuteLog{V: LogVersion, Limiter: "a", Start: start, StartTime: time.Unix(start, 0).UTC().Format(rfc3339), RPM: 60})
		require.NoError(t, err)
		path := filepath.Join(dir, logName(start, 1))
		require.NoError(t, os.WriteFile(path, append(line, '\n'), 0o644))
		require.NoError(t, os.Chtimes(path, old, old))
	}

	m := NewMonitor(WithLogDir(dir), WithLogRetention(24*time.Hour))
	require.NoError(t, m.Start())
	began := time.Now()
	require.NoError(t, m.Stop())
	took := time.Since(began)
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	t.Logf("Stop took %v; %d of %d old files left", took, len(left), files)
	assert.Less(t, took, 500*time.Millisecond, "Stop waited for the check of the whole folder")

	// The next start's check removes them all.
	m = NewMonitor(WithLogDir(dir), WithLogRetention(24*time.Hour))
	require.NoError(t, m.Start())
	require.Eventually(t, func() bool {
		left, err := os.ReadDir(dir)
		return err == nil && len(left) == 0
	}, time.Minute, 10*time.Millisecond)
	require.NoError(t, m.Stop())
}
