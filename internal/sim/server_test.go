package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// randomSchedule returns sorted arrival offsets mixing simultaneous bursts,
// traffic from well below to well above rpm, and idle gaps.
func randomSchedule(r *rand.Rand, rpm int, span time.Duration) []time.Duration {
	var out []time.Duration
	perSec := float64(rpm) / 60
	var t time.Duration
	for t < span {
		switch r.IntN(4) {
		case 0: // burst at one instant
			for range 1 + r.IntN(3*int(perSec)+3) {
				out = append(out, t)
			}
		case 1: // idle
			t += time.Duration(r.Float64() * float64(5*time.Second))
		default: // Poisson traffic at 0.2x to 5x the limit for a few seconds
			rateX := perSec * (0.2 + 4.8*r.Float64())
			end := t + time.Duration(r.Float64()*float64(10*time.Second))
			for t < end {
				t += time.Duration(r.ExpFloat64() / rateX * float64(time.Second))
				out = append(out, t)
			}
		}
	}
	return out
}

// TestServerAdmitsWhatItClaims checks, on random arrival schedules, that no
// 1 s window holds more than perSec+capacity accepted requests and no 60 s
// window more than a minute's worth plus capacity.
func TestServerAdmitsWhatItClaims(t *testing.T) {
	for _, window := range []WindowKind{TokenBucket, FixedSecond} {
		for _, rpm := range []int{7, 60, 100, 600, 3000, 10000} {
			for seed := range int64(4) {
				name := fmt.Sprintf("%v/rpm=%d/seed=%d", window, rpm, seed)
				t.Run(name, func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						r := rand.New(rand.NewPCG(uint64(seed), uint64(rpm)))
						cfg := ServerConfig{RPM: rpm, Window: window, Seed: seed}
						if seed%2 == 1 {
							cfg.PenaltyAfter, cfg.PenaltyFor = 5, 3*time.Second
							cfg.Outages = []Outage{{Start: 20 * time.Second, Dur: 7 * time.Second}}
						}
						srv := NewServer(cfg)
						start := time.Now()
						sched := randomSchedule(r, rpm, 150*time.Second)
						for i, at := range sched {
							time.Sleep(time.Until(start.Add(at)))
							_ = srv.Call(context.Background(), Request{ID: i})
						}

						perSec := (rpm + 59) / 60
						capacity := max(rpm/60, 1) // whole requests a full bucket holds
						perMin := rpm
						if window == FixedSecond {
							// Counts reset every second: a window straddles
							// two seconds, and a minute holds 60 full ones.
							capacity = perSec
							perMin = 60 * perSec
						}
						acc := srv.Accepted()
						w1, w60 := WorstWindow(acc, time.Second), WorstWindow(acc, time.Minute)
						if w1 > perSec+capacity {
							t.Errorf("worst 1 s window %d > %d", w1, perSec+capacity)
						}
						if w60 > perMin+capacity {
							t.Errorf("worst 60 s window %d > %d", w60, perMin+capacity)
						}
						if w1 > srv.Limit(time.Second) || w60 > srv.Limit(time.Minute) {
							t.Errorf("windows %d, %d exceed the server's own limits %d, %d",
								w1, w60, srv.Limit(time.Second), srv.Limit(time.Minute))
						}
						if len(acc) == 0 || srv.RateLimitedCount() == 0 {
							t.Errorf("schedule of %d arrivals: %d accepted, %d refused; want both",
								len(sched), len(acc), srv.RateLimitedCount())
						}
					})
				})
			}
		}
	}
}

