package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// interruptDemo runs llmiter demo with args and sends it an interrupt, as
// Ctrl-C does, at its first progress line. It returns what the demo
// printed and its exit status.
func interruptDemo(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return signalDemo(t, os.Interrupt, args...)
}

// signalDemo runs llmiter demo with args and sends it sig at its first
// progress line. It returns what the demo printed and its exit status.
func signalDemo(t *testing.T, sig os.Signal, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"demo"}, args...)...)
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Bounds a demo that does not stop: the runs asked for take a minute
	// each.
	timer := time.AfterFunc(45*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	var out strings.Builder
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), " done ") {
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	rest, _ := io.ReadAll(pipe)
	out.Write(rest)
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running llmiter demo: %v", err)
	}
	return out.String(), errBuf.String(), cmd.ProcessState.ExitCode()
}

// tableOf returns the part of a demo's output from its table on.
func tableOf(text string) string {
	if i := strings.Index(text, "\nclient "); i >= 0 {
		return text[i:]
	}
	return ""
}

// TestDemoInterruptedPrintsTheRunsMadeAndExits130 interrupts the demo in
// its first run: that run stops, the runs after it are not made, and the
// demo still prints the table of what was done, writes the chart of the
// interrupted run, and exits with status 130.
func TestDemoInterruptedPrintsTheRunsMadeAndExits130(t *testing.T) {
	out := t.TempDir()
	// At 600 RPM, 600 requests take a minute; the interrupt comes a
	// second in.
	text, stderr, code := interruptDemo(t, "-clients", "x-time-rate,ratellmiter", "-requests", "600",
		"-workers", "8", "-rpm", "600", "-naive-timeout", "1m", "-out", out)
	if code != 130 || stderr != "llmiter demo: interrupted\n" {
		t.Fatalf("exit %d, stderr %q; want 130 and \"llmiter demo: interrupted\\n\"\n%s", code, stderr, text)
	}
	table := tableOf(text)
	row := tableRow(t, table, "x/time/rate")
	if len(row) != 7 || !strings.HasSuffix(row[2], " s (interrupted)") || row[3] != "n/a" || row[1] == "600/600" {
		t.Errorf("x/time/rate row %q, want part of the work, a wall time marked interrupted and no ratio\n%s", row, text)
	}
	if strings.Contains(text, "\nratellmiter ") {
		t.Errorf("the run after the interrupted one was made:\n%s", text)
	}
	chart := filepath.Join(out, "demo-x-time-rate.png")
	if !strings.Contains(table, chart) {
		t.Errorf("the output does not name the chart %s:\n%s", chart, text)
	}
	checkPNG(t, chart, 1200, 600)
	if _, err := os.Stat(filepath.Join(out, "demo-ratellmiter.png")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a chart of the run that was not made: %v", err)
	}
}

// TestDemoInterruptedWritesTheMinuteLogOfTheRatellmiterRun interrupts the
// ratellmiter run a second in: its minute log, which the limiter's monitor
// writes as each minute ends or when stopped, is written all the same.
func TestDemoInterruptedWritesTheMinuteLogOfTheRatellmiterRun(t *testing.T) {
	out := t.TempDir()
	text, _, code := interruptDemo(t, "-clients", "ratellmiter", "-requests", "600", "-workers", "8",
		"-rpm", "600", "-naive-timeout", "1m", "-out", out)
	if code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, text)
	}
	logs, err := filepath.Glob(filepath.Join(out, "logs", "*.jsonl"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("minute logs in %s: %v, %v; want one", out, logs, err)
	}
	if !strings.Contains(tableOf(text), logs[0]) {
		t.Errorf("the output does not name the minute log %s:\n%s", logs[0], text)
	}
}

// TestDemoStoppedBySIGTERMPrintsTheRunsMadeAndExits143 stops the demo
// with a SIGTERM, as timeout and docker stop do: it ends as for an
// interrupt, with the table of the runs made and the interrupted run's
// chart, and exits with status 143.
func TestDemoStoppedBySIGTERMPrintsTheRunsMadeAndExits143(t *testing.T) {
	out := t.TempDir()
	text, stderr, code := signalDemo(t, syscall.SIGTERM, "-clients", "ratellmiter", "-requests", "600",
		"-workers", "8", "-rpm", "600", "-naive-timeout", "1m", "-out", out)
	if code != 143 || stderr != "llmiter demo: interrupted\n" {
		t.Fatalf("exit %d, stderr %q; want 143 and \"llmiter demo: interrupted\\n\"\n%s", code, stderr, text)
	}
	if row := tableRow(t, tableOf(text), "ratellmiter"); len(row) != 7 || !strings.HasSuffix(row[2], " s (interrupted)") {
		t.Errorf("ratellmiter row %q, want a wall time marked interrupted\n%s", row, text)
	}
	checkPNG(t, filepath.Join(out, "demo-ratellmiter.png"), 1200, 600)
}
