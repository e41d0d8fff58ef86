package ratellmiter

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A connection upgraded through the transport (101 Switching Protocols,
// as a WebSocket is) stays the caller's to read and write, and holds its
// ticket until it is closed: an in-flight budget counts a session as one
// call for its whole life.
func TestTransportHoldsTheTicketOfAnUpgradedConnectionUntilItCloses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		for {
			line, err := rw.ReadString('\n')
			if err != nil {
				return
			}
			_, _ = rw.WriteString(line)
			_ = rw.Flush()
		}
	}))
	defer srv.Close()

	l := newLimiter(t, 6000)
	client := tpTransport(t, &http.Transport{}, WithLimiter(l)).Client()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/realtime", nil)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)

	conn, ok := resp.Body.(io.ReadWriteCloser)
	require.True(t, ok, "the upgraded connection can be written")
	_, err = io.WriteString(conn, "hello\n")
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "hello\n", line)

	assert.Equal(t, 1, l.Stats().InFlight, "the session holds its ticket")
	require.NoError(t, conn.Close())
	st := l.Stats()
	assert.Equal(t, 0, st.InFlight, "closed, the session gives its ticket back")
	assert.EqualValues(t, 1, st.Finished)
}
