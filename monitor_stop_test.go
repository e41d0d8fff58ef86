package ratellmiter

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
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

// stallingHandler is a slog.Handler that holds the first record with the
// given message until release is closed, closing held when it holds it.
type stallingHandler struct {
	msg           string
	once          sync.Once
	held, release chan struct{}
}

func (h *stallingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *stallingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *stallingHandler) WithGroup(string) slog.Handler            { return h }
func (h *stallingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() {
			close(h.held)
			<-h.release
		})
	}
	return nil
}

// A Stop called while another is under way returns only once the Monitor
// is stopped and its log written, with the same result as the first.
func TestAConcurrentStopWaitsForTheFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The log folder cannot be created: writing the last minute fails.
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		// The limiter's first probe finds the service still blocked and
		// stalls saying so in the logger; the first Stop waits for it.
		h := &stallingHandler{msg: "ratellmiter: " + EventProbe, held: make(chan struct{}), release: make(chan struct{})}
		m := NewMonitor(WithLogDir(filepath.Join(file, "logs")), WithLogger(slog.New(h)))
		svc := NewService("svc", func(context.Context) (bool, error) { return true, nil })
		l, err := svc.NewLimiter("a", 600, WithMonitor(m), WithLogger(slog.New(h)))
		if err != nil {
			t.Fatal(err)
		}
		tk, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// Paused; the probe runs at 1.5 s, between two of the log
		// writer's ticks, which would wait for the stalled limiter.
		handBack(tk, 1500*time.Millisecond)
		<-h.held

		first := make(chan error, 1)
		go func() { first <- m.Stop() }()
		synctest.Wait()
		second := make(chan error, 1)
		go func() { second <- m.Stop() }()
		synctest.Wait()
		select {
		case err := <-second:
			t.Errorf("the second Stop returned %v while the first was still stopping the Monitor", err)
			second <- err
		default:
		}

		close(h.release)
		err1, err2 := <-first, <-second
		if err1 == nil {
			t.Fatal("the first Stop returned nil, want the log folder's error")
		}
		if err2 != err1 {
			t.Errorf("the second Stop returned %v, want the first's %v", err2, err1)
		}
	})
}

// A stopped Monitor has no default limiter, even when it had one before.
func TestAStoppedMonitorHasNoDefaultLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor()
		if m.DefaultLimiter() == nil {
			t.Fatal("a running Monitor has no default limiter")
		}
		m.Stop()
		if l := m.DefaultLimiter(); l != nil {
			t.Errorf("after Stop, DefaultLimiter returned %q, want nil", l.Name())
		}
	})
}

// Closing or stopping a paused limiter ends its pause: the limiter no
// longer says it is paused, and its time paused stays what it was then.
func TestAPauseEndsWithTheLimiter(t *testing.T) {
	for _, c := range []struct {
		name string
		end  func(m *Monitor, l *BucketRateLimiter)
	}{
		{"Close", func(m *Monitor, l *BucketRateLimiter) { l.Close() }},
		{"Stop", func(m *Monitor, l *BucketRateLimiter) { m.Stop() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := NewMonitor()
				defer m.Stop()
				l, err := NewBucketRateLimiter(600, WithMonitor(m))
				if err != nil {
					t.Fatal(err)
				}
				tk, err := l.Acquire(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				refused := handBack(tk, time.Hour)
				synctest.Wait()
				time.Sleep(10 * time.Second)
				c.end(m, l) // after 10 s paused
				<-refused

				for _, after := range []time.Duration{0, 10 * time.Second} {
					time.Sleep(after)
					s := l.Stats()
					if s.Paused || s.PausedTime != 10*time.Second || s.Pauses != 1 {
						t.Errorf("%v after the end: Paused %v, PausedTime %v, Pauses %d; want false, 10s, 1",
							after, s.Paused, s.PausedTime, s.Pauses)
					}
				}
			})
		})
	}
}

// A canary that comes back after its limiter was closed resumes nothing:
// the pause ended with the limiter.
func TestACanaryAnsweredAfterCloseLeavesThePauseAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		tk, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// Paused at 0; after 1 s the ticket goes out again as the canary.
		if err := <-handBack(tk, time.Second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * time.Second)
		l.Close() // 5 s paused
		time.Sleep(time.Second)
		tk.Done() // the server admitted the canary

		if s := l.Stats(); s.Paused || s.PausedTime != 5*time.Second {
			t.Errorf("Paused %v, PausedTime %v; want false, 5s", s.Paused, s.PausedTime)
		}
	})
}
