package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoSmall runs the demo on loopback with a small workload. It runs
// in real time, but checks only completion and counts, never timing.
func TestDemoSmall(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"demo", "-requests", "40", "-workers", "8", "-rpm", "1200",
		"-naive-timeout", "10s", "-quiet", "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr.String())
	}
	text := stdout.String()
	if strings.Contains(text, "done ") {
		t.Errorf("-quiet printed progress lines:\n%s", text)
	}
	naive := tableRow(t, text, "naive backoff")
	lib := tableRow(t, text, "ratellmiter")
	// client, completed, wall time, vs minimum, 429s at server, 429s to
	// caller, most accepted in 1 s
	for _, row := range [][]string{naive, lib} {
		if len(row) != 7 {
			t.Fatalf("table row %q: %d columns, want 7\n%s", row, len(row), text)
		}
	}
	if lib[1] != "40/40" {
		t.Errorf("ratellmiter completed %s, want 40/40\n%s", lib[1], text)
	}
	if lib[5] != "0" {
		t.Errorf("ratellmiter's caller saw %s 429s, want 0\n%s", lib[5], text)
	}
	for _, name := range []string{"demo-naive.png", "demo-ratellmiter.png"} {
		path := filepath.Join(out, name)
		if !strings.Contains(text, path) {
			t.Errorf("output does not name %s", path)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 600 {
			t.Errorf("%s is %dx%d, want 1200x600", name, b.Dx(), b.Dy())
		}
	}
	logs, err := filepath.Glob(filepath.Join(out, "logs", "*.jsonl"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("minute logs in %s: %v, %v; want one", out, logs, err)
	}
	if !strings.Contains(text, logs[0]) {
		t.Errorf("output does not name the minute log %s", logs[0])
	}
	// The log the demo points at can be graphed with the command it prints.
	stdout.Reset()
	if code := runGraph([]string{"-dir", filepath.Join(out, "logs"), "-name", "ratellmiter", "-lines", "rief"}, &stdout, &stderr); code != 0 {
		t.Errorf("graphing the demo's log: exit %d: %s", code, stderr.String())
	}
}

// TestDemoLimiterAboveTheServer configures the limiter at twice the fake
// server's limit: the limiter takes the real one from the response headers
// before the server refuses anything.
func TestDemoLimiterAboveTheServer(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"demo", "-requests", "30", "-workers", "8", "-rpm", "1200", "-limiter-rpm", "2400",
		"-naive-timeout", "1s", "-quiet", "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr.String())
	}
	text := stdout.String()
	if !strings.Contains(text, "ratellmiter: configured at 2400 RPM") {
		t.Errorf("output does not say the limiter's setting:\n%s", text)
	}
	lib := tableRow(t, text, "ratellmiter")
	if len(lib) != 7 || lib[1] != "30/30" || lib[5] != "0" {
		t.Errorf("ratellmiter row %q, want 30/30 completed and no 429 to the caller\n%s", lib, text)
	}
	if !strings.Contains(text, "1200 RPM at the end (configured 2400)") {
		t.Errorf("the limiter did not take the server's limit:\n%s", text)
	}
}

// tableRow returns the fields of the table row of client, split on runs
// of two or more spaces.
func tableRow(t *testing.T, text, client string) []string {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, client+" ") && !strings.Contains(line, ":") {
			return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		}
	}
	t.Fatalf("no table row for %q in:\n%s", client, text)
	return nil
}

func TestDemoBadFlags(t *testing.T) {
	if subcommands["demo"] == nil || subcommandSummaries["demo"] == "" {
		t.Fatal("demo is not registered as a subcommand")
	}
	for _, args := range [][]string{
		{"-requests", "0"},
		{"-workers", "-3"},
		{"-rpm", "x"},
		{"-limiter-rpm", "-1"},
		{"-naive-timeout", "0s"},
		{"-nosuch"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := demo(args, &stdout, &stderr); code != 2 {
			t.Errorf("demo %q: exit %d, want 2", args, code)
		}
		if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "llmiter demo: ") {
			t.Errorf("demo %q: stderr %q, want one line", args, msg)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := demo([]string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "-naive-timeout") {
		t.Errorf("demo -h: exit %d, output %q", code, stdout.String())
	}
}

func TestPhysicalMinimum(t *testing.T) {
	for _, c := range []struct {
		n, rpm int
		want   time.Duration
	}{
		{300, 1200, 14*time.Second + demoLatency},
		{10, 1200, demoLatency}, // fits in the first burst
		{3, 30, 4*time.Second + demoLatency},
	} {
		if got := physicalMinimum(c.n, c.rpm, demoLatency); got != c.want {
			t.Errorf("physicalMinimum(%d, %d) = %v, want %v", c.n, c.rpm, got, c.want)
		}
	}
}
