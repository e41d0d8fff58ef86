package ratellmiter

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every constructor and option refuses an impossible setting with an error
// that names the setting and the value it was given, so that a
// misconfiguration is found where it is made.
func TestBadSettingsAreRefusedByName(t *testing.T) {
	m := newStoppedAtEnd(t)
	limiter := func(rpm int, opts ...Option) func() error {
		return func() error {
			l, err := NewBucketRateLimiter(rpm, append([]Option{WithMonitor(m)}, opts...)...)
			if l != nil {
				t.Errorf("got a limiter along with error %v", err)
				l.Close()
			}
			return err
		}
	}
	monitor := func(opt MonitorOption) func() error {
		return func() error {
			mon := NewMonitor(opt)
			defer mon.Stop()
			if _, err := NewBucketRateLimiter(60, WithMonitor(mon)); err == nil {
				t.Error("a limiter joined a misconfigured Monitor")
			}
			return mon.Start()
		}
	}
	transport := func(opts ...TransportOption) func() error {
		return func() error {
			tr, err := NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, http.ErrNotSupported }), opts...)
			if tr != nil {
				t.Errorf("got a transport along with error %v", err)
			}
			return err
		}
	}
	l := newLimiter(t, 60)
	tests := []struct {
		name  string
		build func() error
		want  []string // what the error names: the setting and the value
	}{
		{"zero rate", limiter(0), []string{"requests per minute", "0"}},
		{"negative rate", limiter(-1), []string{"requests per minute", "-1"}},
		{"ramp start zero", limiter(60, WithRampUp(0, 0.25)), []string{"WithRampUp", "start 0"}},
		{"ramp start above one", limiter(60, WithRampUp(1.5, 0.25)), []string{"WithRampUp", "1.5"}},
		{"ramp start NaN", limiter(60, WithRampUp(math.NaN(), 0.25)), []string{"WithRampUp", "NaN"}},
		{"ramp step zero", limiter(60, WithRampUp(0.5, 0)), []string{"WithRampUp", "step 0"}},
		{"ramp step above one", limiter(60, WithRampUp(0.5, 2)), []string{"WithRampUp", "step 2"}},
		{"probe first zero", limiter(60, WithProbeInterval(0, time.Minute, 1.5)), []string{"WithProbeInterval", "0s"}},
		{"probe first negative", limiter(60, WithProbeInterval(-time.Second, time.Minute, 1.5)), []string{"WithProbeInterval", "-1s"}},
		{"probe max below first", limiter(60, WithProbeInterval(time.Minute, time.Second, 1.5)), []string{"WithProbeInterval", "1s", "1m0s"}},
		{"probe growth below one", limiter(60, WithProbeInterval(time.Second, time.Minute, 0.5)), []string{"WithProbeInterval", "0.5"}},
		{"probe growth NaN", limiter(60, WithProbeInterval(time.Second, time.Minute, math.NaN())), []string{"WithProbeInterval", "NaN"}},
		{"probe timeout zero", limiter(60, WithProbeTimeout(0)), []string{"WithProbeTimeout", "0s"}},
		{"probe timeout negative", limiter(60, WithProbeTimeout(-time.Second)), []string{"WithProbeTimeout", "-1s"}},
		{"negative in-flight cap", limiter(60, WithMaxInFlight(-1)), []string{"WithMaxInFlight", "-1"}},
		{"negative max wait", limiter(60, WithMaxWait(-time.Second)), []string{"WithMaxWait", "-1s"}},
		{"negative retries", limiter(60, WithMaxRetries(-1)), []string{"WithMaxRetries", "-1"}},
		{"empty name", limiter(60, WithName("")), []string{"WithName", "empty"}},
		{"nil monitor", limiter(60, WithMonitor(nil)), []string{"WithMonitor", "nil"}},
		{"nil service", limiter(60, WithService(nil)), []string{"WithService", "nil"}},
		{"nil classifier", limiter(60, WithClassifier(nil)), []string{"WithClassifier", "nil"}},
		{"unnamed service", func() error { _, err := NewService("", nil).NewLimiter("m", 60); return err }, []string{"NewService", "empty name"}},
		{"empty log folder", monitor(WithLogDir("")), []string{"WithLogDir", "empty"}},
		{"zero default rate", monitor(WithDefaultRateLimit(0)), []string{"WithDefaultRateLimit", "0"}},
		{"negative default rate", monitor(WithDefaultRateLimit(-3)), []string{"WithDefaultRateLimit", "-3"}},
		{"default rate above the most", monitor(WithDefaultRateLimit(math.MaxInt)), []string{"WithDefaultRateLimit", strconv.Itoa(math.MaxInt)}},
		{"nil limiter", transport(WithLimiter(nil)), []string{"WithLimiter", "nil"}},
		{"nil service", transport(WithServiceLimiters(nil)), []string{"WithServiceLimiters", "nil"}},
		{"nil *Service", transport(WithServiceLimiters((*Service)(nil))), []string{"WithServiceLimiters", "nil"}},
		{"limiter and service", transport(WithLimiter(l), WithServiceLimiters(NewService("s", nil))), []string{"WithLimiter", "WithServiceLimiters"}},
		{"zero body bound", transport(WithMaxBodyBytes(0)), []string{"WithMaxBodyBytes", "0"}},
		{"negative body bound", transport(WithMaxBodyBytes(-1)), []string{"WithMaxBodyBytes", "-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.build()
			if err == nil {
				t.Fatalf("no error, want one naming %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

// The edges of every setting are valid: a setting is refused only when it
// is impossible.
func TestEdgeSettingsAreAccepted(t *testing.T) {
	m := newStoppedAtEnd(t)
	tests := []struct {
		name string
		rpm  int
		opt  Option
	}{
		{"one request a minute", 1, nil},
		{"no ramp", 60, WithRampUp(1, 1)},
		{"no growth", 60, WithProbeInterval(time.Second, time.Second, 1)},
		{"no in-flight cap", 60, WithMaxInFlight(0)},
		{"no max wait", 60, WithMaxWait(0)},
		{"no retries", 60, WithMaxRetries(0)},
		{"nil option", 60, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewBucketRateLimiter(tc.rpm, WithMonitor(m), tc.opt)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			l.Close()
		})
	}
}
