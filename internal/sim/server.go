package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// WindowKind selects how a Server counts requests against its limits.
type WindowKind int

const (
	// TokenBucket refills continuously at RPM/60 requests per second up to a
	// capacity of RPM/60 requests (at least one), the model providers
	// document for their per-minute limits. A full bucket therefore admits
	// a burst of RPM/60 requests at once.
	TokenBucket WindowKind = iota
	// FixedSecond admits ceil(RPM/60) requests in each whole second counted
	// from the server's creation; the count resets at every second boundary.
	FixedSecond
)

// String returns the name of the window kind.
func (k WindowKind) String() string {
	switch k {
	case TokenBucket:
		return "token-bucket"
	case FixedSecond:
		return "fixed-second"
	}
	return fmt.Sprintf("WindowKind(%d)", int(k))
}

// LatencySigma is the standard deviation of the logarithm of the simulated
// response latency: latencies are lognormal around ServerConfig.LatencyMedian
// with a long tail (the 99th percentile is about 3.2 times the median).
const LatencySigma = 0.5

// Outage is an interval, measured from the server's creation, during which
// the server refuses every request.
type Outage struct {
	Start time.Duration
	Dur   time.Duration
}

// ServerConfig describes a simulated provider.
type ServerConfig struct {
	// RPM is the request limit per minute. It must be positive.
	RPM int
	// TPM is the token limit per minute; 0 means no token limit. The token
	// limit uses the same Window as the request limit.
	TPM int
	// Window selects the limiting algorithm, TokenBucket by default.
	Window WindowKind
	// LatencyMedian is the median response time; 0 answers instantly.
	LatencyMedian time.Duration
	// Seed makes the latencies reproducible.
	Seed int64
	// PenaltyAfter is the number of refusals within one second after which
	// the server refuses everything for PenaltyFor; 0 disables the penalty.
	// Only refusals for lack of room in a bucket count: refusals during an
	// outage or during the penalty itself do not, so a penalty is a fixed
	// sentence that hammering does not extend.
	PenaltyAfter int
	// PenaltyFor is the length of a penalty.
	PenaltyFor time.Duration
	// Outages lists intervals during which every request is refused.
	Outages []Outage
	// RefusalLatency, when positive, is how long a refusal takes to
	// answer, in place of the latency drawn for the call: a provider's
	// gateway refuses a call without running the model.
	RefusalLatency time.Duration
	// Headers makes every answer, success or refusal, carry OpenAI's
	// rate-limit headers (x-ratelimit-{limit,remaining,reset}-requests,
	// and -tokens with a TPM limit), as of the request's admission. Like
	// the providers', they count on the per-minute scale: the limit is
	// RPM, the remaining count is RPM less what the bucket (or the
	// current second) has spent, and the reset is when it is whole again.
	Headers bool
}

// Request is one call to the simulated provider.
type Request struct {
	ID     int
	Model  string
	Tokens int
}

// Reasons a Server refuses a request, found in RateLimited.Reason.
const (
	ReasonRate    = "rate"    // the request bucket is empty
	ReasonTokens  = "tokens"  // the token bucket lacks the request's tokens
	ReasonPenalty = "penalty" // the client is being punished for refusals
	ReasonOutage  = "outage"  // the server is down
)

// RateLimited is the error a Server returns for a refused request (an HTTP
// 429). RetryAfter is the server's hint, rounded up to the millisecond and
// never below one millisecond: the time from the response until the server
// would admit the request again if nothing else arrived, that is until no
// outage or penalty is in force and every bucket has room for it.
type RateLimited struct {
	RetryAfter time.Duration
	Reason     string
}

// Error implements error.
func (e *RateLimited) Error() string {
	return fmt.Sprintf("429 rate limited (%s), retry after %v", e.Reason, e.RetryAfter)
}

// tokenUnit is the number of internal units per request or token. Bucket
// levels are kept in integers so that admission is exact: a bucket with a
// per-minute limit L gains L units per nanosecond, and 60e9 units make one
// request (or token).
const tokenUnit int64 = 60e9

// gauge enforces one per-minute limit (requests or tokens). Times are
// nanoseconds since the server's creation.
type gauge struct {
	kind   WindowKind
	perMin int64
	// token bucket
	level    int64 // units
	capacity int64 // units
	last     int64
	// fixed second
	perSec int64
	sec    int64
	used   int64
}

func newGauge(kind WindowKind, perMin int) *gauge {
	g := &gauge{kind: kind, perMin: int64(perMin)}
	g.capacity = max(int64(perMin)*1e9, tokenUnit) // perMin/60 tokens, at least one
	g.level = g.capacity
	g.perSec = max((int64(perMin)+59)/60, 1)
	return g
}

// cost returns the amount n consumes, clamped to what the gauge can ever hold
// so that an oversized request is not refused forever.
func (g *gauge) cost(n int) int64 {
	if g.kind == FixedSecond {
		return min(int64(n), g.perSec)
	}
	return min(int64(n)*tokenUnit, g.capacity)
}

