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
		assert.Equal(t, filepath.Join(dir, fmt.Sprintf("%d-2.jsonl", time.Now().Unix())), m.LogPath())
		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		assert.Equal(t, uint64(1), logSum(lf.Series("default").Issued))
	})
}

// Monitors started faster than one a second, for longer than the names of
// one second could hold if each took the next second's, all get a file
// named after the second they started in, and LatestLog finds the last.
func TestManyMonitorsASecondNeverRunOutOfLogNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		var last string
		for i := range 2400 { // three a second for 800 s
			start := time.Now().Unix()
			m := NewMonitor(WithLogDir(dir))
			tk, err := m.DefaultLimiter().Acquire(context.Background())
			require.NoError(t, err)
			tk.Done()
			require.NoError(t, m.Stop(), "Monitor %d", i)
			sec, k, ok := parseLogName(filepath.Base(m.LogPath()))
			require.True(t, ok, m.LogPath())
			require.Equal(t, start, sec, "Monitor %d: named after its start", i)
			require.Equal(t, i%3+1, k, "Monitor %d", i)
			last = m.LogPath()
			if i%3 == 2 {
				time.Sleep(time.Second - time.Duration(time.Now().UnixNano()%int64(time.Second)))
			}
		}
		got, err := LatestLog(dir)
		require.NoError(t, err)
		assert.Equal(t, last, got)
	})
}

func TestLogNames(t *testing.T) {
	for _, c := range []struct {
		name string
		sec  int64
		k    int
		ok   bool
	}{
		{"1700000000.jsonl", 1700000000, 1, true},
		{"1700000000-2.jsonl", 1700000000, 2, true},
		{"1700000000-15.jsonl", 1700000000, 15, true},
		{"0.jsonl", 0, 1, true},
		{"1700000000-1.jsonl", 0, 0, false},
		{"1700000000-02.jsonl", 0, 0, false},
		{"1700000000-.jsonl", 0, 0, false},
		{"-5.jsonl", 0, 0, false},
		{"+5.jsonl", 0, 0, false},
		{"17x.jsonl", 0, 0, false},
		{"1700000000.json", 0, 0, false},
		{"1700000000-2-3.jsonl", 0, 0, false},
	} {
		sec, k, ok := parseLogName(c.name)
		assert.Equal(t, c.ok, ok, c.name)
		if c.ok {
			assert.Equal(t, c.sec, sec, c.name)
			assert.Equal(t, c.k, k, c.name)
			assert.Equal(t, c.name, logName(sec, k), "logName gives the name back")
		}
	}
}
