package ratellmiter

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The limit a limiter reports is the one it works at now: the clean
// minutes of an idle spell have raised a learned limit, whether or not a
// ticket was asked for since.
func TestStatsShowTheLearnedLimitRaisedByAnIdleSpell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 1200, WithService(newScriptedService(openAnswer)))
		pauseTwiceQuickly(t, l)
		require.Equal(t, 600, l.RPM())

		time.Sleep(5*time.Minute + time.Second)
		s := l.Stats()
		assert.Equal(t, 900, s.RPM, "five clean minutes add back 5%% of the configured limit each")
		assert.Equal(t, 900, s.LearnedRPM)
		assert.Equal(t, 900, l.RPM())
		assert.Equal(t, 900, rpmAfterATicket(t, l), "the limit the next ticket goes at")
	})
}
