package fakeprovider

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clock is a manual clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestServer returns a server for cfg driven by a fresh manual clock.
func newTestServer(t *testing.T, cfg Config) (*Server, *clock) {
	t.Helper()
	c := newClock()
	cfg.Now = c.Now
	s, err := New(cfg)
	require.NoError(t, err)
	return s, c
}

const (
	openAIBody    = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	anthropicBody = `{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`
)

// post sends body to path straight through ServeHTTP.
func post(s *Server, path, body string) *httptest.ResponseRecorder {
	return recordServe(s, httptestRequest(http.MethodPost, path, body))
}

// httptestRequest builds a server-side request with a JSON body.
func httptestRequest(method, path, body string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// recordServe runs r through ServeHTTP and records the response.
func recordServe(s *Server, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// decodeJSON parses a recorded JSON body.
func decodeJSON(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), w.Body.String())
	return m
}
