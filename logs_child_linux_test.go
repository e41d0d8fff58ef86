//go:build linux

package ratellmiter

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// inChild reports whether the test runs in the child process it needs (a
// process whose limits or user it may change): in the parent, it runs the
// test again in a child, with env set, fails with the child's output if
// the child fails, and returns false, so the parent returns.
func inChild(t *testing.T, env string) bool {
	t.Helper()
	if os.Getenv(env) != "" {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return false
}

// loggingLimiter returns a Monitor logging to dir, and a function that
// takes and finishes a ticket of its limiter "a" (600 RPM).
func loggingLimiter(t *testing.T, dir string) (*Monitor, func()) {
	t.Helper()
	m := NewMonitor(WithLogDir(dir))
	l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
	require.NoError(t, err)
	return m, func() {
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
	}
}
