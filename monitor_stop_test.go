package ratellmiter

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// pausedSeconds returns the seconds of the minute starting at start that
// the limiter's log marks paused.
func pausedSeconds(t *testing.T, m *Monitor, limiter string, start int64) []int {
	t.Helper()
	lf, err := ReadLog(m.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range lf.Minutes {
		if rec.Limiter != limiter || rec.Start != start {
			continue
		}
		var secs []int
		for s, p := range rec.Paused {
			if p {
				secs = append(secs, s)
			}
		}
		return secs
	}
	t.Fatalf("no minute of %s starting at %d in the log", limiter, start)
	return nil
}

func secondsFromTo(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// A pause still on when the limiter ends, by Stop or by Close, is logged
// up to the second the limiter ended, not to the end of its minute.
func TestAPauseInProgressIsLoggedUpToTheEndOfTheLimiter(t *testing.T) {
	for _, c := range []struct {
		name string
		end  func(m *Monitor, l *BucketRateLimiter)
	}{
		{"Stop", func(m *Monitor, l *BucketRateLimiter) { m.Stop() }},
		{"Close", func(m *Monitor, l *BucketRateLimiter) { l.Close(); m.Stop() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := NewMonitor(WithLogDir(t.TempDir()))
				l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
				if err != nil {
					t.Fatal(err)
				}
				minute := time.Now().Unix() // the bubble starts on a minute
				time.Sleep(10 * time.Second)
				tk, err := l.Acquire(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				refused := handBack(tk, time.Hour) // paused from second 10 on
				time.Sleep(10 * time.Second)
				c.end(m, l) // at second 20
				<-refused

				got := pausedSeconds(t, m, "a", minute)
				if want := secondsFromTo(10, 20); !slices.Equal(got, want) {
					t.Errorf("paused seconds %v, want %v", got, want)
				}
			})
		})
	}
}

// A pause that outlasts its minute marks the rest of that minute paused,
// and the next minute up to the second the limiter ended.
func TestAPauseAcrossAMinuteIsLoggedInBothMinutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(WithLogDir(t.TempDir()))
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
		if err != nil {
			t.Fatal(err)
		}
		minute := time.Now().Unix()
		time.Sleep(50 * time.Second)
		tk, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		refused := handBack(tk, time.Hour) // paused from second 50 on
		time.Sleep(15*time.Second + 500*time.Millisecond)
		m.Stop() // at 65.5 s
		<-refused

		if got, want := pausedSeconds(t, m, "a", minute), secondsFromTo(50, 59); !slices.Equal(got, want) {
			t.Errorf("first minute: paused seconds %v, want %v", got, want)
		}
		if got, want := pausedSeconds(t, m, "a", minute+60), secondsFromTo(0, 5); !slices.Equal(got, want) {
			t.Errorf("second minute: paused seconds %v, want %v", got, want)
		}
	})
}
