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

	"gonum.org/v1/plot"
)

// TestDemoSmall runs the demo with every client on loopback with a small
// workload. It runs in real time, but checks only completion and counts,
// never timing.
func TestDemoSmall(t *testing.T) {
	out := t.TempDir()
	text := runDemo(t, "-clients", "all", "-requests", "40", "-workers", "8", "-rpm", "1200",
		"-naive-timeout", "5s", "-quiet", "-out", out)
	if strings.Contains(text, "done ") {
		t.Errorf("-quiet printed progress lines:\n%s", text)
	}
	if !strings.Contains(text, "configured at 1200 RPM: x/time/rate, python model, ratellmiter") {
		t.Errorf("output does not say the paced clients' setting:\n%s", text)
	}
	// client, completed, wall time, vs minimum, 429s at server, 429s to
	// caller, most accepted in 1 s
	for _, c := range demoClients {
		if row := tableRow(t, text, c.label); len(row) != 7 {
			t.Fatalf("table row %q: %d columns, want 7\n%s", row, len(row), text)
		}
	}
	for _, client := range []string{"x/time/rate", "ratellmiter"} {
		if row := tableRow(t, text, client); row[1] != "40/40" {
			t.Errorf("%s completed %s, want 40/40\n%s", client, row[1], text)
		}
	}
	if lib := tableRow(t, text, "ratellmiter"); lib[5] != "0" {
		t.Errorf("ratellmiter's caller saw %s 429s, want 0\n%s", lib[5], text)
	}
	for _, c := range demoClients {
		name := "demo-" + c.key + ".png"
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
	var stdout, stderr bytes.Buffer
	if code := runGraph([]string{"-dir", filepath.Join(out, "logs"), "-name", "ratellmiter", "-lines", "rief"}, &stdout, &stderr); code != 0 {
		t.Errorf("graphing the demo's log: exit %d: %s", code, stderr.String())
	}
}

// TestDemoLimiterAboveTheServer configures the limiter at twice the fake
// server's limit: the limiter takes the real one from the response headers
// before the server refuses anything.
func TestDemoLimiterAboveTheServer(t *testing.T) {
	text := runDemo(t, "-requests", "30", "-workers", "8", "-rpm", "1200", "-limiter-rpm", "2400",
		"-naive-timeout", "1s", "-quiet", "-out", t.TempDir())
	if !strings.Contains(text, "configured at 2400 RPM: ratellmiter") {
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

// runDemo runs llmiter demo with args, expects success and returns what
// it printed.
func runDemo(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"demo"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr.String())
	}
	return stdout.String()
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
		{"-limiter-rpm", "0"},
		{"-naive-timeout", "0s"},
		{"-nosuch"},
		{"extra"},
		{"-clients", "nosuch"},
		{"-clients", ""},
		{"-clients", "naive,naive"},
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

// TestDemoOutputFolderItCannotWriteTo gives demo an output folder whose
// logs folder cannot be created: it fails at once, before any run, rather
// than after the runs have taken their minute or more.
func TestDemoOutputFolderItCannotWriteTo(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "logs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := demo([]string{"-requests", "5", "-naive-timeout", "2s", "-quiet", "-out", out}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "llmiter demo: -out: ") ||
		!strings.Contains(msg, filepath.Join(out, "logs")) {
		t.Errorf("stderr %q, want one line naming %s", msg, filepath.Join(out, "logs"))
	}
	if strings.Contains(stdout.String(), "completed in") {
		t.Errorf("a run was made before the error:\n%s", stdout.String())
	}
}

// TestDemoTableCappedBeforeTheMinimum checks the ratio of a run stopped
// by its cap before the physical minimum: it says nothing.
func TestDemoTableCappedBeforeTheMinimum(t *testing.T) {
	o := &demoOptions{requests: 300, rpm: 1200, limiterRPM: 1200}
	minimum := physicalMinimum(o.requests, o.rpm, demoLatency)
	var out bytes.Buffer
	printDemoTable(&out, o, []*demoResult{
		{client: "short", total: 300, completed: 20, stopped: true, wall: 5 * time.Second},
		{client: "long", total: 300, completed: 200, stopped: true, wall: 75 * time.Second},
	}, minimum)
	if row := tableRow(t, out.String(), "short"); row[3] != "n/a" {
		t.Errorf("ratio of a run capped at 5 s of a 14.3 s minimum: %q, want n/a", row[3])
	}
	if row := tableRow(t, out.String(), "long"); row[3] != ">5.24x" {
		t.Errorf("ratio of a run capped at 75 s: %q, want >5.24x", row[3])
	}
}

// TestDemoTableRunThatGaveUp checks the ratio of a run that ended before
// its cap but gave up on some requests: it is no time to do the whole
// workload, so it says nothing, while a complete run has its ratio.
func TestDemoTableRunThatGaveUp(t *testing.T) {
	o := &demoOptions{requests: 60, rpm: 1200, limiterRPM: 1200}
	minimum := physicalMinimum(o.requests, o.rpm, demoLatency)
	var out bytes.Buffer
	printDemoTable(&out, o, []*demoResult{
		{client: "gave-up", total: 60, completed: 42, wall: 46400 * time.Millisecond},
		{client: "complete", total: 60, completed: 60, wall: 2 * minimum},
	}, minimum)
	if row := tableRow(t, out.String(), "gave-up"); row[1] != "42/60" || row[3] != "n/a" {
		t.Errorf("row of a run that completed 42 of 60 requests: %q, want 42/60 and a ratio of n/a", row)
	}
	if row := tableRow(t, out.String(), "complete"); row[3] != "2.00x" {
		t.Errorf("ratio of a complete run that took twice the minimum: %q, want 2.00x", row[3])
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

func TestDemoClientsFlag(t *testing.T) {
	keys := func(cs []demoClient) []string {
		var ks []string
		for _, c := range cs {
			ks = append(ks, c.key)
		}
		return ks
	}
	o, err := parseDemoFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys(o.clients), ","); got != "naive,ratellmiter" {
		t.Errorf("default clients %s, want naive,ratellmiter", got)
	}
	// Any order on the command line; the runs go in the demo's order.
	o, err = parseDemoFlags([]string{"-clients", "ratellmiter, x-time-rate"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys(o.clients), ","); got != "x-time-rate,ratellmiter" {
		t.Errorf("clients %s, want x-time-rate,ratellmiter", got)
	}
	o, err = parseDemoFlags([]string{"-clients", "all"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys(o.clients), ","); got != "naive,openai-go,x-time-rate,python,ratellmiter" {
		t.Errorf("all clients %s", got)
	}
}

// TestDemoChartDrawsTheServersLimit checks the limit line of a demo chart
// at rates that are not a whole number a second: the fake server refills
// RPM/60 requests a second, so that is the line its legend names, not the
// limiter's per-second cap rounded up.
func TestDemoChartDrawsTheServersLimit(t *testing.T) {
	for _, c := range []struct {
		rpm  int
		want string
	}{
		{1200, "server limit 20/s (1200 RPM)"},
		{1000, "server limit 16.67/s (1000 RPM)"},
		{30, "server limit 0.50/s (30 RPM)"},
	} {
		o := &demoOptions{requests: 3, workers: 1, rpm: c.rpm, limiterRPM: c.rpm}
		r := &demoResult{client: "ratellmiter", total: 3, completed: 3, wall: 6 * time.Second,
			seconds: []demoSecond{{1, 1, 0, 0}, {0, 0, 0, 1}, {1, 1, 0, 0}, {0, 0, 0, 1}, {1, 1, 0, 1}}}
		p, leg := demoChart(o, r, 8, 1)
		path := filepath.Join(t.TempDir(), "demo.svg")
		if err := save(p, []*plot.Legend{leg}, 1200, 600, "svg", path); err != nil {
			t.Fatal(err)
		}
		svg, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(svg, []byte(c.want)) {
			t.Errorf("%d RPM: the chart's legend does not say %q", c.rpm, c.want)
		}
	}
}
