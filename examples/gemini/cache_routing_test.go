package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/ratellmiter/ratellmiter"
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
	l, err := svc.NewLimiter(flash, 600, ratellmiter.WithMonitor(newMonitor(t)))
	require.NoError(t, err)
	c := newClient(t, srv.URL, newTransport(t, noKeepAlive(t), ratellmiter.WithServiceLimiters(svc)))
	_, err = c.Caches.Create(context.Background(), flash, &genai.CreateCachedContentConfig{Contents: hello})
	require.NoError(t, err)
	assert.EqualValues(t, 1, l.Stats().Finished)
}
