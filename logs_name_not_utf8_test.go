package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limiter's name may hold bytes that are not UTF-8 (a model name cut in
// the middle of a character). Its minute logs name it as the metrics
// package labels it, the bad bytes replaced by one U+FFFD, and the Series
// of the log file asked for by the limiter's Name finds its minutes.
func TestALimiterWhoseNameIsNotUTF8IsFoundInItsLogByItsName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(WithLogDir(t.TempDir()))
		svc := NewService("\xffai", nil)
		l, err := svc.NewLimiter("gpt-\xe2\x82", 600, WithMonitor(m))
		require.NoError(t, err)
		for range 5 {
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			tk.Done()
		}
		time.Sleep(time.Minute)
		require.NoError(t, m.Stop())

		lf, err := ReadLog(m.LogPath())
		require.NoError(t, err)
		assert.Equal(t, []string{"\uFFFDai/gpt-\uFFFD"}, lf.Limiters())
		require.NotEmpty(t, lf.Minutes)
		assert.Equal(t, "\uFFFDai", lf.Minutes[0].Service)
		s := lf.Series(l.Name())
		issued := 0
		for _, n := range s.Issued {
			issued += n
		}
		assert.Equal(t, 5, issued, "tickets issued in the Series of %q", l.Name())
		assert.Equal(t, "\uFFFDai/gpt-\uFFFD", s.Limiter)
	})
}
