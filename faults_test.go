package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Faults: what the limiter does when what it depends on misbehaves. Probe
// errors, panics and timeouts of a single probe are in probe_test.go.

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu   sync.Mutex
	recs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	r.mu.Lock()
	r.recs = append(r.recs, b.String())
	r.mu.Unlock()
	return nil
}

// matching returns the records that contain every one of words.
func (r *logRecorder) matching(words ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
next:
	for _, rec := range r.recs {
		for _, w := range words {
			if !strings.Contains(rec, w) {
				continue next
			}
		}
		out = append(out, rec)
	}
	return out
}

func TestFaultProbeThatAlwaysPanicsKeepsThePauseAndSaysSo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &logRecorder{}
		svc := newScriptedService(func(context.Context) (bool, error) { panic("probe bug") })
		l := newLimiter(t, 600, WithService(svc), WithLogger(slog.New(rec)))
		tk, _ := l.Acquire(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		err := tk.RateLimited(ctx, 0)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the retry waits for a probe that never says yes, until its context ends")
		assert.Equal(t, 30*time.Second, time.Since(start))
		calls := svc.callTimes()
		assert.Len(t, calls, 6, "probes at 1, 2.5, 4.75, 8.1, 13.2 and 20.8 s: backing off, never stopping")
		assert.True(t, l.Stats().Paused)
		assert.NotEmpty(t, rec.matching("probe failed", "panicked", "probe bug"), "the panic is said through the logger")
		assertConserved(t, l)
	})
}

func TestFaultStopReturnsWhileAProbeHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(func(ctx context.Context) (bool, error) { <-ctx.Done(); return false, ctx.Err() })
		m := NewMonitor()
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithService(svc), WithProbeTimeout(time.Hour))
		require.NoError(t, err)
		tk, _ := l.Acquire(context.Background())
		retried := handBack(tk, 0)
		waiter := make(chan error, 1)
		go func() { _, err := l.Acquire(context.Background()); waiter <- err }()
		time.Sleep(5 * time.Second)
		require.Len(t, svc.callTimes(), 1, "the probe is running")
		start := time.Now()
		require.NoError(t, m.Stop())
		assert.Zero(t, time.Since(start), "Stop cancels the probe instead of waiting for its timeout")
		assert.ErrorIs(t, <-retried, ErrStopped)
		assert.ErrorIs(t, <-waiter, ErrStopped)
		assertConserved(t, l)
	})
}

// A probe must honour its context (RateLimitedService.IsBlocked says so).
// One that does not should still not hold the limiter, or Stop, forever.
func TestFaultProbeIgnoringItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		svc := newScriptedService(func(context.Context) (bool, error) { <-release; return true, nil }, openAnswer)
		m := NewMonitor()
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithService(svc), WithProbeTimeout(2*time.Second))
		require.NoError(t, err)
		tk, _ := l.Acquire(context.Background())
		retried := handBack(tk, 0)
		time.Sleep(time.Minute)
		assert.GreaterOrEqual(t, len(svc.callTimes()), 2, "a probe past its timeout counts as blocked, and the next one runs")
		stopped := make(chan error, 1)
		go func() { stopped <- m.Stop() }()
		time.Sleep(time.Minute)
		select {
		case err := <-stopped:
			assert.NoError(t, err)
		default:
			t.Error("Stop still waits for the probe a minute later")
		}
		release <- struct{}{}
		<-retried
	})
}

func TestFaultPanicInDoFreesItsInFlightSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6000, WithMaxInFlight(1))
		inside := make(chan struct{})
		go func() {
			defer func() { _ = recover() }()
			_, _ = Do(context.Background(), l, func(context.Context) (int, error) {
				close(inside)
				time.Sleep(time.Second)
				panic("boom")
			})
		}()
		<-inside
		start := time.Now()
		got, err := Do(context.Background(), l, func(context.Context) (int, error) { return 1, nil })
		require.NoError(t, err)
		assert.Equal(t, 1, got)
		assert.Equal(t, time.Second, time.Since(start), "the waiter gets the slot the moment the other call panics")
		st := l.Stats()
		assert.EqualValues(t, 2, st.Finished)
		assert.Zero(t, st.InFlight)
	})
}

