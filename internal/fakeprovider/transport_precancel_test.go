package fakeprovider

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// As net/http does, a request whose context is already done is never sent:
// the server neither sees nor charges it.
func TestTransportDoesNotSendAnAlreadyCancelledRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{RPM: 60}) // one request at once
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = send(ctx, s, "/v1/chat/completions", openAIBody)
		require.ErrorIs(t, err, context.Canceled)
		synctest.Wait()
		assert.Equal(t, Stats{}, s.Stats(), "nothing reached the server")

		res, err := send(context.Background(), s, "/v1/chat/completions", openAIBody)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		assert.Equal(t, http.StatusOK, res.StatusCode, "the budget was not spent on the request never sent")
	})
}
