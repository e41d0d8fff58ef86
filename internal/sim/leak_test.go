package sim

import (
	"os"
	"testing"

	"github.com/ratellmiter/ratellmiter"
	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests. It clears
// RATELLMITER_LOGS first, which NewOurs refuses: the simulated runs write
// no logs whatever the environment of the test.
func TestMain(m *testing.M) {
	os.Unsetenv(ratellmiter.EnvLogDir)
	goleak.VerifyTestMain(m)
}
