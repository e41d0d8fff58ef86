package ratellmiter

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A log folder shared with other data (the working directory, say, where
// data sets are kept as numbered shards 0.jsonl, 1.jsonl, ... or dated
// 20240101.jsonl) loses none of it to retention, however old: a file is
// removed only when its own records date it. A file with no readable
// minute log, empty or not, is not known to be a log, nor to be old.
func TestLogRetentionLeavesFilesThatHoldNoMinuteLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		now := time.Now().Unix()
		old := time.Now().Add(-30 * 24 * time.Hour)
		files := map[string]string{
			"0.jsonl":        `{"prompt": "a", "completion": "b"}` + "\n",
			"1.jsonl":        `{"prompt": "c", "completion": "d"}` + "\n",
			"20240101.jsonl": `{"v": 1, "note": "not a minute"}` + "\n",
			"7.jsonl":        "",
			// A minute log's first line torn by a crash.
			logName(now-20*86400, 1): `{"v":1,"limiter":"a","start":`,
		}
		for name, data := range files {
			path := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
			require.NoError(t, os.Chtimes(path, old, old))
		}
		oldLog := filepath.Join(dir, logName(now-10*86400, 1))
		writeMinutes(t, oldLog, now-10*86400, 3)
		require.NoError(t, os.Chtimes(oldLog, old, old))

		var logs strings.Builder
		m := NewMonitor(WithLogDir(dir), WithLogRetention(24*time.Hour), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, m.Start())
		synctest.Wait()
		for name, data := range files {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if assert.NoError(t, err, "%s was removed", name) {
				assert.Equal(t, data, string(got))
			}
		}
		assert.NoFileExists(t, oldLog, "a log whose records are old goes")
		assert.Equal(t, 1, strings.Count(logs.String(), "removed an old minute log"), logs.String())
		require.NoError(t, m.Stop())
	})
}
