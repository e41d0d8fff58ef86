package ratellmiter

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: every
// goroutine the library starts has an owner that stops it.
//
// DefaultMonitor is process-wide, so the tests that reach it (through
// DefaultLimiter or NewTransport without a limiter) share it and cannot
// stop it without breaking each other. It is stopped here, after every
// test, as a program stops it before it exits; whatever it started must
// be gone then.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := DefaultMonitor().Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping DefaultMonitor:", err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}
