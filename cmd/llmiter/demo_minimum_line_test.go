package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestDemoMinimumLineAddsUpWhenTheWorkloadFitsInTheBurst prints the table
// of a workload smaller than the server's burst: the reckoning of the
// minimum under it gives the minimum it states, as the usage's formula
// does, rather than a negative first term that does not add up.
func TestDemoMinimumLineAddsUpWhenTheWorkloadFitsInTheBurst(t *testing.T) {
	for _, c := range []struct {
		requests, rpm int
		want          string
	}{
		{5, 1200, "= max(0, 5 - 20) / 20 + 0.3 = 0.3 s\n"},
		{300, 1200, "= max(0, 300 - 20) / 20 + 0.3 = 14.3 s\n"},
	} {
		o := &demoOptions{requests: c.requests, rpm: c.rpm, limiterRPM: c.rpm}
		var out bytes.Buffer
		printDemoTable(&out, o, nil, physicalMinimum(c.requests, c.rpm, demoLatency))
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("%d requests at %d RPM: no line ending %q in\n%s", c.requests, c.rpm, c.want, out.String())
		}
	}
}