// tooManyRequests is a real server on 127.0.0.1 that answers every
// request with 429 and a 5 ms retry hint, and counts the requests.
func tooManyRequests(t *testing.T) (url string, hits *atomic.Int64) {
	t.Helper()
	hits = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After-Ms", "5")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`)
	}))
	t.Cleanup(srv.Close)
	require.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"), srv.URL)
	return srv.URL, hits
}

// fastProbes are the options of a limiter whose pauses last milliseconds,
// for tests against real servers.
func fastProbes() []Option {
	return []Option{WithProbeInterval(5*time.Millisecond, 20*time.Millisecond, 2), WithRampUp(1, 1), WithMaxRetries(3)}
}

func TestFault429ForeverThroughTheTransport(t *testing.T) {
	url, hits := tooManyRequests(t)
	l := newLimiter(t, 60000, fastProbes()...)
	tr := tpTransport(t, nil, WithLimiter(l))
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", strings.NewReader(`{"model":"m"}`))
	require.NoError(t, err)

	resp, err := tr.Client().Do(req)
	require.NoError(t, err, "the transport hands the last answer on")
	body, _ := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Contains(t, string(body), "rate_limit_exceeded")
	assert.EqualValues(t, 4, hits.Load(), "one attempt and WithMaxRetries(3) retries, then no more")
	st := l.Stats()
	assert.EqualValues(t, 4, st.RateLimited)
	assert.Zero(t, st.InFlight)
	assert.EqualValues(t, 1, st.Finished)
	assertConserved(t, l)
}

func TestFault429ForeverThroughDo(t *testing.T) {
	url, hits := tooManyRequests(t)
	l := newLimiter(t, 60000, fastProbes()...)
	client := &http.Client{}
	t.Cleanup(client.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := Do(ctx, l, func(ctx context.Context) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/models", nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			return "", &RateLimitError{StatusCode: resp.StatusCode, RetryAfter: 5 * time.Millisecond}
		}
		return resp.Status, nil
	})
	assert.ErrorIs(t, err, ErrRateLimited)
	var rl *RateLimitError
	require.ErrorAs(t, err, &rl, "the last 429 is wrapped too")
	assert.Equal(t, http.StatusTooManyRequests, rl.StatusCode)
	assert.EqualValues(t, 4, hits.Load(), "one attempt and WithMaxRetries(3) retries, then no more")
	st := l.Stats()
	assert.Zero(t, st.InFlight)
	assertConserved(t, l)
}

// issueFor takes and finishes tickets of l for d, one every gap.
func issueFor(t *testing.T, l *BucketRateLimiter, d, gap time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		time.Sleep(gap)
	}
}

func TestFaultLogFolderRemovedMidRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &logRecorder{}
		dir := filepath.Join(t.TempDir(), "logs")
		m := NewMonitor(WithLogDir(dir), WithLogger(slog.New(rec)))
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
		require.NoError(t, err)
		issueFor(t, l, 90*time.Second, time.Second)
		time.Sleep(time.Second) // the log loop writes the first minute
		require.FileExists(t, m.LogPath())
		require.NoError(t, os.RemoveAll(dir))

		issueFor(t, l, 2*time.Minute, time.Second)
		assert.EqualValues(t, 210, l.Stats().Finished, "the limiter kept issuing")
		stopErr := m.Stop()

		if stopErr != nil {
			assert.NotEmpty(t, rec.matching("ERROR"), "the error Stop returns was said through the logger")
			return
		}
		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err, "the minutes after the removal are written to a new folder")
		var finished uint64
		for _, s := range lf.Minutes {
			finished += logSum(s.Finished[:])
		}
		assert.GreaterOrEqual(t, finished, uint64(120), "the minutes after the removal are in it")
	})
}

func TestFaultLogFileOnAFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full:", err)
	}
	synctest.Test(t, func(t *testing.T) {
		rec := &logRecorder{}
		dir := t.TempDir()
		m := NewMonitor(WithLogDir(dir), WithLogger(slog.New(rec)))
		l, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("a"))
		require.NoError(t, err)
		issueFor(t, l, 61*time.Second, time.Second)
		synctest.Wait() // the log loop writes the first minute
		// Its file becomes a device that is always full.
		name := m.LogPath()
		require.FileExists(t, name)
		require.NoError(t, os.Remove(name))
		require.NoError(t, os.Symlink("/dev/full", name))

		issueFor(t, l, 2*time.Minute, time.Second)
		assert.EqualValues(t, 181, l.Stats().Finished, "the limiter kept issuing")
		err = m.Stop()
		assert.ErrorIs(t, err, syscall.ENOSPC, "Stop returns the write error")
		assert.Len(t, rec.matching("ERROR", "not being written", "no space left"), 1, "said once through the logger")
		assert.ErrorIs(t, m.Stop(), syscall.ENOSPC, "and again from a second Stop")
	})
}

func TestFaultStopWhileManyAcquire(t *testing.T) {
	const callers, rounds = 200, 50
	m := NewMonitor()
	l, err := NewBucketRateLimiter(6_000_000, WithMonitor(m), WithRampUp(1, 1))
	require.NoError(t, err)
	var tickets, stopped atomic.Int64
	var wg sync.WaitGroup
	begin := make(chan struct{})
	for range callers {
		wg.Go(func() {
			<-begin
			for range rounds {
				tk, err := l.Acquire(context.Background())
				if err != nil {
					if !errors.Is(err, ErrStopped) {
						t.Errorf("Acquire: %v, want a ticket or ErrStopped", err)
					}
					stopped.Add(1)
					return
				}
				tickets.Add(1)
				tk.Done()
			}
		})
	}
	close(begin)
	for tickets.Load() < callers { // stop in the middle of the load
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, m.Stop())
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("callers still blocked 10 s after Stop")
	}
	assert.Positive(t, stopped.Load(), "some callers were refused")
	st := l.Stats()
	assert.Zero(t, st.Waiting)
	assert.Zero(t, st.InFlight)
	assert.EqualValues(t, tickets.Load(), st.Finished)
	assertConserved(t, l)
}

// A jump of the wall clock (NTP, a suspended laptop, an operator) must not
// move the limiter's buckets. The limiter's time line is its creation time
// plus the monotonic time elapsed since (BucketRateLimiter.now). A test
// cannot move this machine's wall clock, and synctest's fake clock moves
// wall and monotonic time together, so the guarantee is checked in its two
// parts: the origin carries a monotonic reading, so time.Since ignores the
// wall clock; and nothing else in the package reads the wall clock to
// decide when a ticket may go.

func TestWallClockJumpMovesNoBucket(t *testing.T) {
	l := newLimiter(t, 600)
	// Time.String shows the monotonic reading as "m=±<seconds>". Round(0),
	// UTC(), In() and Local() all strip it; an origin without one would
	// make every bucket follow the wall clock.
	assert.Contains(t, l.base.String(), " m=", "the limiter's origin has a monotonic clock reading")
	stripped := l.base.Round(0)
	assert.NotContains(t, stripped.String(), " m=", "the check above can fail")

	before := l.now()
	after := l.now()
	assert.GreaterOrEqual(t, after, before, "the time line never goes back")
}

// wallClockReaders are the functions of the package allowed to call
// time.Now: the limiter's origin, the log file's name, and the readers of
// the dates servers send (compared with the wall clock, then turned into
// durations on the time line).
var wallClockReaders = map[string]bool{
	"NewBucketRateLimiter": true,
	"startLocked":          true,
	"DefaultClassifier":    true,
	"RoundTrip":            true,
	"observeHeaders":       true,
	"inspect":              true,
	"removeOldLogs":        true, // the age of log files, dated by others on the wall clock
}

func TestOnlyTheOriginAndServerDatesReadTheWallClock(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Now" {
					return true
				}
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "time" && !wallClockReaders[fn.Name.Name] {
					t.Errorf("%s: %s reads the wall clock; use the limiter's time line (l.now()) so that a clock jump moves no bucket",
						fset.Position(sel.Pos()), fn.Name.Name)
				}
				return true
			})
		}
	}
}
