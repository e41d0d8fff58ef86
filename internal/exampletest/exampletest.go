// Package exampletest holds the checks that the example programs' tests
// share, whichever module an example is in.
package exampletest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Build builds the program in dir into a folder of t's and returns the
// path of its binary.
func Build(t testing.TB, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(abs))
	if out, err := exec.Command("go", "build", "-o", bin, dir).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return bin
}

// Environ returns the process's environment without the variables whose
// names start with one of prefixes (the API keys that would send an
// example to a real API).
func Environ(prefixes ...string) []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(kv, p) })
	})
}

// RefusesFewerThanOneCaller runs bin with -c 0 and with -c -2 in env, and
// checks that each run exits at once with status 2 and says why.
func RefusesFewerThanOneCaller(t testing.TB, bin string, env []string) {
	t.Helper()
	for _, c := range []string{"0", "-2"} {
		// Bounds a hang; a refusal takes no time at all.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin, "-c", c)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%s -c %s: %v, want exit status 2\n%s", filepath.Base(bin), c, err, out)
		}
		if want := "-c " + c + ": "; !strings.Contains(string(out), want) {
			t.Errorf("%s -c %s: the output does not say %q:\n%s", filepath.Base(bin), c, want, out)
		}
	}
}
