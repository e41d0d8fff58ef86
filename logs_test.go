package ratellmiter

import (
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

var updateLogs = flag.Bool("update-logs", false, "regenerate the sample minute log in testdata/logs")

// logServer rate limits every call made while it is blocked: during the
// windows given as offsets from its start.
type logServer struct {
	start   time.Time
	windows [][2]time.Duration
}

func (s *logServer) blocked() bool {
	d := time.Since(s.start)
	for _, w := range s.windows {
		if d >= w[0] && d < w[1] {
			return true
		}
	}
	return false
}

// call makes one call under l that takes latency, retrying it with the same
// ticket while the server refuses it.
func (s *logServer) call(t testing.TB, ctx context.Context, l *BucketRateLimiter, latency time.Duration) {
	tk, err := l.Acquire(ctx)
	if err != nil {
		t.Errorf("%s: Acquire: %v", l.Name(), err)
		return
	}
	for {
		time.Sleep(latency)
		if !s.blocked() {
			tk.Done()
			return
		}
		if err := tk.RateLimited(ctx, 2*time.Second); err != nil {
			t.Errorf("%s: RateLimited: %v", l.Name(), err)
			return
		}
	}
}

// drive runs workers goroutines that call through l until the server's
// start plus d, then waits for them.
func (s *logServer) drive(t testing.TB, l *BucketRateLimiter, workers int, d time.Duration, latency func(i int) time.Duration) {
	var wg sync.WaitGroup
	end := s.start.Add(d)
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Now().Before(end); i++ {
				s.call(t, context.Background(), l, latency(w*7+i))
			}
		})
	}
	wg.Wait()
}

func logSum(xs []int) uint64 {
	var n uint64
	for _, x := range xs {
		n += uint64(x)
	}
	return n
}

func TestLogRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(WithLogDir(t.TempDir()))
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
		if err != nil {
			t.Fatal(err)
		}
		srv := &logServer{start: time.Now(), windows: [][2]time.Duration{{70 * time.Second, 75 * time.Second}}}
		srv.drive(t, l, 12, 3*time.Minute, func(i int) time.Duration {
			return time.Duration(300+100*(i%5)) * time.Millisecond
		})
		if err := m.Stop(); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		st := l.Stats()
		if st.RateLimited == 0 || st.Pauses == 0 {
			t.Fatalf("the workload was never rate limited: %+v", st)
		}

		lf, err := ReadLog(m.LogPath())
		if err != nil {
			t.Fatal(err)
		}
		if lf.Skipped != 0 {
			t.Errorf("Skipped = %d, want 0", lf.Skipped)
		}
		if got := lf.Limiters(); len(got) != 1 || got[0] != "a" {
			t.Fatalf("Limiters() = %q, want [a]", got)
		}
		if len(lf.Minutes) < 3 {
			t.Errorf("%d minutes logged, want at least 3", len(lf.Minutes))
		}
		s := lf.Series("a")
		if s.RPM != 600 {
			t.Errorf("RPM = %d, want 600", s.RPM)
		}
		for _, c := range []struct {
			name string
			log  []int
			want uint64
		}{
			{"requested", s.Requested, st.Requested},
			{"issued", s.Issued, st.Issued},
			{"overflow", s.Overflow, st.Overflow},
			{"rate limited", s.RateLimited, st.RateLimited},
			{"finished", s.Finished, st.Finished},
		} {
			if got := logSum(c.log); got != c.want {
				t.Errorf("%s: log sums to %d, Stats says %d", c.name, got, c.want)
			}
		}
		for i, n := range s.Issued {
			if n > 10 {
				t.Errorf("second %d: %d issued, cap is 10", i, n)
			}
		}

		paused := 0
		for _, p := range s.Paused {
			if p {
				paused++
			}
		}
		if paused < 3 {
			t.Errorf("%d paused seconds, want at least 3", paused)
		}
		kinds := map[string]int{}
		for _, e := range s.Events {
			kinds[e.Kind]++
			if e.Second < 0 || e.Second >= s.Len() {
				t.Errorf("event %+v outside the series", e)
			}
		}
		if kinds[EventPause] == 0 || kinds[EventProbe] == 0 || kinds[EventResume] == 0 {
			t.Errorf("events %v, want pause, probe and resume", kinds)
		}
		for _, e := range s.Events {
			if e.Kind == EventPause && !s.Paused[e.Second] {
				t.Errorf("second %d of the pause event is not marked paused", e.Second)
			}
		}
		// The pause began where the server started refusing calls.
		first := -1
		for i, p := range s.Paused {
			if p {
				first = i
				break
			}
		}
		if want := int(srv.start.Unix()-s.Start) + 70; first < want || first > want+1 {
			t.Errorf("first paused second %d, want about %d", first, want)
		}
	})
}