func (g *gauge) refill(now int64) {
	if g.kind == FixedSecond {
		if s := now / 1e9; s != g.sec {
			g.sec, g.used = s, 0
		}
		return
	}
	if now <= g.last {
		return
	}
	dt := now - g.last
	g.last = now
	if dt >= g.capacity/g.perMin+1 {
		g.level = g.capacity
		return
	}
	g.level = min(g.capacity, g.level+dt*g.perMin)
}

// wait returns how long after now the gauge has room for n, 0 if it has room
// now. It does not consume anything.
func (g *gauge) wait(now int64, n int) time.Duration {
	g.refill(now)
	c := g.cost(n)
	if g.kind == FixedSecond {
		if g.used+c <= g.perSec {
			return 0
		}
		return time.Duration((g.sec+1)*1e9 - now)
	}
	if g.level >= c {
		return 0
	}
	deficit := c - g.level
	return time.Duration((deficit + g.perMin - 1) / g.perMin)
}

// take consumes n; the caller has checked wait(now, n) == 0.
func (g *gauge) take(now int64, n int) {
	g.refill(now)
	if g.kind == FixedSecond {
		g.used += g.cost(n)
		return
	}
	g.level -= g.cost(n)
}

// report returns what a rate-limit header says of the gauge at now, on
// the per-minute scale: what remains of the minute's budget, the budget
// less what the bucket (or the current second) has spent, and how long
// until it is whole again.
func (g *gauge) report(now int64) (remaining int64, reset time.Duration) {
	g.refill(now)
	if g.kind == FixedSecond {
		if g.used == 0 {
			return g.perMin, 0
		}
		return max(g.perMin-g.used, 0), time.Duration((g.sec+1)*1e9 - now)
	}
	deficit := g.capacity - g.level
	spent := (deficit + tokenUnit - 1) / tokenUnit
	return max(g.perMin-spent, 0), time.Duration((deficit + g.perMin - 1) / g.perMin)
}

// limit returns the most this gauge can admit in any half-open window of
// length w, counted in requests of cost one.
func (g *gauge) limit(w time.Duration) int {
	if w <= 0 {
		return 0
	}
	if g.kind == FixedSecond {
		secs := (int64(w) + 1e9 - 1) / 1e9
		return int(g.perSec * (secs + 1))
	}
	// A full bucket at the window's start, plus the refill up to its last
	// nanosecond: what refills at its open end falls outside it.
	return int((g.capacity + (int64(w)-1)*g.perMin) / tokenUnit)
}

// Server is a simulated LLM provider. It is safe for concurrent use. Its clock
// is the time package, so inside a synctest bubble it runs in virtual time.
type Server struct {
	cfg   ServerConfig
	start time.Time

	mu           sync.Mutex
	rpm, tpm     *gauge
	calls        map[int]int
	recent       []int64 // refusal times within the last second
	penaltyUntil int64
	accepted     []time.Duration
	refused      map[string]int
}

// NewServer returns a server whose clock starts now.
func NewServer(cfg ServerConfig) *Server {
	if cfg.RPM <= 0 {
		panic("sim: ServerConfig.RPM must be positive")
	}
	s := &Server{
		cfg:     cfg,
		start:   time.Now(),
		rpm:     newGauge(cfg.Window, cfg.RPM),
		calls:   make(map[int]int),
		refused: make(map[string]int),
	}
	if cfg.TPM > 0 {
		s.tpm = newGauge(cfg.Window, cfg.TPM)
	}
	return s
}

// Call simulates one request. The admission decision is taken when the call
// arrives; the call then sleeps the simulated latency (returning ctx.Err() if
// ctx ends first) and returns nil or a *RateLimited. Refused calls take the
// same latency as accepted ones, unless the config's RefusalLatency says
// otherwise.
func (s *Server) Call(ctx context.Context, req Request) error {
	_, err := s.Respond(ctx, req)
	return err
}

// Respond is Call that also returns the answer's rate-limit headers, nil
// unless the config's Headers is set. A call cut short by ctx returns no
// headers.
func (s *Server) Respond(ctx context.Context, req Request) (http.Header, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	now := s.now()
	ok, reason := s.admit(now, req)
	var h http.Header
	if s.cfg.Headers {
		h = s.headers(now)
	}
	lat := s.latency(req.ID)
	if !ok && s.cfg.RefusalLatency > 0 {
		lat = s.cfg.RefusalLatency
	}
	s.mu.Unlock()

	if lat > 0 {
		if err := sleepCtx(ctx, lat); err != nil {
			return nil, err
		}
	}
	if ok {
		return h, nil
	}
	s.mu.Lock()
	hint := s.retryAfter(s.now(), req)
	s.mu.Unlock()
	return h, &RateLimited{RetryAfter: hint, Reason: reason}
}

