package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Once its Monitor is stopped, a limiter refuses SetRPM with the error
// Acquire returns, ErrStopped, not ErrClosed: a program that tells the
// two apart with errors.Is sees the same from both.
func TestSetRPMOnAStoppedLimiterReturnsErrStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor()
		l, err := NewBucketRateLimiter(60, WithMonitor(m))
		require.NoError(t, err)
		require.NoError(t, m.Stop())
		_, err = l.Acquire(context.Background())
		require.ErrorIs(t, err, ErrStopped)
		err = l.SetRPM(120)
		assert.ErrorIs(t, err, ErrStopped)
		assert.NotErrorIs(t, err, ErrClosed)
		assert.Equal(t, 60, l.RPM(), "a refused limit changes nothing")
	})
}
