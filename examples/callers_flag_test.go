package examples_test

import (
	"testing"

	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// TestSDKExamplesRefuseFewerThanOneCaller runs the SDK examples with -c 0
// and -c -2: each exits at once with status 2 and says why, rather than
// waiting forever to hand its calls to callers that were never started.
func TestSDKExamplesRefuseFewerThanOneCaller(t *testing.T) {
	for _, dir := range []string{"openai", "anthropic"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			exampletest.RefusesFewerThanOneCaller(t, exampletest.Build(t, "./"+dir), exampletest.Environ("OPENAI_", "ANTHROPIC_"))
		})
	}
}
