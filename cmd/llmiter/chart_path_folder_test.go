package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGraphSaysTheChartPathIsAFolder gives graph a chart path taken by a
// folder: the error says so, rather than "file exists", and the folder is
// left as it was.
func TestGraphSaysTheChartPathIsAFolder(t *testing.T) {
	out := t.TempDir()
	chart := filepath.Join(out, "946684817-all-f.png")
	if err := os.Mkdir(chart, 0o755); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := llmiter(t, nil, "-dir", logsDir, "-name", "all", "-out", out)
	if code != 1 || stdout != "" {
		t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout)
	}
	want := "llmiter: cannot write the chart " + chart + ": it is a folder\n"
	if stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	if fi, err := os.Stat(chart); err != nil || !fi.IsDir() {
		t.Errorf("the folder %s: %v, %v", chart, fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %s", strings.Join(left, ", "))
	}
}
