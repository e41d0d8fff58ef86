package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A ticket issued well after a refused one whose success comes back
// during the pause shows the server admitted part of the traffic, even
// when a ticket issued later still had come back before the pause began.
func TestAPartialAdmissionCountsThoughALaterTicketCameBackFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 1200, WithService(newScriptedService(openAnswer))) // 50 ms apart
		a, _ := l.Acquire(context.Background())
		b, _ := l.Acquire(context.Background())
		c, _ := l.Acquire(context.Background())
		c.Done() // answered fast, before the refusal
		retried := handBack(a, time.Second)
		synctest.Wait()
		require.True(t, l.Stats().Paused)
		b.Done() // issued 50 ms after a, admitted: its success comes back during the pause
		require.NoError(t, <-retried)
		a.Done()
		require.False(t, l.Stats().Paused)
		assert.Equal(t, 600, l.RPM(), "the server admitted a request sent after one it refused")
	})
}
