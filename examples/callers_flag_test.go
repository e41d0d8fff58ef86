package examples_test

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

// TestSDKExamplesRefuseFewerThanOneCaller runs the SDK examples with -c 0
// and -c -2: each exits at once with status 2 and says why, rather than
// waiting forever to hand its calls to callers that were never started.
func TestSDKExamplesRefuseFewerThanOneCaller(t *testing.T) {
	for _, dir := range []string{"openai", "anthropic"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			bin := filepath.Join(t.TempDir(), dir)
			if out, err := exec.Command("go", "build", "-o", bin, "./"+dir).CombinedOutput(); err != nil {
				t.Fatalf("go build ./%s: %v\n%s", dir, err, out)
			}
			for _, c := range []string{"0", "-2"} {
				// Bounds a hang; a run that works takes no time at all.
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				cmd := exec.CommandContext(ctx, bin, "-c", c)
				cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
					return strings.HasPrefix(kv, "OPENAI_") || strings.HasPrefix(kv, "ANTHROPIC_")
				})
				out, err := cmd.CombinedOutput()
				cancel()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 2 {
					t.Errorf("%s -c %s: %v, want exit status 2\n%s", dir, c, err, out)
				}
				if want := "-c " + c + ": "; !strings.Contains(string(out), want) {
					t.Errorf("%s -c %s: the output does not say %q:\n%s", dir, c, want, out)
				}
			}
		})
	}
}
