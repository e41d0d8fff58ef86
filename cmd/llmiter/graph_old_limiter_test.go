package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
)

// A chart covers the last day of its log (ratellmiter.MaxSeriesSpan). A
// limiter whose minutes all came before that day has nothing in it: graph
// says so rather than write a day of zeros as its chart.
func TestGraphALimiterSeenOnlyBeforeTheLastDay(t *testing.T) {
	dir := t.TempDir()
	var log []byte
	for _, rec := range []ratellmiter.MinuteLog{
		{V: ratellmiter.LogVersion, Limiter: "old", Start: 1_700_000_040, RPM: 600},
		{V: ratellmiter.LogVersion, Limiter: "new", Start: 1_700_000_040 + 2*86400, RPM: 600},
	} {
		for i := range 20 {
			rec.Requested[i], rec.Issued[i] = 5, 5
		}
		line, err := json.Marshal(rec)
		require.NoError(t, err)
		log = append(append(log, line...), '\n')
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "1700000000.jsonl"), log, 0o644))

	stdout, stderr, code := llmiter(t, nil, "-dir", dir, "-name", "old")
	assert.Equal(t, 1, code, "stdout %q, stderr %q", stdout, stderr)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, `limiter "old" has no minute in the last day`)
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "stderr %q: one line", stderr)

	// The limiter of the last day is drawn.
	assert.Equal(t, filepath.Join(dir, "1700000000-new-ri.png"), mustGraph(t, nil, "-dir", dir, "-name", "new"))
}

// -compare draws the limiters of the last day only: one seen only before
// it is left out, with a warning that names it, rather than drawn as a
// flat line of zeros across the chart.
func TestGraphCompareLeavesOutALimiterSeenOnlyBeforeTheLastDay(t *testing.T) {
	dir := t.TempDir()
	var log []byte
	for _, rec := range []ratellmiter.MinuteLog{
		{V: ratellmiter.LogVersion, Limiter: "gone-limiter", Start: 1_700_000_040, RPM: 600},
		{V: ratellmiter.LogVersion, Limiter: "kept-limiter", Start: 1_700_000_040, RPM: 600},
		{V: ratellmiter.LogVersion, Limiter: "kept-limiter", Start: 1_700_000_040 + 2*86400, RPM: 600},
		{V: ratellmiter.LogVersion, Limiter: "new-limiter", Start: 1_700_000_040 + 2*86400, RPM: 300},
	} {
		for i := range 20 {
			rec.Finished[i] = 5
		}
		line, err := json.Marshal(rec)
		require.NoError(t, err)
		log = append(append(log, line...), '\n')
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "1700000000.jsonl"), log, 0o644))

	stdout, stderr, code := llmiter(t, nil, "-dir", dir, "-compare", "-format", "svg")
	require.Equal(t, 0, code, "stderr %q", stderr)
	assert.Equal(t, filepath.Join(dir, "1700000000-all-f.svg")+"\n", stdout)
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "stderr %q: one line", stderr)
	assert.Contains(t, stderr, "warning")
	assert.Contains(t, stderr, "gone-limiter")
	assert.NotContains(t, stderr, "kept-limiter")

	svg, err := os.ReadFile(filepath.Join(dir, "1700000000-all-f.svg"))
	require.NoError(t, err)
	for name, want := range map[string]bool{"gone-limiter": false, "kept-limiter": true, "new-limiter": true} {
		assert.Equal(t, want, strings.Contains(string(svg), name), "chart names %s", name)
	}
}
