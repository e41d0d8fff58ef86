package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
)

// A log whose counts are near the largest integer (a corrupt or forged
// file) is drawn like any other: graph neither hangs nor fails, and the
// chart is a chart.
func TestGraphDrawsALogWithHugeCounts(t *testing.T) {
	dir := t.TempDir()
	rec := ratellmiter.MinuteLog{V: ratellmiter.LogVersion, Limiter: "default", Start: 1_700_000_040, RPM: 600}
	for i := range 20 {
		rec.Requested[i] = 10
		rec.Issued[i] = 10
	}
	rec.Requested[7] = 9_000_000_000_000_000_000
	line, err := json.Marshal(rec)
	require.NoError(t, err)
	log := filepath.Join(dir, "1700000000.jsonl")
	require.NoError(t, os.WriteFile(log, append(line, '\n'), 0o644))

	// A guard against a hang, not a measure of speed: a chart takes well
	// under a second.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-file", log, "-out", dir)
	cmd.Env = append(os.Environ(), "RATELLMITER_LOGS=")
	out, err := cmd.Output()
	require.NoError(t, ctx.Err(), "llmiter did not finish")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "1700000000-default-ri.png")+"\n", string(out))
	checkPNG(t, filepath.Join(dir, "1700000000-default-ri.png"), 1200, 600)
}
