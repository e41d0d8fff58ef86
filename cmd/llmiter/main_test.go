package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

var updateDocs = flag.Bool("update-docs", false, "render the sample charts into docs/")

// bin is the llmiter binary built by TestMain.
var bin string

var (
	logsDir   = filepath.Join("..", "..", "testdata", "logs")
	sampleLog = filepath.Join(logsDir, "946684817.jsonl")
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "llmiter-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "llmiter")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building llmiter: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		// The demo's fake providers, clients and limiters run in this
		// process: none of their goroutines may outlive the tests.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// llmiter runs the binary with args and the environment variables env
// added, returning its stdout, stderr and exit code.
func llmiter(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "RATELLMITER_LOGS=")
	cmd.Env = append(cmd.Env, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running llmiter: %v", err)
	}
	return o.String(), e.String(), code
}

// mustGraph runs llmiter, expects success and one output path on stdout,
// and returns that path.
func mustGraph(t *testing.T, env []string, args ...string) string {
	t.Helper()
	stdout, stderr, code := llmiter(t, env, args...)
	if code != 0 || stderr != "" {
		t.Fatalf("llmiter %q: exit %d, stderr %q", args, code, stderr)
	}
	path := strings.TrimSuffix(stdout, "\n")
	if path == "" || strings.Contains(path, "\n") {
		t.Fatalf("llmiter %q: stdout %q, want one path", args, stdout)
	}
	return path
}

// checkPNG decodes the PNG at path and checks its size and that it shows
// a chart rather than a blank page.
func checkPNG(t *testing.T, path string, width, height int) {
	t.Helper()
	img := decodePNG(t, path)
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Errorf("%s: %dx%d, want %dx%d", path, b.Dx(), b.Dy(), width, height)
	}
	colors, inked := colorStats(img)
	total := width * height
	if colors < 30 {
		t.Errorf("%s: %d distinct colors, want a chart with many", path, colors)
	}
	if inked < total/50 || inked > total/2 {
		t.Errorf("%s: %d of %d pixels not white, want a chart on a white page", path, inked, total)
	}
}

// decodePNG reads the PNG image at path.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func colorStats(img image.Image) (colors, inked int) {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				inked++
			}
		}
	}
	return len(seen), inked
}

func TestGraphPNG(t *testing.T) {
	out := t.TempDir()
	path := mustGraph(t, nil, "-dir", logsDir, "-name", "openai/gpt-4o-mini", "-out", out, "-width", "900", "-height", "500")
	if want := filepath.Join(out, "946684817-openai%2Fgpt-4o-mini-ri.png"); path != want {
		t.Errorf("wrote %s, want %s", path, want)
	}
	checkPNG(t, path, 900, 500)

	// Every line letter, the default size, the graph subcommand by name.
	path = mustGraph(t, nil, "graph", "-dir", logsDir, "-name", "anthropic/claude", "-lines", "rioef", "-out", out)
	if want := filepath.Join(out, "946684817-anthropic%2Fclaude-rioef.png"); path != want {
		t.Errorf("wrote %s, want %s", path, want)
	}
	checkPNG(t, path, 1200, 600)
}

