package sim

import (
	"testing"
	"testing/synctest"
)

// runAll runs every scenario with every factory, one synctest bubble per
// run, in parallel, and returns the results scenario-major.
func runAll(t *testing.T, scenarios []Scenario, factories []ClientFactory) []Result {
	t.Helper()
	results := make([]Result, len(scenarios)*len(factories))
	t.Run("runs", func(t *testing.T) {
		for i, s := range scenarios {
			for j, f := range factories {
				k := i*len(factories) + j
				t.Run(s.Name+"/"+f.Name, func(t *testing.T) {
					t.Parallel()
					synctest.Test(t, func(t *testing.T) {
						results[k] = Run(s, f)
					})
				})
			}
		}
	})
	return results
}

func TestCompare(t *testing.T) {
	results := runAll(t, Scenarios(), Peers())
	t.Log("\n" + FormatTable(results))
}
