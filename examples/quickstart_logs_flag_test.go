package examples_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuickstartReportsALogFolderItCannotMakeBeforeItsCalls runs the
// quickstart with -logs naming a file: it exits at once with status 1 and
// says why, rather than making its 200 calls first and failing only when
// its Monitor stops.
func TestQuickstartReportsALogFolderItCannotMakeBeforeItsCalls(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "quickstart")
	if out, err := exec.Command("go", "build", "-o", bin, "./quickstart").CombinedOutput(); err != nil {
		t.Fatalf("go build ./quickstart: %v\n%s", err, out)
	}
	// Bounds a run that makes its calls: they take about 20 s.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-logs", file).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("quickstart -logs %s: %v, want exit status 1\n%s", file, err, out)
	}
	// Said before the calls, it names the flag; said by the Monitor as
	// it stops, once the calls are made, it would not.
	if want := "-logs " + file + ": "; !strings.Contains(string(out), want) || !strings.Contains(string(out), "not a directory") {
		t.Errorf("the output does not say %q and why:\n%s", want, out)
	}
}
