package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ratellmiter/ratellmiter"
)

// descs are the descriptions of the metrics read from Stats.
type descs struct {
	requested, issued, finished, cancelled, rateLimited *prometheus.Desc
	waiting, retrying, inFlight                         *prometheus.Desc
	paused, pauses, pausedSeconds                       *prometheus.Desc
	rpm, configuredRPM, learnedRPM, sharedRPM           *prometheus.Desc
	serverRequests, serverTokens                        *prometheus.Desc
}

func newDescs(constLabels prometheus.Labels) descs {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, []string{labelLimiter}, constLabels)
	}
	return descs{
		requested:      d("tickets_requested_total", "Tickets asked for."),
		issued:         d("tickets_issued_total", "Times a ticket was issued, re-issues after rate limits included."),
		finished:       d("tickets_finished_total", "Tickets finished: the call is over."),
		cancelled:      d("tickets_cancelled_total", "Tickets given up: the caller's context ended, a deadline could not be met, or the limiter stopped."),
		rateLimited:    d("rate_limited_total", "Rate-limit errors reported by calls."),
		waiting:        d("waiting", "Tickets waiting to be issued."),
		retrying:       d("retrying", "Rate-limited tickets waiting to be issued again."),
		inFlight:       d("in_flight", "Tickets issued and not finished."),
		paused:         d("paused", "1 while the limiter is paused after a rate limit, else 0."),
		pauses:         d("pauses_total", "Pauses after a rate limit."),
		pausedSeconds:  d("paused_seconds_total", "Time spent paused, the current pause included."),
		rpm:            d("rpm", "Requests per minute the limiter works at now."),
		configuredRPM:  d("configured_rpm", "Requests per minute the limiter is configured with: at its creation, or by SetRPM."),
		learnedRPM:     d("learned_rpm", "Requests per minute the limiter learned from repeated pauses; absent while it has learned none."),
		sharedRPM:      d("shared_rpm", "Requests per minute a shared quota holds the limiter to, below its own; absent otherwise."),
		serverRequests: d("server_remaining_requests", "Requests the server said remain in its window; absent until it says."),
		serverTokens:   d("server_remaining_tokens", "Tokens the server said remain in its window; absent until it says."),
	}
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.requested, d.issued, d.finished, d.cancelled, d.rateLimited,
		d.waiting, d.retrying, d.inFlight,
		d.paused, d.pauses, d.pausedSeconds,
		d.rpm, d.configuredRPM, d.learnedRPM, d.sharedRPM,
		d.serverRequests, d.serverTokens,
	}
}

// collect sends the metrics of one limiter's Stats.
func (d *descs) collect(ch chan<- prometheus.Metric, s ratellmiter.Stats) {
	counter := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, s.Name)
	}
	gauge := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, s.Name)
	}
	counter(d.requested, float64(s.Requested))
	counter(d.issued, float64(s.Issued))
	counter(d.finished, float64(s.Finished))
	counter(d.cancelled, float64(s.Cancelled))
	counter(d.rateLimited, float64(s.RateLimited))
	gauge(d.waiting, float64(s.Waiting))
	gauge(d.retrying, float64(s.Retrying))
	gauge(d.inFlight, float64(s.InFlight))
	paused := 0.0
	if s.Paused {
		paused = 1
	}
	gauge(d.paused, paused)
	counter(d.pauses, float64(s.Pauses))
	counter(d.pausedSeconds, s.PausedTime.Seconds())
	gauge(d.rpm, float64(s.RPM))
	gauge(d.configuredRPM, float64(s.ConfiguredRPM))
	if s.LearnedRPM > 0 {
		gauge(d.learnedRPM, float64(s.LearnedRPM))
	}
	if s.SharedRPM > 0 {
		gauge(d.sharedRPM, float64(s.SharedRPM))
	}
	if s.Server.Requests.Known {
		gauge(d.serverRequests, float64(s.Server.Requests.Remaining))
	}
	if s.Server.Tokens.Known {
		gauge(d.serverTokens, float64(s.Server.Tokens.Remaining))
	}
}
