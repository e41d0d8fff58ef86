package metrics

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultWaitBuckets are the upper bounds, in seconds, of the wait
// histogram: from 1 ms, a ticket issued at once, to 60 s, a long pause.
var DefaultWaitBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Option configures a Collector. The set of options is closed: use the
// With functions of this package.
type Option interface {
	apply(*config) error
}

type config struct {
	buckets []float64
	labels  prometheus.Labels
}

type option func(*config) error

func (f option) apply(c *config) error { return f(c) }

// WithWaitBuckets replaces DefaultWaitBuckets, the upper bounds of the
// wait histogram in seconds. They must be strictly increasing, and none
// may be NaN.
func WithWaitBuckets(bounds ...float64) Option {
	return option(func(c *config) error {
		if len(bounds) == 0 {
			return fmt.Errorf("metrics: WithWaitBuckets: no bounds")
		}
		for _, b := range bounds {
			if math.IsNaN(b) {
				return fmt.Errorf("metrics: WithWaitBuckets(%v): NaN is no bound", bounds)
			}
		}
		for i := 1; i < len(bounds); i++ {
			if !(bounds[i] > bounds[i-1]) {
				return fmt.Errorf("metrics: WithWaitBuckets(%v): %v after %v: bounds must increase", bounds, bounds[i], bounds[i-1])
			}
		}
		c.buckets = slices.Clone(bounds)
		return nil
	})
}

// WithConstLabels adds labels with fixed values, such as the program's
// name, to every metric. Each name must be one Prometheus takes, other
// than "limiter", the collector's own, and "le", the wait histogram's;
// each value must be UTF-8.
func WithConstLabels(labels prometheus.Labels) Option {
	return option(func(c *config) error {
		for _, own := range []string{labelLimiter, "le"} {
			if _, ok := labels[own]; ok {
				return fmt.Errorf("metrics: WithConstLabels: %q is the collector's own label", own)
			}
		}
		if err := prometheus.NewDesc("ratellmiter_check", "Checks the labels.", nil, labels).Err(); err != nil {
			return fmt.Errorf("metrics: WithConstLabels: %w", err)
		}
		c.labels = maps.Clone(labels)
		return nil
	})
}
