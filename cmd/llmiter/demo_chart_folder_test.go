package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoReportsAChartPathTakenByAFolderBeforeItsRuns gives demo an output
// folder in which a folder has the name of a chart: it fails at once,
// naming it, rather than after the runs have taken their time.
func TestDemoReportsAChartPathTakenByAFolderBeforeItsRuns(t *testing.T) {
	out := t.TempDir()
	chart := filepath.Join(out, "demo-ratellmiter.png")
	if err := os.Mkdir(chart, 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := demo([]string{"-clients", "ratellmiter", "-requests", "5", "-quiet", "-out", out}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if want := "llmiter demo: -out: " + chart + ": it is a folder\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	if strings.Contains(stdout.String(), "completed in") {
		t.Errorf("a run was made before the error:\n%s", stdout.String())
	}
}
