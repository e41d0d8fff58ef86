package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The program runs to its end against its fake provider and reports what
// its comment promises: every call answered, and the limiter, configured
// at twice the server's limit, brought down to it.
func TestTheProgramRunsToTheEnd(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(&out, "", 30, 5, 0, "gpt-4o-mini"), out.String())
	for _, want := range []string{
		`30 calls \+ 1 stream \(\d+ chunks\) in .+: 0 failed`,
		`limiter now at 1200 RPM \(configured 2400\)`,
		`server: 31 requests, 31 accepted, 0 refused with 429`,
	} {
		assert.Regexp(t, regexp.MustCompile(want), out.String())
	}
}
