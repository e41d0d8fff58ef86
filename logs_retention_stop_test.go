package ratellmiter

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A check of old logs ends at the next file once its Monitor stops, so
// that Stop never waits for it to go through a large folder (years of
// hourly rotation of a few Monitors); the Monitor's next start goes on
// with it.
func TestRetentionEndsAtTheNextFileOnceTheMonitorStops(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	const files = 50
	old := now.Add(-30 * 24 * time.Hour)
	for i := range files {
		start := old.Unix() - int64(i)*3600
		start -= start % 60
		line, err := json.Marshal(MinuteLog{V: LogVersion, Limiter: "a", Start: start, StartTime: time.Unix(start, 0).UTC().Format(rfc3339), RPM: 60})
		require.NoError(t, err)
		path := filepath.Join(dir, logName(start, 1))
		require.NoError(t, os.WriteFile(path, append(line, '\n'), 0o644))
		require.NoError(t, os.Chtimes(path, old, old))
	}
	count := func() int {
		left, err := os.ReadDir(dir)
		require.NoError(t, err)
		return len(left)
	}
	logger := slog.New(slog.DiscardHandler)

	stopped := make(chan struct{})
	close(stopped)
	removeOldLogs(dir, now.Add(-24*time.Hour), "", logger, stopped)
	assert.Equal(t, files, count(), "a check of a stopped Monitor removes nothing more")

	removeOldLogs(dir, now.Add(-24*time.Hour), "", logger, make(chan struct{}))
	assert.Zero(t, count(), "the next check removes every old log")
}
