package ratellmiter

import (
	"context"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// The paced benchmarks run each limiter at a real provider's high rate,
// 100,000 RPM, with 50 goroutines waiting for tickets on the real clock:
// a ticket every 600 µs is the most either can give, so ns/op measures how
// much of its rate each keeps when timers fire late. The pacing ratio is
// ns/op of x/time/rate over ns/op of ratellmiter, in the same run.

const pacedRPM = 100_000

func BenchmarkPacedAcquire(b *testing.B) {
	m := NewMonitor()
	b.Cleanup(func() { m.Stop() })
	l, err := NewBucketRateLimiter(pacedRPM, WithMonitor(m), WithRampUp(1, 1))
	if err != nil {
		b.Fatal(err)
	}
	acquireDoneParallel(b, l, max(1, 50/parallelismProcs()))
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(time.Minute/pacedRPM), "×spacing")
}

func BenchmarkPacedXRateWait(b *testing.B) {
	l := rate.NewLimiter(rate.Limit(pacedRPM/60.0), 1)
	ctx := context.Background()
	b.SetParallelism(max(1, 50/parallelismProcs()))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Wait(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(time.Minute/pacedRPM), "×spacing")
}