func TestGraphSVG(t *testing.T) {
	out := t.TempDir()
	path := mustGraph(t, nil, "-dir", logsDir, "-name", "anthropic/claude", "-format", "svg", "-out", out, "-lines", "ie")
	if want := filepath.Join(out, "946684817-anthropic%2Fclaude-ie.svg"); path != want {
		t.Errorf("wrote %s, want %s", path, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{"<svg", "</svg>", `width="900pt"`, `height="450pt"`, "requests per second", "anthropic/claude"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestGraphCompare(t *testing.T) {
	out := t.TempDir()
	path := mustGraph(t, nil, "-dir", logsDir, "-compare", "-out", out)
	if want := filepath.Join(out, "946684817-all-f.png"); path != want {
		t.Errorf("wrote %s, want %s", path, want)
	}
	checkPNG(t, path, 1200, 600)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if p := mustGraph(t, nil, "-dir", logsDir, "-name", "all", "-out", out); p != path {
		t.Errorf("-name all wrote %s, want %s", p, path)
	}
	if p := mustGraph(t, nil, "-dir", logsDir, "-compare", "-lines", "i", "-out", out); p != filepath.Join(out, "946684817-all-i.png") {
		t.Errorf("-compare -lines i wrote %s", p)
	}
}

// copyLog copies the sample log into a new folder and returns the folder.
func copyLog(t *testing.T, name string, extra string) string {
	t.Helper()
	data, err := os.ReadFile(sampleLog)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), append(data, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGraphDefaults(t *testing.T) {
	dir := copyLog(t, "1700000000.jsonl", "")
	// An older log, and a newer one that is empty: both passed over.
	os.WriteFile(filepath.Join(dir, "1600000000.jsonl"), []byte("{}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "1800000000.jsonl"), nil, 0o644)

	// The folder from the environment, the chart next to the log.
	path := mustGraph(t, []string{"RATELLMITER_LOGS=" + dir}, "-name", "openai/gpt-4o-mini")
	if want := filepath.Join(dir, "1700000000-openai%2Fgpt-4o-mini-ri.png"); path != want {
		t.Errorf("wrote %s, want %s", path, want)
	}
	// -file by bare name, with or without its extension, looked up in -dir.
	for _, file := range []string{"1700000000.jsonl", "1700000000"} {
		if p := mustGraph(t, nil, "-dir", dir, "-file", file, "-name", "anthropic/claude", "-lines", "e"); p != filepath.Join(dir, "1700000000-anthropic%2Fclaude-e.png") {
			t.Errorf("-file %s wrote %s", file, p)
		}
	}
	// -file as a path ignores -dir; -out is created.
	out := filepath.Join(t.TempDir(), "a", "b")
	if p := mustGraph(t, nil, "-dir", "nowhere", "-file", filepath.Join(dir, "1700000000.jsonl"), "-name", "all", "-out", out); p != filepath.Join(out, "1700000000-all-f.png") {
		t.Errorf("-file path wrote %s", p)
	}
	// The default limiter is "default".
	dd := t.TempDir()
	line := strings.Replace(firstLine(t), `"limiter":"anthropic/claude"`, `"limiter":"default"`, 1)
	os.WriteFile(filepath.Join(dd, "1.jsonl"), []byte(line), 0o644)
	if p := mustGraph(t, nil, "-dir", dd); p != filepath.Join(dd, "1-default-ri.png") {
		t.Errorf("default limiter: wrote %s", p)
	}
	// A log of one limiter draws it, whatever its name.
	one := t.TempDir()
	os.WriteFile(filepath.Join(one, "1.jsonl"), []byte(firstLine(t)), 0o644)
	if p := mustGraph(t, nil, "-dir", one); p != filepath.Join(one, "1-anthropic%2Fclaude-ri.png") {
		t.Errorf("the only limiter: wrote %s", p)
	}
}

func firstLine(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(sampleLog)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	if !strings.Contains(line, `"limiter":"anthropic/claude"`) {
		t.Fatalf("first line of the sample is not anthropic/claude's: %.100s", line)
	}
	return line + "\n"
}

func TestGraphSkippedLines(t *testing.T) {
	dir := copyLog(t, "1700000000.jsonl", `{"v":1,"limiter":"openai/gpt-4o-mini","start":17`)
	stdout, stderr, code := llmiter(t, nil, "-dir", dir, "-name", "openai/gpt-4o-mini")
	if code != 0 || !strings.HasSuffix(stdout, ".png\n") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "1 lines are not minute logs") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q, want one warning about the skipped line", stderr)
	}
}

func TestGraphErrors(t *testing.T) {
	empty := filepath.Join(logsDir, "empty")
	foreign := filepath.Join(logsDir, "foreign", "not-a-log.jsonl")
	emptyFile := filepath.Join(t.TempDir(), "1.jsonl")
	os.WriteFile(emptyFile, nil, 0o644)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"empty folder", []string{"-dir", empty}, 1, "no logs in " + empty},
		{"missing folder", []string{"-dir", "no-such-folder"}, 1, "log folder no-such-folder does not exist"},
		{"folder is a file", []string{"-dir", sampleLog}, 1, "not a folder"},
		{"default folder missing", nil, 1, "log folder ratellmiter_logs does not exist"},
		{"no such limiter", []string{"-dir", logsDir, "-name", "nope"}, 1,
			`no limiter "nope" in ` + sampleLog + "; its limiters: anthropic/claude, openai/gpt-4o-mini"},
		{"no default limiter", []string{"-dir", logsDir}, 1, `no limiter "default"`},
		{"foreign file", []string{"-file", foreign}, 1, foreign + " is not a ratellmiter log"},
		{"missing file", []string{"-dir", logsDir, "-file", "123.jsonl"}, 1, "no log file " + filepath.Join(logsDir, "123.jsonl")},
		{"file is a folder", []string{"-file", empty + "/"}, 1, "cannot read"},
		{"empty file", []string{"-file", emptyFile}, 1, "holds no minute logs"},
		{"bad lines letter", []string{"-dir", logsDir, "-lines", "rx"}, 1, `unknown letter "x"`},
		{"repeated lines letter", []string{"-dir", logsDir, "-lines", "rir"}, 1, `letter "r" given twice`},
		{"no lines", []string{"-dir", logsDir, "-lines", ""}, 1, "no line to draw"},
		{"compare with lines", []string{"-dir", logsDir, "-compare", "-lines", "ri"}, 1, "give one letter"},
		{"compare with name", []string{"-dir", logsDir, "-compare", "-name", "x"}, 1, "cannot be used with -name"},
		{"bad format", []string{"-dir", logsDir, "-format", "gif"}, 1, `-format "gif": use png or svg`},
		{"too narrow", []string{"-dir", logsDir, "-width", "10"}, 1, "bad size 10x600"},
		{"too narrow to read", []string{"-dir", logsDir, "-width", "400"}, 1, "bad size 400x600"},
		{"too low to read", []string{"-dir", logsDir, "-height", "250"}, 1, "bad size 1200x250"},
		{"too tall", []string{"-dir", logsDir, "-height", "100000"}, 1, "bad size 1200x100000"},
		{"negative size", []string{"-dir", logsDir, "-width", "-5"}, 1, "bad size"},
		{"size not a number", []string{"-width", "wide"}, 2, `invalid value "wide" for flag -width`},
		{"unknown flag", []string{"-colour", "red"}, 2, "flag provided but not defined: -colour"},
		{"extra argument", []string{"-dir", logsDir, "extra"}, 2, `unexpected argument "extra"`},
		{"unknown subcommand", []string{"paint"}, 2, `unknown subcommand "paint"`},
		{"help for an unknown subcommand", []string{"help", "paint"}, 2, `unknown subcommand "paint"`},
		{"out is a file", []string{"-dir", logsDir, "-name", "all", "-out", sampleLog}, 1, "-out:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := llmiter(t, nil, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, c.code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !strings.HasPrefix(stderr, "llmiter: ") || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Errorf("stderr %q, want one line starting with llmiter: ", stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q, want it to contain %q", stderr, c.want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-help"}, {"graph", "-h"}, {"help"}, {"help", "graph"}, {"help", "help"}, {"help", "-h"}} {
		stdout, stderr, code := llmiter(t, nil, args...)
		if code != 0 || stderr != "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
		for _, want := range []string{"Usage:", "Subcommands:", "graph", "-dir", "-file", "-name", "-lines", "-compare",
			"-format", "-width", "-height", "-out", "RATELLMITER_LOGS", "Exit status"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%q: usage lacks %q", args, want)
			}
		}
	}
}

// TestRun calls run in the process, as main does.
func TestRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "-lines") {
		t.Errorf("run -h: exit %d, stdout %q", code, stdout.String())
	}
	stdout.Reset()
	out := t.TempDir()
	if code := run([]string{"-dir", logsDir, "-name", "anthropic/claude", "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("run: exit %d, stderr %q", code, stderr.String())
	}
	if want := filepath.Join(out, "946684817-anthropic%2Fclaude-ri.png") + "\n"; stdout.String() != want {
		t.Errorf("run: stdout %q, want %q", stdout.String(), want)
	}
	stdout.Reset()
	if code := run([]string{"-lines", "q"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "unknown letter") {
		t.Errorf("run -lines q: exit %d, stderr %q", code, stderr.String())
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"openai/gpt-4o-mini": "openai%2Fgpt-4o-mini",
		"a b:c\\d":           "a%20b%3Ac%5Cd",
		"a_b":                "a_b",
		"a%2Fb":              "a%252Fb",
		"..":                 "..",
		"claude-3.5":         "claude-3.5",
		"模型":                 "%E6%A8%A1%E5%9E%8B",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// A long name, which its escapes make longer still, is cut short with a
// hash of the whole name: the chart's file name stays within the 255
// bytes file systems take, and two long names that differ only at their
// ends keep files of their own.
func TestSanitizeALongName(t *testing.T) {
	long := strings.Repeat("模型", 50)
	a, b := sanitize(long+"a"), sanitize(long+"b")
	if len(a) > maxLabel || len(b) > maxLabel {
		t.Errorf("labels of %d and %d bytes, want at most %d", len(a), len(b), maxLabel)
	}
	if a == b {
		t.Errorf("two long names share the label %q", a)
	}
	if strings.ContainsAny(a, `/\:*?"<>| `) {
		t.Errorf("label %q holds a byte a file name cannot", a)
	}
	dir := t.TempDir()
	log := strings.Replace(firstLine(t), `"limiter":"anthropic/claude"`, `"limiter":"`+long+`"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "1.jsonl"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	p := mustGraph(t, nil, "-dir", dir, "-name", long)
	if n := len(filepath.Base(p)); n > 255 {
		t.Errorf("chart file name of %d bytes", n)
	}
}

// TestGraphLimitersWhoseNamesDifferInUnsafeCharacters draws limiters of
// one log whose names differ only in characters a file name cannot keep,
// or only in case: each chart has a file of its own.
func TestGraphLimitersWhoseNamesDifferInUnsafeCharacters(t *testing.T) {
	dir := t.TempDir()
	first := firstLine(t)
	names := []string{"a/b", "a_b", "a b", "a%2Fb", "A_B"}
	var log strings.Builder
	for _, name := range names {
		log.WriteString(strings.Replace(first, `"limiter":"anthropic/claude"`, `"limiter":"`+name+`"`, 1))
	}
	if err := os.WriteFile(filepath.Join(dir, "1.jsonl"), []byte(log.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, name := range names {
		p := mustGraph(t, nil, "-dir", dir, "-name", name)
		if other, ok := paths[p]; ok {
			t.Errorf("limiters %q and %q both drawn into %s", other, name, p)
		}
		paths[p] = name
	}
	files, err := filepath.Glob(filepath.Join(dir, "1-*-ri.png"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(names) {
		t.Errorf("charts %q, want one for each of %q", files, names)
	}
	// On a file system that ignores case, too.
	lower := map[string]string{}
	for p, name := range paths {
		if other, ok := lower[strings.ToLower(p)]; ok {
			t.Errorf("limiters %q and %q are drawn into files whose names differ only in case", other, name)
		}
		lower[strings.ToLower(p)] = name
	}
	if p := mustGraph(t, nil, "-dir", dir, "-name", "a b"); filepath.Base(p) != "1-a%20b-ri.png" {
		t.Errorf("a name no other limiter's resembles is written as it is: %s", filepath.Base(p))
	}
}

// TestDocsCharts renders the charts shown in the documentation with
// -update-docs.
func TestDocsCharts(t *testing.T) {
	if !*updateDocs {
		t.Skip("run with -update-docs to render docs/llmiter-*.png")
	}
	docs := filepath.Join("..", "..", "docs")
	if err := os.MkdirAll(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"llmiter-sample.png":  {"-name", "anthropic/claude", "-lines", "rie"},
		"llmiter-compare.png": {"-compare"},
	} {
		out := t.TempDir()
		path := mustGraph(t, nil, append([]string{"-dir", logsDir, "-out", out}, args...)...)
		checkPNG(t, path, 1200, 600)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(docs, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGraphMarksChangesOfTheLimit draws a minute with a limit event and
// the same minute without it: only the first has the limit marker's color.
func TestGraphMarksChangesOfTheLimit(t *testing.T) {
	hasMarker := func(events string) bool {
		dir := t.TempDir()
		counts := "[" + strings.TrimSuffix(strings.Repeat("5,", 60), ",") + "]"
		zeros := "[" + strings.TrimSuffix(strings.Repeat("0,", 60), ",") + "]"
		flags := "[" + strings.TrimSuffix(strings.Repeat("false,", 60), ",") + "]"
		line := fmt.Sprintf(`{"v":1,"limiter":"a","start":946684800,"start_time":"2000-01-01T00:00:00Z","rpm":600,`+
			`"requested":%s,"issued":%s,"overflow":%s,"rate_limited":%s,"finished":%s,"paused":%s,"events":%s}`+"\n",
			counts, counts, zeros, zeros, counts, flags, events)
		if err := os.WriteFile(filepath.Join(dir, "946684800.jsonl"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
		img := decodePNG(t, mustGraph(t, nil, "-dir", dir, "-name", "a", "-out", dir))
		want := eventColors["limit"]
		wr, wg, wb, _ := want.RGBA()
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if r, g, bl, _ := img.At(x, y).RGBA(); r == wr && g == wg && bl == wb {
					return true
				}
			}
		}
		return false
	}
	if !hasMarker(`[{"s":30,"kind":"limit","detail":"server reports a limit of 300 requests per minute"}]`) {
		t.Error("no limit marker on a chart with a limit event")
	}
	if hasMarker(`[]`) {
		t.Error("a limit marker's color on a chart without limit events")
	}
}

// TestGraphOutFolderNotWritable names the chart that could not be written,
// not the temporary file it is first written to.
func TestGraphOutFolderNotWritable(t *testing.T) {
	// A folder no one may create files in, root included.
	const out = "/sys/kernel"
	if f, err := os.CreateTemp(out, ".llmiter-test-*"); err == nil {
		f.Close()
		os.Remove(f.Name())
		t.Skipf("%s is writable here", out)
	} else if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no %s here", out)
	}
	stdout, stderr, code := llmiter(t, nil, "-dir", logsDir, "-name", "all", "-out", out)
	if code != 1 || stdout != "" {
		t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout)
	}
	want := "llmiter: cannot write the chart " + filepath.Join(out, "946684817-all-f.png") + ": "
	if !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, ".946684817") {
		t.Errorf("stderr %q, want one line starting %q", stderr, want)
	}
}
