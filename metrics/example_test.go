package metrics_test

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/metrics"
)

// A Collector reads the limiters of a Monitor when it is scraped; as
// their Observer, it also times every ticket's wait.
func ExampleNewCollector() {
	mon := ratellmiter.NewMonitor()
	defer mon.Stop()
	collector := metrics.NewCollector(mon)
	registry := prometheus.NewRegistry()
	registry.MustRegister(collector)
	limiter, err := ratellmiter.NewBucketRateLimiter(6000, ratellmiter.WithMonitor(mon),
		ratellmiter.WithName("gpt-4o-mini"), ratellmiter.WithObserver(collector))
	if err != nil {
		panic(err)
	}

	for range 3 {
		ticket, err := limiter.Acquire(context.Background())
		if err != nil {
			panic(err)
		}
		ticket.Done()
	}

	families, err := registry.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		switch m := f.GetMetric()[0]; f.GetName() {
		case "ratellmiter_tickets_issued_total", "ratellmiter_tickets_finished_total":
			fmt.Println(f.GetName(), m.GetLabel()[0].GetValue(), m.GetCounter().GetValue())
		case "ratellmiter_wait_seconds":
			fmt.Println(f.GetName(), "count", m.GetHistogram().GetSampleCount())
		}
	}
	// Output:
	// ratellmiter_tickets_finished_total gpt-4o-mini 3
	// ratellmiter_tickets_issued_total gpt-4o-mini 3
	// ratellmiter_wait_seconds count 3
}
