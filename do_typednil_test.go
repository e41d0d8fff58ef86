package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A nil *RateLimitError or *QuotaError returned as an error (the typed-nil
// slip) carries no status and no hint: Do hands it back as it is, once,
// without a panic, a retry or a pause.
func TestDoHandsBackATypedNilErrorOfItsOwnTypes(t *testing.T) {
	for name, e := range map[string]error{
		"RateLimitError": (*RateLimitError)(nil),
		"QuotaError":     (*QuotaError)(nil),
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 600)
				calls := 0
				var v int
				var err error
				require.NotPanics(t, func() {
					v, err = Do(context.Background(), l, func(context.Context) (int, error) {
						calls++
						return 1, e
					})
				})
				assert.Equal(t, 1, v)
				assert.Equal(t, e, err)
				assert.NotEmpty(t, err.Error())
				assert.Equal(t, 1, calls)
				assert.Zero(t, l.Stats().RateLimited)
				assert.False(t, l.Stats().Paused)
				assertConserved(t, l)
			})
		})
	}
}
