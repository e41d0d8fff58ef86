package main

import (
	"path/filepath"
	"testing"
	"time"
)

// TestDemoChartDrawsARunThatFitsInOneSecond draws the chart of a run whose
// requests were all sent, accepted and finished within one wall-clock
// second, as a small -requests makes: its lines are drawn, where a line
// through one point drew nothing, an empty chart.
func TestDemoChartDrawsARunThatFitsInOneSecond(t *testing.T) {
	o := &demoOptions{requests: 6, workers: 6, rpm: 120, limiterRPM: 120}
	// Distinct counts, so that no line hides another.
	r := &demoResult{client: "naive", total: 6, completed: 2, wall: 700 * time.Millisecond,
		startAt: 200 * time.Millisecond, seconds: []demoSecond{{sent: 9, accepted: 2, refused: 7, finished: 1}}}
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "demo-naive.png")}
	if err := writeDemoCharts(o, []*demoResult{r}, paths); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, paths[0])
	for _, l := range demoLines[1:] {
		if !plotHasColor(img, l.color) {
			t.Errorf("no %s line on the chart", l.label)
		}
	}
}
