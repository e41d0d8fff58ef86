package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// Whatever the configured limit, a limit learned down to the floor of 1
// RPM is back at the configured one after 20 clean minutes, as WithLearning
// promises: each clean minute adds back 5% of it, rounded up.
func TestALearnedLimitIsBackFromTheFloorWithinTwentyCleanMinutes(t *testing.T) {
	for _, rpm := range []int{30, 110, 1200} {
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(t, rpm, WithService(newScriptedService(openAnswer)))
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			for l.RPM() > 1 {
				require.NoError(t, <-handBack(tk, time.Second))
				time.Sleep(5 * time.Second)
			}
			tk.Done()
			time.Sleep(20*time.Minute + time.Second)
			require.Equal(t, rpm, rpmAfterATicket(t, l), "%d RPM: back from the floor after 20 clean minutes", rpm)
		})
	}
}
