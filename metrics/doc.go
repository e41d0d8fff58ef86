// Package metrics exposes the state of ratellmiter limiters to Prometheus.
//
// A Collector reads every limiter of a Monitor when it is scraped, so it
// costs nothing between scrapes, and it observes how long each ticket
// waited, for a histogram of waits. Register it, and give it to the
// limiters as their Observer:
//
//	c := metrics.NewCollector(ratellmiter.DefaultMonitor())
//	prometheus.MustRegister(c)
//	limiter, err := ratellmiter.NewBucketRateLimiter(500, ratellmiter.WithObserver(c))
//
// Every metric is in the namespace "ratellmiter" and carries the label
// "limiter", the limiter's name. Limiters that share a name are added up;
// when one of them closes, its counts stay in the sum, so that the counters
// of the name never go down while another limiter has it. Once no limiter
// of the Monitor has a name, its metrics, the wait histogram included, are
// dropped, so limiters of passing names do not pile up series.
//
// The package is separate so that importing ratellmiter does not import
// the Prometheus client.
package metrics