// headers returns the rate-limit headers of an answer to a request
// admitted (or refused) at now. Requires mu.
func (s *Server) headers(now int64) http.Header {
	h := http.Header{}
	set := func(kind string, g *gauge) {
		remaining, reset := g.report(now)
		h.Set("x-ratelimit-limit-"+kind, strconv.FormatInt(g.perMin, 10))
		h.Set("x-ratelimit-remaining-"+kind, strconv.FormatInt(remaining, 10))
		h.Set("x-ratelimit-reset-"+kind, reset.String())
	}
	set("requests", s.rpm)
	if s.tpm != nil {
		set("tokens", s.tpm)
	}
	return h
}

func (s *Server) now() int64 { return int64(time.Since(s.start)) }

// outageEnd reports whether now falls in an outage and when that ends.
func outageEnd(outages []Outage, now int64) (int64, bool) {
	for _, o := range outages {
		if now >= int64(o.Start) && now < int64(o.Start+o.Dur) {
			return int64(o.Start + o.Dur), true
		}
	}
	return 0, false
}

// admit decides on a request arriving at now and records the outcome.
func (s *Server) admit(now int64, req Request) (bool, string) {
	if _, down := outageEnd(s.cfg.Outages, now); down {
		// The server's own failure does not count against the client.
		s.refused[ReasonOutage]++
		return false, ReasonOutage
	}
	reason := ""
	switch {
	case now < s.penaltyUntil:
		reason = ReasonPenalty
	case s.rpm.wait(now, 1) > 0:
		reason = ReasonRate
	case s.tpm != nil && s.tpm.wait(now, req.Tokens) > 0:
		reason = ReasonTokens
	}
	if reason == "" {
		s.rpm.take(now, 1)
		if s.tpm != nil {
			s.tpm.take(now, req.Tokens)
		}
		s.accepted = append(s.accepted, time.Duration(now))
		return true, ""
	}
	s.refused[reason]++
	if reason == ReasonPenalty {
		// A penalty is a fixed sentence: what is refused while serving it
		// does not extend it.
		return false, reason
	}
	i := 0
	for i < len(s.recent) && s.recent[i] <= now-1e9 {
		i++
	}
	s.recent = append(s.recent[i:], now)
	if s.cfg.PenaltyAfter > 0 && len(s.recent) >= s.cfg.PenaltyAfter {
		s.penaltyUntil = now + int64(s.cfg.PenaltyFor)
		s.recent = s.recent[:0]
	}
	return false, reason
}

// retryAfter computes the hint sent with a refusal answered at now: the
// first instant at which, with no other traffic, the server is up, the
// penalty is over and the buckets have room for req. Buckets keep
// refilling through penalties and outages, so once a bucket has room it
// keeps it.
func (s *Server) retryAfter(now int64, req Request) time.Duration {
	d := s.rpm.wait(now, 1)
	if s.tpm != nil {
		d = max(d, s.tpm.wait(now, req.Tokens))
	}
	if now < s.penaltyUntil {
		d = max(d, time.Duration(s.penaltyUntil-now))
	}
	for {
		end, down := outageEnd(s.cfg.Outages, now+int64(d))
		if !down {
			break
		}
		d = time.Duration(end - now)
	}
	d = (d + time.Millisecond - 1).Truncate(time.Millisecond)
	return max(d, time.Millisecond)
}

// latency draws the latency of the next call of request id. It depends only
// on the seed, the request ID and how many calls that ID made before, so
// that the order in which simultaneous goroutines arrive does not change it.
func (s *Server) latency(id int) time.Duration {
	n := s.calls[id]
	s.calls[id] = n + 1
	if s.cfg.LatencyMedian <= 0 {
		return 0
	}
	r := rand.New(rand.NewPCG(uint64(s.cfg.Seed), mix(uint64(id)<<20^uint64(n))))
	return time.Duration(float64(s.cfg.LatencyMedian) * math.Exp(LatencySigma*r.NormFloat64()))
}

// mix is the splitmix64 finaliser, used to derive independent seeds.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Accepted returns the arrival times, relative to the server's creation, of
// every accepted request in order.
func (s *Server) Accepted() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.accepted)
}

// RateLimitedCount returns the number of 429 responses decided so far.
func (s *Server) RateLimitedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.refused {
		n += v
	}
	return n
}

// RefusedBy returns the number of refusals for one reason (ReasonRate, ...).
func (s *Server) RefusedBy(reason string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused[reason]
}

// Limit returns the most requests the server can accept in any half-open
// window of length w: for a token bucket, the whole requests in its
// capacity plus the refill of the window less its last instant (so 99, not
// 100, in one second at 3000 RPM, since the hundredth request's room comes
// at the window's open end); for FixedSecond, ceil(RPM/60) times the number
// of whole seconds such a window can touch.
func (s *Server) Limit(w time.Duration) int {
	return newGauge(s.cfg.Window, s.cfg.RPM).limit(w)
}

// WorstWindow returns the largest number of times that fall in any half-open
// window [t, t+w), 0 if w is not positive. times must be sorted.
func WorstWindow(times []time.Duration, w time.Duration) int {
	if w <= 0 {
		return 0
	}
	best, j := 0, 0
	for i := range times {
		for times[i]-times[j] >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}
