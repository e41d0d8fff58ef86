package sim

import (
	"flag"
	"image"
	_ "image/png" // registers the format with image.DecodeConfig
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chartPath is where TestOursAgainstPeers writes the comparison chart, if
// set. Relative paths are relative to this package's folder.
var chartPath = flag.String("chart", "", "write the comparison chart to this PNG")

func TestWriteChart(t *testing.T) {
	var results []Result
	for i, s := range []string{"backlog", "outage", "custom"} {
		for j, c := range []string{"naive", "x/time/rate", OursName} {
			r := Result{
				Scenario:    s,
				Client:      c,
				PhysicalMin: 10 * time.Second,
				Ratio:       1 + float64(i+2*j)*1.7,
				Requests:    100,
				Completed:   100,
			}
			r.Completion = time.Duration(r.Ratio * float64(r.PhysicalMin))
			if c == "naive" {
				r.RateLimited, r.Failed, r.Completed = 250, 3, 97
			}
			results = append(results, r)
		}
	}
	path := filepath.Join(t.TempDir(), "chart.png")
	if err := WriteChart(path, results); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		t.Fatalf("chart is not an image: %v", err)
	}
	if format != "png" || cfg.Width != ChartWidth || cfg.Height != ChartHeight {
		t.Errorf("chart is a %s of %d×%d, want a png of %d×%d", format, cfg.Width, cfg.Height, ChartWidth, ChartHeight)
	}
}

func TestWriteChartErrors(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		results []Result
		want    string
	}{
		"no results":     {nil, "no results"},
		"zero ratio":     {[]Result{{Scenario: "backlog", Client: "naive"}}, "ratio 0 is not a positive number"},
		"negative ratio": {[]Result{{Scenario: "backlog", Client: "naive", Ratio: -1}}, "ratio -1 is not a positive number"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".png")
		err := WriteChart(path, tc.results)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, tc.want)
		}
		if _, statErr := os.Stat(path); statErr == nil {
			t.Errorf("%s: file written despite the error", name)
		}
	}
}