func TestLogFolderCannotBeCreated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		m := NewMonitor(WithLogDir(filepath.Join(file, "logs")))
		l, err := NewBucketRateLimiter(120, WithMonitor(m), WithName("a"))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for range 150 { // spans more than a minute, so minutes are written before Stop
			tk, err := l.Acquire(ctx)
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			tk.Done()
		}
		if st := l.Stats(); st.Finished != 150 {
			t.Errorf("Finished = %d, want 150", st.Finished)
		}
		err = m.Stop()
		if err == nil {
			t.Fatal("Stop returned nil, want the log folder's error")
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			t.Errorf("Stop: %v, want an error wrapping *fs.PathError", err)
		}
		if err2 := m.Stop(); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("second Stop: %v, want %v", err2, err)
		}
	})
}

// TestLogSample regenerates testdata/logs with -update-logs: a few minutes
// of two limiters of one Monitor under a fake workload, one of them paused
// by a burst of rate-limit errors. It always checks the committed sample.
func TestLogSample(t *testing.T) {
	if *updateLogs {
		var path string
		var data []byte
		synctest.Test(t, func(t *testing.T) {
			path = writeLogSample(t)
			var err error
			if data, err = os.ReadFile(path); err != nil {
				t.Fatal(err)
			}
		})
		old, _ := filepath.Glob(filepath.Join("testdata", "logs", "*.jsonl"))
		for _, p := range old {
			os.Remove(p)
		}
		if err := os.MkdirAll(filepath.Join("testdata", "logs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "logs", filepath.Base(path)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path, err := LatestLog(filepath.Join("testdata", "logs"))
	if err != nil {
		t.Fatal(err)
	}
	lf, err := ReadLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if lf.Skipped != 0 {
		t.Errorf("%s: %d lines skipped", path, lf.Skipped)
	}
	want := []string{"anthropic/claude", "openai/gpt-4o-mini"}
	if got := lf.Limiters(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Limiters() = %q, want %q", got, want)
	}
	s := lf.Series("anthropic/claude")
	if s.Len() < 180 {
		t.Errorf("sample spans %d seconds, want at least 3 minutes", s.Len())
	}
	kinds := map[string]bool{}
	for _, e := range s.Events {
		kinds[e.Kind] = true
	}
	if !kinds[EventPause] || !kinds[EventProbe] || !kinds[EventResume] {
		t.Errorf("sample events of anthropic/claude %v, want pause, probe and resume", kinds)
	}
}

// writeLogSample runs the sample workload and returns the log it wrote.
func writeLogSample(t *testing.T) string {
	time.Sleep(17 * time.Second) // start within a minute, as real runs do
	m := NewMonitor(WithLogDir(t.TempDir()))
	oai, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("openai/gpt-4o-mini"))
	if err != nil {
		t.Fatal(err)
	}
	ant, err := NewBucketRateLimiter(300, WithMonitor(m), WithName("anthropic/claude"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	// OpenAI: a steady batch job with a second, heavier wave in the middle.
	oaiSrv := &logServer{start: start}
	wg.Go(func() {
		oaiSrv.drive(t, oai, 6, 4*time.Minute, func(i int) time.Duration {
			return time.Duration(400+137*(i%9)) * time.Millisecond
		})
	})
	wg.Go(func() {
		time.Sleep(75 * time.Second)
		w := &logServer{start: start}
		w.drive(t, oai, 14, 190*time.Second, func(i int) time.Duration {
			return time.Duration(700+211*(i%7)) * time.Millisecond
		})
	})
	// Anthropic: more demand than its limit, and a burst of 429s after
	// about two minutes that lasts longer than the first probe.
	antSrv := &logServer{start: start, windows: [][2]time.Duration{{118 * time.Second, 127 * time.Second}}}
	wg.Go(func() {
		antSrv.drive(t, ant, 9, 4*time.Minute+20*time.Second, func(i int) time.Duration {
			return time.Duration(900+313*(i%11)) * time.Millisecond
		})
	})
	wg.Wait()
	time.Sleep(10 * time.Second)
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	return m.LogPath()
}

// minutesWithALimitReport runs a logging limiter at 1200 RPM created at
// created: one ticket at once, then, after wait, the server reports a limit
// of 600. It returns the minutes logged.
func minutesWithALimitReport(t *testing.T, created, wait time.Duration) []MinuteLog {
	time.Sleep(created)
	m := NewMonitor(WithLogDir(t.TempDir()))
	l, err := NewBucketRateLimiter(1200, WithMonitor(m), WithName("a"))
	if err != nil {
		t.Fatal(err)
	}
	tk, _ := l.Acquire(context.Background())
	tk.Done()
	time.Sleep(wait)
	now := time.Now()
	l.observe(signals.Limits{Requests: signals.Budget{Limit: 600, Remaining: 100, Reset: now.Add(time.Second), Known: true}}, now)
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	lf, err := ReadLog(m.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	return lf.Minutes
}

func TestTheMinuteLogKeepsTheLimitInUseAtItsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		minutes := minutesWithALimitReport(t, 0, 30*time.Second)
		if len(minutes) != 1 || minutes[0].RPM != 600 {
			t.Fatalf("minutes %+v, want one with rpm 600", minutes)
		}
	})
}

func TestALimitChangeJustAfterAMinuteLeavesThatMinutesLogAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Created at 0.5 s, when the Monitor's loop ticks; the report
		// comes at 60.2 s: minute 1 has begun, and the Monitor has not
		// yet taken minute 0's record.
		minutes := minutesWithALimitReport(t, 500*time.Millisecond, 59*time.Second+700*time.Millisecond)
		var rpms []int
		for _, m := range minutes {
			rpms = append(rpms, m.RPM)
		}
		if len(rpms) != 2 || rpms[0] != 1200 || rpms[1] != 600 {
			t.Fatalf("minutes with rpm %v, want minute 0 at 1200 and minute 1 at 600", rpms)
		}
	})
}

