package ratellmiter

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnnamedLimitersTakeTheFirstFreeDefaultName(t *testing.T) {
	m := NewMonitor(WithoutLogs())
	defer m.Stop()
	mk := func(opts ...Option) *BucketRateLimiter {
		l, err := NewBucketRateLimiter(60, append(opts, WithMonitor(m))...)
		require.NoError(t, err)
		return l
	}
	a, b, c := mk(), mk(), mk()
	require.Equal(t, []string{"default", "default-2", "default-3"}, []string{a.Name(), b.Name(), c.Name()})
	five := mk(WithName("default-5"))
	twin := mk(WithName("default-3"))
	b.Close()
	require.Equal(t, "default-2", mk().Name())
	require.Equal(t, "default-4", mk().Name())
	require.Equal(t, "default-6", mk().Name())
	five.Close()
	require.Equal(t, "default-5", mk().Name())
	c.Close()
	require.Equal(t, "default-7", mk().Name(), "default-3 is still another limiter's name")
	twin.Close()
	a.Close()
	require.Equal(t, "default", mk().Name())
	require.Equal(t, "default-3", mk().Name())
}
