// Package examples_test runs every example program, as a reader would, and
// checks that it finishes and reports what its comment promises. Each runs
// against its in-process fake provider on 127.0.0.1: the API keys that
// would send the SDK examples to the real APIs are removed from their
// environment.
package examples_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEveryExampleRunsToTheEnd(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		args func(t *testing.T) []string
		want []string // regular expressions the output must match
		// check, when set, checks more of the output.
		check func(t *testing.T, out []byte)
	}{
		// Its logs go to a folder whose name a shell would split and
		// expand: the graph command it prints names its log all the same.
		{"quickstart", func(t *testing.T) []string { return []string{"-logs", filepath.Join(t.TempDir(), "my logs $HOME 'x'")} },
			[]string{`200 calls in [0-9.]+ s, 0 failed`, `limiter: 200 requested`, `minute log: .+\.jsonl`},
			graphCommandNamesTheLog},
		// The server's rate-limit headers bring the limiter, configured at
		// twice the fake provider's 1200 RPM, down to its real limit.
		{"openai", nil, []string{`60 calls \+ 1 stream \(\d+ chunks\) in .+: 0 failed`,
			`limiter now at 1200 RPM \(configured 2400\)`}, nil},
		{"anthropic", nil, []string{`60 calls \+ 1 stream \(\d+ events\) in .+: 0 failed`,
			`limiter now at 1200 RPM \(configured 2400\)`}, nil},
		{"metrics", func(*testing.T) []string {
			return []string{"-addr", "127.0.0.1:0", "-calls", "60", "-linger", "0s"}
		}, []string{`60 calls done: `}, nil},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			args := []string{"run", "./" + tc.dir}
			if tc.args != nil {
				args = append(args, tc.args(t)...)
			}
			cmd := exec.CommandContext(ctx, "go", args...)
			cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
				return strings.HasPrefix(kv, "OPENAI_") || strings.HasPrefix(kv, "ANTHROPIC_")
			})
			cmd.Dir, _ = filepath.Abs(".")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			for _, w := range tc.want {
				if !regexp.MustCompile(w).Match(out) {
					t.Errorf("the output does not match %q:\n%s", w, out)
				}
			}
			if tc.check != nil {
				tc.check(t, out)
			}
		})
	}
}

// graphCommandNamesTheLog checks that the graph command a program printed
// gives its -file, read by a POSIX shell, as the path of the minute log
// the program printed.
func graphCommandNamesTheLog(t *testing.T, out []byte) {
	logLine := regexp.MustCompile(`(?m)^minute log: (.+)$`).FindSubmatch(out)
	cmdLine := regexp.MustCompile(`(?m)^graph it: +go run \./cmd/llmiter -file (.+) -lines rief$`).FindSubmatch(out)
	if logLine == nil || cmdLine == nil {
		t.Fatalf("no minute log or graph command in the output:\n%s", out)
	}
	word, err := exec.Command("sh", "-c", "printf %s "+string(cmdLine[1])).Output()
	if err != nil {
		t.Fatalf("sh: printf %s: %v", cmdLine[1], err)
	}
	if string(word) != string(logLine[1]) {
		t.Errorf("the shell reads the graph command's -file as %q, not the log %q", word, logLine[1])
	}
}
