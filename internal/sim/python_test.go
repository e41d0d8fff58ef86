package sim

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

func pythonFactory() ClientFactory {
	return ClientFactory{Name: "python-original", New: func(s Scenario) Client { return NewPythonOriginal(s.ClientRPM) }}
}

func TestPythonRamp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := Scenario{Name: "ramp", Requests: 600, Workers: 100, ClientRPM: 3000,
			Server: ServerConfig{RPM: 1_000_000}}
		res := Run(s, pythonFactory())
		if res.Completed != 600 || res.RateLimited != 0 {
			t.Fatalf("completed %d, 429s %d", res.Completed, res.RateLimited)
		}
		counts := map[int]int{}
		for _, r := range res.Records {
			counts[int(r.LastStart/time.Second)]++
		}
		// 25% of 50, then +10% of 50 per second up to 50.
		want := []int{12, 17, 22, 27, 32, 37, 42, 47, 50, 50, 50, 50, 50, 50, 50, 14}
		for sec, w := range want {
			if counts[sec] != w {
				t.Errorf("second %d issued %d, want %d (all: %v)", sec, counts[sec], w, counts)
			}
		}
	})
}

func TestPythonPauseAndProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := Scenario{Name: "probe", Requests: 20, Workers: 5, ClientRPM: 3000,
			Server: ServerConfig{RPM: 1_000_000, Outages: []Outage{{Dur: 40 * time.Second}}}}
		res := Run(s, pythonFactory())
		if res.Completed != 20 {
			t.Fatalf("completed %d of 20", res.Completed)
		}
		// The calls made at t=0 before the first 429 paused the limiter (one
		// to five, depending on scheduling) are refused; probes follow at
		// 10 s and 25 s (+15 s), both refused, and 47.5 s (+22.5 s).
		if res.RateLimited < 3 || res.RateLimited > 7 {
			t.Errorf("429s = %d, want 3..7", res.RateLimited)
		}
		first := res.Records[0].Done
		for _, r := range res.Records {
			first = min(first, r.Done)
		}
		if first != 47500*time.Millisecond {
			t.Errorf("first success at %v, want 47.5s", first)
		}
		// After the probe the ramp restarts from 25% at the next second.
		counts := map[int]int{}
		for _, r := range res.Records {
			counts[int(r.LastStart/time.Second)]++
		}
		if counts[47] != 1 || counts[48] != 12 || counts[49] != 7 {
			t.Errorf("successful attempts per second = %v, want 1 at 47 s, 12 at 48 s, 7 at 49 s", counts)
		}
	})
}

func TestPythonHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := Scenario{Name: "stuck", Requests: 50, Workers: 10, ClientRPM: 600, Deadline: time.Minute,
			Server: ServerConfig{RPM: 600, Outages: []Outage{{Dur: time.Hour}}}}
		res := Run(s, pythonFactory())
		if !res.Incomplete || res.Completed != 0 || res.Completion != time.Minute {
			t.Errorf("got incomplete=%v completed=%d completion=%v, want a stopped run at 1m",
				res.Incomplete, res.Completed, res.Completion)
		}
	})
}

// TestPythonTicketsPerSecond checks the original's per-second figures at
// rates that are not multiples of 60: a second issues at most RPM/60
// rounded down, so a minute never issues more than RPM, and the ramp
// starts at 25% and grows by 10% of RPM/60, each rounded to the nearest
// (half to even), at least one.
func TestPythonTicketsPerSecond(t *testing.T) {
	for _, tc := range []struct {
		rpm  int
		want []int // tickets issued in seconds 0, 1, 2, ...
	}{
		{90, []int{1, 1, 1, 1}},
		{1800, []int{8, 11, 14, 17, 20, 23, 26, 29, 30, 30}},
		{1799, []int{7, 10, 13, 16, 19, 22, 25, 28, 29, 29}},
	} {
		t.Run(fmt.Sprint(tc.rpm), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := Scenario{Name: "rate", Requests: 2 * tc.rpm, Workers: 2 * tc.rpm, ClientRPM: tc.rpm,
					Server: ServerConfig{RPM: 1_000_000}}
				res := Run(s, pythonFactory())
				counts := map[int]int{}
				var starts []time.Duration
				for _, r := range res.Records {
					counts[int(r.LastStart/time.Second)]++
					starts = append(starts, r.LastStart)
				}
				for sec, w := range tc.want {
					if counts[sec] != w {
						t.Errorf("%d RPM: second %d issued %d, want %d", tc.rpm, sec, counts[sec], w)
					}
				}
				slices.Sort(starts)
				if got := WorstWindow(starts, time.Minute); got > tc.rpm {
					t.Errorf("%d RPM: %d requests in a minute", tc.rpm, got)
				}
			})
		})
	}
}
