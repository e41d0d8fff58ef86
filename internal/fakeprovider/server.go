package fakeprovider

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// statusOverloaded is Anthropic's non-standard "overloaded" status code.
const statusOverloaded = 529

// organization is the organization name used in error messages.
const organization = "org-fake"

// Server is a fake LLM provider. It implements [net/http.Handler] and is safe
// for concurrent use. Create one with [New] or [Start].
type Server struct {
	cfg Config
	now func() time.Time
	rec *recorder

	mu          sync.Mutex // guards the fields below
	lim         *limits
	pen         penalty
	outageUntil time.Time
	quota       map[string]bool
	overloads   int
	seq         uint64

	rngMu sync.Mutex
	rng   *rand.Rand
}

// New returns a server enforcing cfg, or an error naming the first invalid
// field. Its budgets start full at cfg.Now().
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	now := cfg.Now()
	seed := uint64(cfg.Seed)
	return &Server{
		cfg:   cfg,
		now:   cfg.Now,
		rec:   newRecorder(now),
		lim:   newLimits(cfg, now),
		pen:   penalty{threshold: cfg.PenaltyThreshold, duration: cfg.PenaltyDuration},
		quota: map[string]bool{},
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}, nil
}

// ServeHTTP answers OpenAI's POST /v1/chat/completions (also without the /v1
// prefix) and Anthropic's POST /v1/messages. Any other path gets 404 and any
// other method 405, both with a JSON error body; a malformed body gets 400.
//
// A request is checked in this order: exhausted quota, outage, running
// penalty, injected overload (Anthropic only), then the budgets. It is
// charged one request plus an estimate of its tokens (a quarter of its
// prompt characters, rounded up, plus its max tokens, or Config.ReplyTokens
// when it gives none), and the unused output
// tokens are given back once the reply is produced. An admitted request then
// waits its simulated latency, which ends early, with nothing written, if the
// request is cancelled.
//
// The rate-limit headers describe the budgets on the per-minute scale the
// providers use: the request limit is RPM, remaining is RPM less what the
// bucket is missing, and reset is how long until the bucket is full again,
// even though enforcement happens over the bucket's shorter span.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d, ok := route(r.URL.Path)
	if !ok {
		writeJSON(w, http.StatusNotFound, openAIErrorBody("Unknown request URL: "+r.Method+" "+r.URL.Path+".", "invalid_request_error", "unknown_url"))
		return
	}
	if r.Method != http.MethodPost {
		d.badRequest(w, http.StatusMethodNotAllowed, "Method "+r.Method+" is not allowed for "+r.URL.Path+".")
		return
	}
	s.rec.request()
	req, err := decodeRequest(r.Body)
	if err == nil {
		err = d.validate(req)
	}
	if err != nil {
		d.badRequest(w, http.StatusBadRequest, err.Error())
		return
	}
	s.handle(w, r, d, req)
}

// handle charges a decoded request and answers it.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, d dialect, req *chatRequest) {
	in, out := req.promptTokens(), req.maxTokens()
	if out == 0 {
		out = int64(s.cfg.ReplyTokens)
	}
	now := s.now()
	dec := s.decide(d.overloadable(), req.Model, in, out, now)
	if dec.kind != outcomeAccept {
		d.setHeaders(w.Header(), dec.snap, now, dec.requestID)
		s.rec.rejected(now, d.refuse(w, req, dec))
		return
	}
	s.rec.accepted(now)
	rep := s.reply(dec, req, in, out, now)
	answered := s.sleep(r, s.latency())
	s.settle(out, rep.output)
	if !answered {
		return
	}
	s.rec.tokens(rep.input + rep.output)
	d.setHeaders(w.Header(), dec.snap, now, dec.requestID)
	d.answer(w, req, rep)
}

// route returns the dialect serving path.
func route(path string) (dialect, bool) {
	switch path {
	case "/v1/chat/completions", "/chat/completions":
		return openAIDialect{}, true
	case "/v1/messages":
		return anthropicDialect{}, true
	}
	return nil, false
}

// settle corrects the output-token estimate of an admitted request.
func (s *Server) settle(estimated, actual int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lim.settle(s.now(), estimated, actual)
}

// sleep waits d or until the request is cancelled; it reports whether the
// full duration passed.
func (s *Server) sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
