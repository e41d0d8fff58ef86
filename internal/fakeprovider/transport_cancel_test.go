package fakeprovider

import (
	"bufio"
	"context"
	"io"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// As over a real connection, cancelling a request's context mid-stream
// ends the body: the reader gets the context's error, not the rest of the
// stream.
func TestTransportStreamEndsWhenTheRequestIsCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{RPM: 60, ReplyTokens: 1000})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		res, err := send(ctx, s, "/v1/messages", `{"model":"m","max_tokens":1000,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		require.NoError(t, err)
		defer res.Body.Close()
		r := bufio.NewReader(res.Body)
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "event: message_start\n", line)

		cancel()
		synctest.Wait()
		n, err := io.Copy(io.Discard, r)
		require.ErrorIs(t, err, context.Canceled)
		assert.Less(t, n, int64(4096), "what was buffered before the cancel, not the 1,000-token stream")
	})
}
