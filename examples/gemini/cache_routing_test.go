package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"cloud.google.com/go/auth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// Creating a context cache names its model in the body as the SDK names
// Gemini models there, "models/gemini-2.5-flash": the call takes the
// ticket of the limiter the model's generateContent calls take.
func TestCachedContentTakesTheTicketOfItsModel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"name":"cachedContents/abc","model":"models/gemini-2.5-flash"}`)
	}))
	t.Cleanup(srv.Close)
	svc := ratellmiter.NewService("gemini", nil)
	t.Cleanup(func() { _ = svc.Close() })
	l, err := svc.NewLimiter(flash, 600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
	require.NoError(t, err)
	c := newClient(t, srv.URL, exampletest.NewTransport(t, exampletest.NoKeepAlive(t, nil), ratellmiter.WithServiceLimiters(svc)))
	_, err = c.Caches.Create(context.Background(), flash, &genai.CreateCachedContentConfig{Contents: hello})
	require.NoError(t, err)
	assert.EqualValues(t, 1, l.Stats().Finished)
}

// tokenSource is a fixed OAuth token, as Vertex AI's project mode needs
// one; the fake endpoint does not look at it.
type tokenSource struct{}

func (tokenSource) Token(context.Context) (*auth.Token, error) {
	return &auth.Token{Value: "test", Type: "Bearer"}, nil
}

// On Vertex AI the SDK names a cache's model in full,
// "projects/P/locations/L/publishers/google/models/gemini-2.5-flash" (or
// "publishers/google/models/gemini-2.5-flash" with an API key): the call
// still takes the ticket of the model's limiter, where it went to the
// service's default limiter, or failed with ErrNoLimiter, before.
func TestVertexCachedContentTakesTheTicketOfItsModel(t *testing.T) {
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"name":"cachedContents/abc"}`)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, model string
		config      genai.ClientConfig
	}{
		{"project", "projects/p/locations/us-central1/publishers/google/models/" + flash,
			genai.ClientConfig{Project: "p", Location: "us-central1", Credentials: auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: tokenSource{}})}},
		{"express", "publishers/google/models/" + flash, genai.ClientConfig{APIKey: "test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bodies = nil
			svc := ratellmiter.NewService("vertex", nil)
			t.Cleanup(func() { _ = svc.Close() })
			l, err := svc.NewLimiter(flash, 600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
			require.NoError(t, err)
			cfg := tc.config
			cfg.Backend = genai.BackendVertexAI
			cfg.HTTPClient = &http.Client{Transport: exampletest.NewTransport(t, exampletest.NoKeepAlive(t, nil), ratellmiter.WithServiceLimiters(svc))}
			cfg.HTTPOptions = genai.HTTPOptions{BaseURL: srv.URL}
			c, err := genai.NewClient(context.Background(), &cfg)
			require.NoError(t, err)
			_, err = c.Caches.Create(context.Background(), flash, &genai.CreateCachedContentConfig{Contents: hello})
			require.NoError(t, err)
			require.Len(t, bodies, 1)
			assert.Contains(t, bodies[0], `"model":"`+tc.model+`"`, "the SDK names the model in full")
			assert.EqualValues(t, 1, l.Stats().Finished)
		})
	}
}
