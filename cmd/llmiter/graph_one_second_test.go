package main

import (
	"encoding/json"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"github.com/ratellmiter/ratellmiter"
)

// plotHasColor reports whether some pixel of img left of the legend's
// column (the right quarter) is exactly c.
func plotHasColor(img image.Image, c color.Color) bool {
	wr, wg, wb, _ := c.RGBA()
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Min.X+b.Dx()*3/4; x++ {
			if r, g, bl, _ := img.At(x, y).RGBA(); r == wr && g == wg && bl == wb {
				return true
			}
		}
	}
	return false
}

// A run that made its calls within one second (a script that made one
// call) is drawn with its lines: a line of one point shows nothing.
func TestGraphDrawsALogWhoseActivityFitsInOneSecond(t *testing.T) {
	dir := t.TempDir()
	rec := ratellmiter.MinuteLog{V: ratellmiter.LogVersion, Limiter: "a", Start: 1_700_000_040, RPM: 600}
	rec.Requested[12], rec.Issued[12], rec.Finished[12] = 3, 3, 3
	line, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "1700000000.jsonl"), append(line, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, lines := range []string{"r", "i", "f"} {
		m, _ := metricOf(lines[0])
		img := decodePNG(t, mustGraph(t, nil, "-dir", dir, "-lines", lines, "-out", dir))
		if !plotHasColor(img, m.color) {
			t.Errorf("-lines %s: no %s line on the chart", lines, m.label)
		}
	}
}
