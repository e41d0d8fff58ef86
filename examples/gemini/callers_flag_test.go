package main

import (
	"testing"

	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// The program run with -c 0 or -c -2 exits at once with status 2 and
// says why, as the other examples do, rather than running with callers
// it was not asked for.
func TestTheProgramRefusesFewerThanOneCaller(t *testing.T) {
	exampletest.RefusesFewerThanOneCaller(t, exampletest.Build(t, "."), exampletest.Environ("GEMINI_"))
}
