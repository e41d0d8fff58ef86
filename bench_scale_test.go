package ratellmiter

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// The scale benchmarks measure how the costs of one operation grow with
// the number of limiters on a Monitor or of waiters on a limiter: run
// them with -bench Scale -benchmem and compare the sizes.

var scaleSizes = []int{10, 1_000, 10_000}

// BenchmarkScaleNewLimiter creates and closes one limiter on a Monitor
// that holds n others: with and without a name.
func BenchmarkScaleNewLimiter(b *testing.B) {
	for _, named := range []bool{false, true} {
		for _, n := range scaleSizes {
			b.Run(fmt.Sprintf("named=%v/limiters=%d", named, n), func(b *testing.B) {
				m := NewMonitor(WithoutLogs())
				b.Cleanup(func() { m.Stop() })
				for i := range n {
					// The names unnamed limiters take, given here so
					// that setting up n of them costs no more than n.
					name := "default"
					if i > 0 {
						name = fmt.Sprintf("default-%d", i+1)
					}
					if named {
						name = fmt.Sprintf("tenant-%d", i)
					}
					if _, err := NewBucketRateLimiter(60, WithMonitor(m), WithName(name)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				for b.Loop() {
					opts := []Option{WithMonitor(m)}
					if named {
						opts = append(opts, WithName("extra"))
					}
					l, err := NewBucketRateLimiter(60, opts...)
					if err != nil {
						b.Fatal(err)
					}
					l.Close()
				}
			})
		}
	}
}

// BenchmarkScaleLogStep runs the Monitor's once-a-second collection of
// minute logs over n limiters that have nothing to log.
func BenchmarkScaleLogStep(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("limiters=%d", n), func(b *testing.B) {
			m := NewMonitor(WithLogDir(b.TempDir()))
			b.Cleanup(func() { m.Stop() })
			for i := range n {
				if _, err := NewBucketRateLimiter(60, WithMonitor(m), WithName(fmt.Sprint(i))); err != nil {
					b.Fatal(err)
				}
			}
			now := m.now()
			b.ReportAllocs()
			for b.Loop() {
				m.logStep(now)
			}
		})
	}
}

// lineOf returns a limiter (on a Monitor of its own) with a line of n
// waiters, and a function that cancels them and waits for them to go.
func lineOf(b *testing.B, n int) (*BucketRateLimiter, func()) {
	m := NewMonitor(WithoutLogs())
	b.Cleanup(func() { m.Stop() })
	l, err := NewBucketRateLimiter(1, WithMonitor(m))
	if err != nil {
		b.Fatal(err)
	}
	cancels, wg := waitersOn(b, l, n)
	return l, func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	}
}

// waitersOn queues n waiters on a limiter that issues nothing for a
// minute and returns their cancel functions and a wait group that ends
// with them.
func waitersOn(b *testing.B, l *BucketRateLimiter, n int) ([]context.CancelFunc, *sync.WaitGroup) {
	t, err := l.Acquire(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(t.Done)
	cancels := make([]context.CancelFunc, n)
	var wg sync.WaitGroup
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		wg.Go(func() {
			if _, err := l.Acquire(ctx); err == nil {
				b.Error("a waiter got a ticket")
			}
		})
	}
	for l.Stats().Waiting < n {
		time.Sleep(time.Millisecond)
	}
	return cancels, &wg
}

// BenchmarkScaleCancelWaiter cancels the waiter in the middle of a line
// of n and queues another at its end.
func BenchmarkScaleCancelWaiter(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("waiters=%d", n), func(b *testing.B) {
			l, stop := lineOf(b, n)
			// Reach a waiter in the middle of the line through the queue
			// itself, so that the cost measured is the removal.
			l.mu.Lock()
			mid := l.q.front()
			for range n / 2 {
				mid = mid.next
			}
			l.mu.Unlock()
			b.ReportAllocs()
			for b.Loop() {
				l.lock()
				l.q.remove(mid)
				mid.state.Store(stateCancelled)
				l.stats.cancelled++
				l.dispatch(l.now())
				mid.state.Store(stateWaiting)
				l.stats.requested++
				l.q.pushBack(mid)
				l.mu.Unlock()
			}
			stop()
		})
	}
}

// BenchmarkScaleStats takes a snapshot of a limiter with n waiters.
func BenchmarkScaleStats(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("waiters=%d", n), func(b *testing.B) {
			l, stop := lineOf(b, n)
			b.ReportAllocs()
			for b.Loop() {
				_ = l.Stats()
			}
			stop()
		})
	}
}

// heapInUse returns the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkScaleMemory reports the heap held per idle limiter and per
// waiter (the goroutine's stack aside), and what a line of n waiters that
// all gave up leaves held.
func BenchmarkScaleMemory(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for b.Loop() {
				m := NewMonitor(WithoutLogs())
				before := heapInUse()
				ls := make([]*BucketRateLimiter, n)
				for i := range ls {
					l, err := NewBucketRateLimiter(60, WithMonitor(m), WithName(fmt.Sprint(i)))
					if err != nil {
						b.Fatal(err)
					}
					ls[i] = l
				}
				perLimiter := float64(heapInUse()-before) / float64(n)

				l := ls[0]
				before = heapInUse()
				cancels, wg := waitersOn(b, l, n)
				perWaiter := float64(heapInUse()-before) / float64(n)
				for _, c := range cancels {
					c()
				}
				wg.Wait()
				m.Stop()
				runtime.KeepAlive(ls)
				b.ReportMetric(perLimiter, "B/limiter")
				b.ReportMetric(perWaiter, "B/waiter")
			}
		})
	}
}
