package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoGraphCommandDrawsItsOwnLog runs the demo, then puts a newer log
// in its logs folder, as a second demo writing to the same -out at the
// same time does: the command the first demo printed to graph its log
// still draws that log, not the newest one of the folder.
func TestDemoGraphCommandDrawsItsOwnLog(t *testing.T) {
	out := t.TempDir()
	text := runDemo(t, "-clients", "ratellmiter", "-requests", "5", "-workers", "5", "-quiet", "-out", out)
	logs, err := filepath.Glob(filepath.Join(out, "logs", "*.jsonl"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("minute logs in %s: %v, %v; want one", out, logs, err)
	}
	own := logs[0]
	data, err := os.ReadFile(own)
	if err != nil {
		t.Fatal(err)
	}
	// A log whose number is larger is the newest of the folder.
	other := filepath.Join(out, "logs", "9999999999.jsonl")
	if err := os.WriteFile(other, data, 0o644); err != nil {
		t.Fatal(err)
	}

	_, command, ok := strings.Cut(text, "graph it with: llmiter ")
	if !ok {
		t.Fatalf("no command to graph the log in:\n%s", text)
	}
	command, _, _ = strings.Cut(command, "\n")
	var stdout, stderr bytes.Buffer
	if code := run(strings.Fields(command), &stdout, &stderr); code != 0 {
		t.Fatalf("llmiter %s: exit %d: %s", command, code, stderr.String())
	}
	chart := strings.TrimSpace(stdout.String())
	if want := strings.TrimSuffix(filepath.Base(own), ".jsonl") + "-"; !strings.HasPrefix(filepath.Base(chart), want) {
		t.Errorf("llmiter %s drew %s, want the chart of %s", command, chart, own)
	}
}

// TestDemoGraphCommandRunsInAShellWhateverTheFolder runs the demo with an
// -out folder whose name a shell would split or expand, and runs the
// command it printed to graph its log in sh, as a user pasting it would:
// it draws that log.
func TestDemoGraphCommandRunsInAShellWhateverTheFolder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "my runs $HOME 'x'")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	text := runDemo(t, "-clients", "ratellmiter", "-requests", "5", "-workers", "5", "-quiet", "-out", out)
	_, command, ok := strings.Cut(text, "graph it with: ")
	if !ok {
		t.Fatalf("no command to graph the log in:\n%s", text)
	}
	command, _, _ = strings.Cut(command, "\n")
	// llmiter, in the shell, is the binary TestMain built.
	sh := exec.Command("sh", "-c", `llmiter() { "$LLMITER" "$@"; }; `+command+" -out \"$OUT\"")
	sh.Env = append(os.Environ(), "LLMITER="+bin, "OUT="+t.TempDir())
	chart, err := sh.Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", command, err)
	}
	if _, err := os.Stat(strings.TrimSpace(string(chart))); err != nil {
		t.Errorf("the chart %q the command drew: %v", chart, err)
	}
}
