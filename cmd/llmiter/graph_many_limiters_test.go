package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
)

// writeLimitersLog writes a log of one minute of each of the limiters
// named, each with a pause, and returns its folder.
func writeLimitersLog(t *testing.T, names []string) string {
	t.Helper()
	dir := t.TempDir()
	var log []byte
	for k, name := range names {
		rec := ratellmiter.MinuteLog{V: ratellmiter.LogVersion, Limiter: name, Start: 1_700_000_040, RPM: 60 * (k + 2)}
		for i := range 60 {
			rec.Requested[i], rec.Issued[i], rec.Finished[i] = k+1, k+1, (k+i)%(k+2)
			rec.Paused[i] = 10 <= i && i < 20
		}
		line, err := json.Marshal(rec)
		require.NoError(t, err)
		log = append(append(log, line...), '\n')
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "1700000000.jsonl"), log, 0o644))
	return dir
}

// svgText is a text of an SVG chart: where it starts, in points from the
// left and (negative) from the bottom, and what it says.
type svgText struct {
	x, y float64
	text string
}

var svgTextRE = regexp.MustCompile(`<text x="([-0-9.e]+)" y="([-0-9.e]+)"[^>]*>([^<]*)</text>`)

func svgTexts(t *testing.T, path string) []svgText {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var texts []svgText
	for _, m := range svgTextRE.FindAllStringSubmatch(string(data), -1) {
		x, err := strconv.ParseFloat(m[1], 64)
		require.NoError(t, err)
		y, err := strconv.ParseFloat(m[2], 64)
		require.NoError(t, err)
		texts = append(texts, svgText{x, y, m[3]})
	}
	return texts
}

// A comparison of more limiters than the palette has colors draws each
// in a style of its own, and its legend names every limiter inside the
// chart.
func TestGraphCompareManyLimiters(t *testing.T) {
	var names []string
	for i := range 15 {
		names = append(names, fmt.Sprintf("provider-%02d/model-%02d", i, i))
	}
	dir := writeLimitersLog(t, names)
	path := mustGraph(t, nil, "-dir", dir, "-compare", "-format", "svg")

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	// The limiters' lines, and their thumbnails in the legend.
	styles := map[string]bool{}
	for _, m := range regexp.MustCompile(`style="(fill:none;stroke:#[0-9A-F]{6};stroke-width:1.4[^"]*)"`).FindAllStringSubmatch(string(data), -1) {
		styles[m[1]] = true
	}
	assert.Len(t, styles, len(names), "styles of the limiters' lines: %q", styles)

	// The chart is 900 x 450 points; a text's y runs from -450 at the top
	// to 0 at the bottom.
	for _, name := range names {
		found := false
		for _, tx := range svgTexts(t, path) {
			if strings.HasPrefix(tx.text, name) {
				found = true
				assert.True(t, tx.y > -450 && tx.y < 0 && tx.x > 0 && tx.x < 900,
					"legend entry %q drawn at (%v, %v), outside the chart", tx.text, tx.x, tx.y)
			}
		}
		assert.True(t, found, "no legend entry for %s", name)
	}
}

// The title of the chart of a limiter with a long name is set small
// enough to fit rather than cut off at both ends.
func TestGraphTitleOfALongName(t *testing.T) {
	name := "anthropic/claude-3-5-sonnet-20241022-" + strings.Repeat("deployment-", 6)
	dir := writeLimitersLog(t, []string{name})
	path := mustGraph(t, nil, "-dir", dir, "-name", name, "-format", "svg")
	for _, tx := range svgTexts(t, path) {
		if strings.HasPrefix(tx.text, name) {
			assert.GreaterOrEqual(t, tx.x, 0.0, "title %q starts left of the chart", tx.text)
			return
		}
	}
	t.Fatalf("no title in %s", path)
}
