package ratellmiter

import (
	"context"
	"runtime"
	"testing"

	"golang.org/x/time/rate"
)

// The benchmarks run each limiter at a rate far above what the loop can
// reach, so they measure the cost of taking and finishing a ticket, not
// the pacing. Each ratellmiter benchmark has an x/time/rate twin measured
// in the same run.

const benchRPM = 60_000_000_000 // a billion per second

func benchLimiter(b *testing.B) *BucketRateLimiter {
	m := NewMonitor()
	b.Cleanup(func() { m.Stop() })
	l, err := NewBucketRateLimiter(benchRPM, WithMonitor(m), WithRampUp(1, 1))
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func BenchmarkAcquireDone(b *testing.B) {
	l := benchLimiter(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		t, err := l.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		t.Done()
	}
}

func BenchmarkXRateWait(b *testing.B) {
	l := rate.NewLimiter(rate.Limit(benchRPM/60), 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// parallelism makes RunParallel use about 1,000 goroutines.
func parallelism() int { return max(1, 1000/parallelismProcs()) }

// parallelismProcs is what RunParallel multiplies the parallelism by.
func parallelismProcs() int { return runtime.GOMAXPROCS(0) }

func BenchmarkAcquireDone1000Goroutines(b *testing.B) {
	l := benchLimiter(b)
	b.ReportAllocs()
	acquireDoneParallel(b, l, parallelism())
}

// acquireDoneParallel takes and finishes b.N tickets of l from
// RunParallel's goroutines, p for each GOMAXPROCS.
func acquireDoneParallel(b *testing.B, l *BucketRateLimiter, p int) {
	ctx := context.Background()
	b.SetParallelism(p)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, err := l.Acquire(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			t.Done()
		}
	})
}

func BenchmarkXRateWait1000Goroutines(b *testing.B) {
	l := rate.NewLimiter(rate.Limit(benchRPM/60), 1)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(parallelism())
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Wait(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
