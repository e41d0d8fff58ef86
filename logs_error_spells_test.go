package ratellmiter

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each spell of failures to write the minute logs is said through the
// logger, once, and so is its end: a failure that comes back after the
// logs were written again is said again, though Stop returns the first
// error only.
func TestEachSpellOfLogFailuresIsSaidOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	rec := &logRecorder{}
	w := newLogWriter(dir, time.Unix(1_700_000_000, 0), slog.New(rec))
	minute := func(start int64) *MinuteLog {
		return &MinuteLog{V: LogVersion, Limiter: "a", Start: start, RPM: 60}
	}
	block := func() { // a file where the folder must be
		require.NoError(t, os.RemoveAll(dir))
		require.NoError(t, os.WriteFile(dir, []byte("x"), 0o644))
	}
	unblock := func() { require.NoError(t, os.Remove(dir)) }

	block()
	w.write(minute(1_700_000_000))
	w.write(minute(1_700_000_060))
	assert.Len(t, rec.matching("not being written"), 1, "a spell is said once")
	unblock()
	w.write(minute(1_700_000_120))
	assert.Len(t, rec.matching("written again"), 1, "and its end")
	w.write(minute(1_700_000_180))
	assert.Len(t, rec.matching("written again"), 1, "an end is said once")
	block()
	w.write(minute(1_700_000_240))
	assert.Len(t, rec.matching("not being written"), 2, "a second spell is said too")
	unblock()
	err := w.close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "log folder", "close returns the first error")
}
