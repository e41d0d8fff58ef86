package ratellmiter

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/signals"
	"github.com/stretchr/testify/require"
)

// diffSide is one limiter of a differential run with the tickets its
// callers hold, by the id of the call that got them.
type diffSide struct {
	l    *BucketRateLimiter
	mu   sync.Mutex
	held map[int]*Ticket
	done map[int]string // outcome of finished blocking calls, by id
}

func (s *diffSide) put(id int, tk *Ticket, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tk != nil {
		s.held[id] = tk
	}
	s.done[id] = outcome
}

func (s *diffSide) outcomes() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := ""
	for _, k := range slices.Sorted(maps.Keys(s.done)) {
		out += fmt.Sprintf("%d:%s ", k, s.done[k])
	}
	return out
}

func (s *diffSide) take(id int) *Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	tk := s.held[id]
	delete(s.held, id)
	return tk
}

func (s *diffSide) ids() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.held))
}

// A limiter with a lane decides every call as one without: TryAcquire,
// Acquire with deadlines, RateLimited (pauses, canaries, learning), Done,
// Abandon and the server's reported limits and holds, at limits that are
// and are not multiples of 60, with any ramp.
func TestTheLaneDecidesAsTheLockedPathUnderEveryCall(t *testing.T) {
	viaLane := 0
	for seed := range uint64(20) {
		synctest.Test(t, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0xd1ff))
			rpm := []int{61, 121, 150, 601, 3001, 7000, 59_999, 600_000}[r.IntN(8)]
			opts := []Option{WithRampUp(0.05+0.95*r.Float64(), 0.05+0.95*r.Float64()),
				WithIdleRamp(r.IntN(2) == 0), WithLearning(r.IntN(2) == 0),
				WithProbeInterval(100*time.Millisecond, time.Second, 1.5)}
			sides := [2]*diffSide{
				{l: newLimiter(t, rpm, opts...), held: map[int]*Ticket{}, done: map[int]string{}},
				{l: newLimiter(t, rpm, append(opts, WithMaxInFlight(neverBinds))...), held: map[int]*Ticket{}, done: map[int]string{}},
			}
			id := 0
			for step := range 300 {
				time.Sleep(time.Duration(r.IntN(4)) * time.Duration(r.IntN(200)) * time.Millisecond)
				for range 1 + r.IntN(6) {
					time.Sleep(time.Duration(r.IntN(3))*time.Duration(r.IntN(20))*time.Millisecond + time.Duration(r.IntN(100_000)))
					id++
					op := r.IntN(10)
					switch {
					case op < 4:
						// A burst, a little more or less than the
						// spacing apart, that the lane may serve.
						gap := 60 * int64(time.Second) / int64(rpm)
						for b := range 1 + r.IntN(8) {
							if b > 0 {
								time.Sleep(time.Duration(gap/2 + r.Int64N(2*gap)))
							}
							var ok [2]bool
							before := sides[0].l.lane.Load()
							for i, s := range sides {
								tk, got := s.l.TryAcquire()
								if i == 0 && got && before != nil && s.l.lane.Load() == before {
									viaLane++
								}
								ok[i] = got
								if got {
									s.put(-(id*100 + b), tk, "try")
								}
							}
							require.Equal(t, ok[1], ok[0], "seed %d step %d: TryAcquire", seed, step)
						}
					case op < 7:
						d := time.Duration(r.IntN(400))*time.Millisecond + time.Duration(r.IntN(1_000_000)) + 7
						id := id
						for _, s := range sides {
							go func() {
								ctx, cancel := context.WithTimeout(context.Background(), d)
								defer cancel()
								tk, err := s.l.Acquire(ctx)
								s.put(id, tk, fmt.Sprint(err == nil))
							}()
						}
					case op < 8:
						ids := sides[0].ids()
						if len(ids) == 0 {
							continue
						}
						k := ids[r.IntN(len(ids))]
						hint := time.Duration(r.IntN(3)) * 100 * time.Millisecond
						for _, s := range sides {
							tk := s.take(k)
							if tk == nil {
								continue
							}
							go func() {
								ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second+time.Duration(k)*1013)
								defer cancel()
								err := tk.RateLimited(ctx, hint)
								if err == nil {
									s.put(k, tk, "retried")
								} else {
									s.put(k, nil, "retry failed")
								}
							}()
						}
					case op < 9:
						lim := int64(rpm/2 + r.IntN(rpm))
						now := time.Now()
						b := signals.Budget{Limit: lim, Remaining: int64(r.IntN(3)), Reset: now.Add(time.Duration(r.IntN(2000)) * time.Millisecond), Known: true}
						for _, s := range sides {
							s.l.observe(signals.Limits{Requests: b}, now)
						}
					default:
						abandon := r.IntN(2) == 0
						for _, k := range sides[0].ids() {
							if r.IntN(2) == 0 {
								continue
							}
							for _, s := range sides {
								if tk := s.take(k); tk != nil {
									if abandon {
										tk.Abandon()
									} else {
										tk.Done()
									}
								}
							}
						}
					}
					synctest.Wait()
				}
				require.Equal(t, sides[1].outcomes(), sides[0].outcomes(), "seed %d step %d: blocking calls", seed, step)
				require.Equal(t, sides[1].ids(), sides[0].ids(), "seed %d step %d: held", seed, step)
				if step%3 != 0 {
					continue
				}
				sa, sb := sides[0].l.Stats(), sides[1].l.Stats()
				sa.Name, sb.Name = "", ""
				require.Equal(t, sb, sa, "seed %d step %d: Stats", seed, step)
				require.Equal(t, sa.Requested, uint64(sa.Waiting+sa.InFlight)+sa.Finished+sa.Cancelled, "seed %d step %d", seed, step)
			}
			for _, s := range sides {
				for _, k := range s.ids() {
					s.take(k).Done()
				}
				require.NoError(t, s.l.Close())
			}
			synctest.Wait()
		})
	}
	require.Positive(t, viaLane, "no ticket went through the lane")
	t.Logf("%d tickets through the lane", viaLane)
}