// TestServerRetryAfterIsExact drives a lone client that obeys the hint: one
// millisecond before the hint expires the server still refuses, at the hint
// it accepts, and over a minute the client gets the server's full limit.
func TestServerRetryAfterIsExact(t *testing.T) {
	for _, window := range []WindowKind{TokenBucket, FixedSecond} {
		for _, rpm := range []int{7, 100, 3000} {
			t.Run(fmt.Sprintf("%v/rpm=%d", window, rpm), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					srv := NewServer(ServerConfig{RPM: rpm, Window: window})
					ctx := context.Background()
					start := time.Now()
					id := 0
					for time.Since(start) < time.Minute {
						id++
						err := srv.Call(ctx, Request{ID: id})
						rl, ok := asRateLimited(err)
						if !ok {
							continue
						}
						if rl.Reason != ReasonRate {
							t.Fatalf("reason %q, want %q", rl.Reason, ReasonRate)
						}
						if rl.RetryAfter > time.Millisecond {
							time.Sleep(rl.RetryAfter - time.Millisecond)
							if _, early := asRateLimited(srv.Call(ctx, Request{ID: id})); !early {
								t.Fatalf("at %v: accepted 1 ms before the hint %v expired", time.Since(start), rl.RetryAfter)
							}
							time.Sleep(time.Millisecond)
						} else {
							time.Sleep(rl.RetryAfter)
						}
						if err := srv.Call(ctx, Request{ID: id}); err != nil {
							t.Fatalf("at %v: refused after waiting the hint: %v", time.Since(start), err)
						}
					}
					got := WorstWindow(srv.Accepted(), time.Minute)
					limit := srv.Limit(time.Minute)
					// A client sending at the start of each second gets 60
					// seconds' worth from FixedSecond.
					least := limit
					if window == FixedSecond {
						least = 60 * ((rpm + 59) / 60)
					}
					if got > limit || got < least {
						t.Errorf("obedient client got %d in a minute, want %d..%d", got, least, limit)
					}
				})
			})
		}
	}
}

func TestServerFixedSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(ServerConfig{RPM: 120, Window: FixedSecond})
		ctx := context.Background()
		time.Sleep(1500 * time.Millisecond)
		for i := range 2 {
			if err := srv.Call(ctx, Request{ID: i}); err != nil {
				t.Fatal(err)
			}
		}
		rl, ok := asRateLimited(srv.Call(ctx, Request{ID: 3}))
		if !ok || rl.RetryAfter != 500*time.Millisecond {
			t.Fatalf("third call in a second: got %v, want a 429 with a 500ms hint", rl)
		}
		time.Sleep(rl.RetryAfter)
		if err := srv.Call(ctx, Request{ID: 3}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestServerPenalty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(ServerConfig{RPM: 60, PenaltyAfter: 5, PenaltyFor: 10 * time.Second})
		ctx := context.Background()
		if err := srv.Call(ctx, Request{ID: 0}); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 4; i++ {
			rl, ok := asRateLimited(srv.Call(ctx, Request{ID: i}))
			if !ok || rl.Reason != ReasonRate || rl.RetryAfter != time.Second {
				t.Fatalf("call %d: got %v, want a rate 429 with a 1s hint", i, rl)
			}
		}
		// The fifth refusal within a second starts the penalty.
		time.Sleep(500 * time.Millisecond)
		if rl, ok := asRateLimited(srv.Call(ctx, Request{ID: 5})); !ok || rl.Reason != ReasonRate {
			t.Fatalf("got %v, want a rate 429", rl)
		}
		// Even with a token in the bucket, everything is refused.
		time.Sleep(time.Second)
		for i := range 20 {
			rl, ok := asRateLimited(srv.Call(ctx, Request{ID: 6 + i}))
			if !ok || rl.Reason != ReasonPenalty || rl.RetryAfter != 9*time.Second {
				t.Fatalf("got %v, want a penalty 429 with a 9s hint", rl)
			}
		}
		time.Sleep(9*time.Second - time.Millisecond)
		if rl, ok := asRateLimited(srv.Call(ctx, Request{ID: 30})); !ok || rl.RetryAfter != time.Millisecond {
			t.Fatalf("got %v, want a penalty 429 with a 1ms hint", rl)
		}
		// Refusals during the penalty did not extend it.
		time.Sleep(time.Millisecond)
		if err := srv.Call(ctx, Request{ID: 31}); err != nil {
			t.Fatal(err)
		}
		if got := srv.RefusedBy(ReasonPenalty); got != 21 {
			t.Errorf("penalty refusals = %d, want 21", got)
		}
	})
}

func TestServerOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(ServerConfig{RPM: 60, PenaltyAfter: 2, PenaltyFor: time.Hour,
			Outages: []Outage{{Start: 5 * time.Second, Dur: 30 * time.Second}}})
		ctx := context.Background()
		time.Sleep(5 * time.Second)
		for i := range 10 {
			rl, ok := asRateLimited(srv.Call(ctx, Request{ID: i}))
			if !ok || rl.Reason != ReasonOutage || rl.RetryAfter != 30*time.Second {
				t.Fatalf("got %v, want an outage 429 with a 30s hint", rl)
			}
		}
		time.Sleep(29500 * time.Millisecond)
		if rl, ok := asRateLimited(srv.Call(ctx, Request{ID: 10})); !ok || rl.RetryAfter != 500*time.Millisecond {
			t.Fatalf("got %v, want an outage 429 with a 500ms hint", rl)
		}
		time.Sleep(500 * time.Millisecond)
		// Outage refusals do not count towards the penalty.
		if err := srv.Call(ctx, Request{ID: 11}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestServerTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 6000 TPM: 100 tokens per second, a bucket of 100 tokens.
		srv := NewServer(ServerConfig{RPM: 6000, TPM: 6000})
		ctx := context.Background()
		if err := srv.Call(ctx, Request{ID: 1, Tokens: 80}); err != nil {
			t.Fatal(err)
		}
		rl, ok := asRateLimited(srv.Call(ctx, Request{ID: 2, Tokens: 80}))
		if !ok || rl.Reason != ReasonTokens || rl.RetryAfter != 600*time.Millisecond {
			t.Fatalf("got %v, want a tokens 429 with a 600ms hint", rl)
		}
		time.Sleep(time.Second)
		// A request larger than the bucket is admitted by a full bucket.
		if err := srv.Call(ctx, Request{ID: 3, Tokens: 5000}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestServerLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := ServerConfig{RPM: 1_000_000, LatencyMedian: 300 * time.Millisecond, Seed: 7}
		a, b := NewServer(cfg), NewServer(cfg)
		ctx := context.Background()
		var lats []time.Duration
		for i := range 2001 {
			t0 := time.Now()
			if err := a.Call(ctx, Request{ID: i}); err != nil {
				t.Fatal(err)
			}
			d := time.Since(t0)
			lats = append(lats, d)
			t0 = time.Now()
			_ = b.Call(ctx, Request{ID: i})
			if time.Since(t0) != d {
				t.Fatalf("request %d: latencies %v and %v differ for the same seed", i, d, time.Since(t0))
			}
		}
		slices.Sort(lats)
		med, p99 := lats[1000], lats[1980]
		if med < 270*time.Millisecond || med > 330*time.Millisecond {
			t.Errorf("median latency %v, want about 300ms", med)
		}
		// LatencySigma promises a 99th percentile about 3.2 times the
		// median (exp(0.5 × 2.326)).
		if r := float64(p99) / float64(med); r < 2.9 || r > 3.5 {
			t.Errorf("p99 latency %v is %.2f times the median %v, want about 3.2", p99, r, med)
		}
	})
}

// With RefusalLatency set, a refusal is answered after exactly that time,
// and an admitted call after the latency drawn for it, as without it.
func TestServerRefusalLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := ServerConfig{RPM: 60, LatencyMedian: 300 * time.Millisecond, Seed: 7}
		slow := NewServer(cfg)
		cfg.RefusalLatency = 20 * time.Millisecond
		fast := NewServer(cfg)
		ctx := context.Background()
		took := func(srv *Server, id int) (time.Duration, error) {
			t0 := time.Now()
			err := srv.Call(ctx, Request{ID: id})
			return time.Since(t0), err
		}
		// A bucket of one request: the first call is admitted, the
		// second, sent at once, refused.
		admitted, err := took(fast, 1)
		if err != nil {
			t.Fatal(err)
		}
		if same, _ := took(slow, 1); same != admitted {
			t.Errorf("admitted call took %v, %v without RefusalLatency", admitted, same)
		}
		refused, err := took(fast, 2)
		if _, ok := asRateLimited(err); !ok {
			t.Fatalf("got %v, want a 429", err)
		}
		if refused != 20*time.Millisecond {
			t.Errorf("refusal answered after %v, want 20ms", refused)
		}
		if drawn, err := took(slow, 2); err == nil || drawn == refused {
			t.Errorf("without RefusalLatency the refusal took %v (%v), want the drawn latency", drawn, err)
		}
	})
}

func TestServerHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(ServerConfig{RPM: 60, LatencyMedian: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if err := srv.Call(ctx, Request{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want the context's error", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("returned after %v, want 1s", d)
		}
		// The admission was decided on arrival.
		if n := len(srv.Accepted()); n != 1 {
			t.Errorf("accepted %d, want 1", n)
		}
	})
}

