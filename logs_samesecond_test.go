package ratellmiter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Monitors that log to the same folder and start within the same second
// (several Monitors of one program, all taking RATELLMITER_LOGS) write
// one file each: a file holds the minutes of one Monitor run, so that
// limiters of the same name on two Monitors are not added up.
func TestMonitorsStartedInTheSameSecondWriteTheirOwnFiles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		var ms []*Monitor
		for n := range 3 {
			m := NewMonitor(WithLogDir(dir))
			l := m.DefaultLimiter()
			require.NotNil(t, l)
			for range n + 1 {
				tk, err := l.Acquire(context.Background())
				require.NoError(t, err)
				tk.Done()
			}
			ms = append(ms, m)
		}
		time.Sleep(time.Second)
		paths := map[string]bool{}
		for n, m := range ms {
			require.NoError(t, m.Stop())
			path := m.LogPath()
			assert.False(t, paths[path], "%s is the log of two Monitors", path)
			paths[path] = true
			lf, err := ReadLog(path)
			require.NoError(t, err)
			s := lf.Series("default")
			assert.Equal(t, uint64(n+1), logSum(s.Issued), "tickets issued in %s", path)
		}
	})
}

// A program restarted within the second its last run started leaves that
// run's file alone.
func TestALogFileOfAnEarlierRunIsLeftAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		earlier := filepath.Join(dir, fmt.Sprintf("%d.jsonl", time.Now().Unix()))
		require.NoError(t, os.WriteFile(earlier, []byte("{}\n"), 0o644))
		m := NewMonitor(WithLogDir(dir))
		tk, err := m.DefaultLimiter().Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		require.NoError(t, m.Stop())

		got, err := os.ReadFile(earlier)
		require.NoError(t, err)
		assert.Equal(t, "{}\n", string(got), "the earlier run's file is unchanged")
		assert.Equal(t, filepath.Join(dir, fmt.Sprintf("%d.jsonl", time.Now().Unix()+1)), m.LogPath())
		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		assert.Equal(t, uint64(1), logSum(lf.Series("default").Issued))
	})
}
