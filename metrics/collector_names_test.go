package metrics

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limiter's name is the program's to choose, and may hold bytes that
// are not UTF-8 (a model name cut in the middle of a character, say),
// which Prometheus refuses as a label value. Its tickets are issued all
// the same, and every limiter is scraped, that one under its name with
// the bad bytes replaced by U+FFFD; names that differ only in their bad
// bytes are added up, as names that are the same are.
func TestCollectorTakesNamesThatAreNotUTF8(t *testing.T) {
	m := newMonitor(t)
	c := NewCollector(m)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	for _, name := range []string{"gpt-\xe2\x82", "gpt-\xff", "ok"} {
		l := newLimiter(t, m, c, name, 600)
		require.NotPanics(t, func() {
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			tk.Done()
		}, "Acquire of limiter %q", name)
	}

	mfs, err := reg.Gather()
	require.NoError(t, err)
	issued := map[string]float64{}
	waits := map[string]uint64{}
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			name := metric.GetLabel()[0].GetValue()
			switch mf.GetName() {
			case "ratellmiter_tickets_issued_total":
				issued[name] = metric.GetCounter().GetValue()
			case "ratellmiter_wait_seconds":
				waits[name] = metric.GetHistogram().GetSampleCount()
			}
		}
	}
	assert.Equal(t, map[string]float64{"gpt-\uFFFD": 2, "ok": 1}, issued)
	assert.Equal(t, map[string]uint64{"gpt-\uFFFD": 2, "ok": 1}, waits)
}