func TestWorstWindow(t *testing.T) {
	s := time.Second
	times := []time.Duration{0, s / 2, s - 1, s, 2 * s, 2*s + 1, 2*s + 2}
	if got := WorstWindow(times, s); got != 3 {
		t.Errorf("WorstWindow = %d, want 3", got)
	}
	if got := WorstWindow(nil, s); got != 0 {
		t.Errorf("WorstWindow(nil) = %d, want 0", got)
	}
	// An empty window holds nothing, as Limit says.
	for _, w := range []time.Duration{0, -s} {
		if got := WorstWindow(times, w); got != 0 {
			t.Errorf("WorstWindow(times, %v) = %d, want 0", w, got)
		}
	}
}

// TestServerRetryAfterAdmits checks that the hint is the first instant at
// which the server admits the request again when several limits hold at
// once: a penalty that outlasts an outage, a bucket that refills more
// slowly than a penalty ends, an outage that ends before the bucket has
// room. A client that waits exactly the hint is admitted, and not a
// millisecond earlier.
func TestServerRetryAfterAdmits(t *testing.T) {
	cases := []struct {
		name string
		cfg  ServerConfig
		// refused are calls sent at t=0 after one admitted call; probe
		// is when the call whose hint is checked is sent.
		refused int
		probe   time.Duration
		want    time.Duration
	}{
		{"penalty outlasts outage",
			ServerConfig{RPM: 60, PenaltyAfter: 2, PenaltyFor: 20 * time.Second,
				Outages: []Outage{{Start: 2 * time.Second, Dur: 3 * time.Second}}},
			2, 3 * time.Second, 17 * time.Second},
		{"bucket slower than penalty",
			ServerConfig{RPM: 6, PenaltyAfter: 1, PenaltyFor: time.Second},
			0, 0, 10 * time.Second},
		{"bucket slower than outage",
			ServerConfig{RPM: 6, Outages: []Outage{{Start: time.Second, Dur: time.Second}}},
			0, 1500 * time.Millisecond, 8500 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := NewServer(c.cfg)
				ctx := context.Background()
				if err := srv.Call(ctx, Request{ID: 0}); err != nil {
					t.Fatal(err)
				}
				for i := range c.refused {
					if _, ok := asRateLimited(srv.Call(ctx, Request{ID: 1 + i})); !ok {
						t.Fatalf("call %d admitted, want a 429", 1+i)
					}
				}
				time.Sleep(c.probe)
				rl, ok := asRateLimited(srv.Call(ctx, Request{ID: 100}))
				if !ok {
					t.Fatal("probe admitted, want a 429")
				}
				if rl.RetryAfter != c.want {
					t.Errorf("hint %v (%s), want %v", rl.RetryAfter, rl.Reason, c.want)
				}
				// Without PenaltyAfter, an early call does not change the
				// outcome of the next one.
				if c.cfg.PenaltyAfter == 0 {
					time.Sleep(rl.RetryAfter - time.Millisecond)
					if _, early := asRateLimited(srv.Call(ctx, Request{ID: 100})); !early {
						t.Errorf("admitted 1 ms before the hint %v", rl.RetryAfter)
					}
					time.Sleep(time.Millisecond)
				} else {
					time.Sleep(rl.RetryAfter)
				}
				if err := srv.Call(ctx, Request{ID: 100}); err != nil {
					t.Errorf("refused after waiting the hint %v: %v", rl.RetryAfter, err)
				}
			})
		})
	}
}

// TestServerLimitIsTight checks that a token bucket's Limit is what a
// client sending at the first instant the server admits gets: the most the
// server can accept in a half-open window, not one more.
func TestServerLimitIsTight(t *testing.T) {
	for _, rpm := range []int{7, 100, 600, 3000} {
		t.Run(fmt.Sprintf("rpm=%d", rpm), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := Scenario{Name: "limit", Requests: 2*rpm + 10, Workers: 1, Server: ServerConfig{RPM: rpm}}
				res := Run(s, OracleFactory())
				if res.RateLimited != 0 || res.Completed != s.Requests {
					t.Fatalf("oracle: %d 429s, %d of %d completed", res.RateLimited, res.Completed, s.Requests)
				}
				if res.Worst1s != res.Limit1s || res.Worst60s != res.Limit60s {
					t.Errorf("greedy client got %d in 1 s and %d in 60 s; Limit says %d and %d",
						res.Worst1s, res.Worst60s, res.Limit1s, res.Limit60s)
				}
			})
		})
	}
}
