package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A server (or a proxy) that answers 101 Switching Protocols to a request
// that asked for no upgrade hands net/http a connection, not an upgraded
// session of the caller's: its ticket is finished when the request's
// context ends, as any answer's, so that a caller that drops it unclosed
// then does not hold the ticket for ever. It was held as a session's,
// until a Close that never came, and with WithMaxInFlight(1) no other
// call could go out again.
func TestTransportFinishesTheTicketOfAnUnaskedUpgradeWhenItsContextEnds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		_, _ = io.Copy(io.Discard, rw) // until the client closes
	}))
	t.Cleanup(srv.Close)
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithMaxInFlight(1))
		client := &http.Client{Transport: tpTransport(t, &http.Transport{DisableKeepAlives: true}, WithLimiter(l))}
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		defer resp.Body.Close() // at the end only: the caller drops it

		cancel()
		synctest.Wait()
		st := l.Stats()
		assert.Zero(t, st.InFlight, "the ticket is finished when the request's context ends")
		time.Sleep(time.Second) // past the spacing of 600 RPM
		tk, ok := l.TryAcquire()
		if assert.True(t, ok, "the in-flight slot is free again") {
			tk.Done()
		}
		assertConserved(t, l)
	})
}