// A ticket issued as its waiter gave up goes back unused: the minute log
// does not count it issued.
func TestATicketGivenBackIsNotLoggedIssued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(WithLogDir(t.TempDir()))
		l := m.DefaultLimiter()
		used, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		used.Done()
		back, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		l.lock()
		l.giveBack(back) // as wait does when ctx ends as the ticket is issued
		l.mu.Unlock()
		time.Sleep(time.Second)
		if err := m.Stop(); err != nil {
			t.Fatal(err)
		}
		lf, err := ReadLog(m.LogPath())
		if err != nil {
			t.Fatal(err)
		}
		s := lf.Series("default")
		if issued, finished := logSum(s.Issued), logSum(s.Finished); issued != 1 || finished != 1 {
			t.Errorf("logged %d issued and %d finished, want 1 and 1", issued, finished)
		}
		if st := l.Stats(); st.Issued != logSum(s.Issued) {
			t.Errorf("Stats says %d issued, the log %d", st.Issued, logSum(s.Issued))
		}
	})
}

// A limiter closed while paused just after a minute began logs the pause
// in that minute too: it was paused until it closed. Whether the Monitor
// had taken the minute before (its loop ticks at 0 s past each second) or
// not yet (its loop ticks at 0.5 s) makes no difference.
func TestAPauseUntilCloseIsLoggedInTheClosingMinute(t *testing.T) {
	for _, c := range []struct {
		name    string
		created time.Duration // when the Monitor starts, and its loop's phase
		closeAt time.Duration
	}{
		{"minute taken", 0, 60*time.Second + 500*time.Millisecond},
		{"minute not taken yet", 500 * time.Millisecond, 60*time.Second + 200*time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				time.Sleep(c.created)
				m := NewMonitor(WithLogDir(t.TempDir()))
				l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
				if err != nil {
					t.Fatal(err)
				}
				tk, err := l.Acquire(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(30*time.Second - c.created)
				done := make(chan error)
				go func() { done <- tk.RateLimited(context.Background(), 10*time.Minute) }()
				time.Sleep(c.closeAt - time.Since(start))
				if !l.Stats().Paused {
					t.Fatal("not paused")
				}
				l.Close()
				if err := <-done; !errors.Is(err, ErrClosed) {
					t.Errorf("RateLimited = %v, want ErrClosed", err)
				}
				if err := m.Stop(); err != nil {
					t.Fatal(err)
				}
				lf, err := ReadLog(m.LogPath())
				if err != nil {
					t.Fatal(err)
				}
				s := lf.Series("a")
				if s.Len() != 120 {
					t.Fatalf("the log spans %d seconds, want minutes 0 and 1", s.Len())
				}
				for i, p := range s.Paused {
					if want := i >= 30 && i <= 60; p != want {
						t.Errorf("second %d: paused %v, want %v", i, p, want)
					}
				}
			})
		})
	}
}
