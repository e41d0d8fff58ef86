package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
)

// A limiter named with bytes that are not UTF-8 is logged under its name
// made valid (each run of bad bytes a U+FFFD); -name given the same bytes
// finds it, as the name the program gave.
func TestGraphFindsALimiterNamedWithBytesThatAreNotUTF8(t *testing.T) {
	const name = "caf\xe9-model"
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		m := ratellmiter.NewMonitor(ratellmiter.WithLogDir(dir))
		l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(m), ratellmiter.WithName(name))
		require.NoError(t, err)
		for range 5 {
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			tk.Done()
		}
		time.Sleep(time.Minute)
		require.NoError(t, m.Stop())
	})
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	log, err := os.ReadFile(files[0])
	require.NoError(t, err)
	require.True(t, strings.Contains(string(log), "caf\uFFFD-model"), "the log holds the name made valid")

	path := mustGraph(t, nil, "-dir", dir, "-name", name)
	assert.FileExists(t, path)
}
