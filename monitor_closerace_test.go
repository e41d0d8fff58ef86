package ratellmiter

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
)

// Limiters closed while their Monitor stops have their last minutes
// written, whichever of Close and Stop gets to each limiter first.
func TestClosingWhileTheMonitorStopsLosesNoMinute(t *testing.T) {
	const runs, limiters = 100, 20
	for range runs {
		synctest.Test(t, func(t *testing.T) {
			m := NewMonitor(WithLogDir(t.TempDir()))
			var ls []*BucketRateLimiter
			for i := range limiters {
				l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName(fmt.Sprint(i)))
				if err != nil {
					t.Fatal(err)
				}
				tk, err := l.Acquire(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				tk.Done()
				ls = append(ls, l)
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for _, l := range ls {
				wg.Go(func() { <-start; l.Close() })
			}
			wg.Go(func() { <-start; m.Stop() })
			close(start)
			wg.Wait()
			lf, err := ReadLog(m.LogPath())
			if err != nil {
				t.Fatal(err)
			}
			if got := lf.Limiters(); len(got) != limiters {
				t.Fatalf("%d limiters closed while their Monitor stopped; the log has minutes of %d: %q",
					limiters, len(got), got)
			}
		})
	}
}
