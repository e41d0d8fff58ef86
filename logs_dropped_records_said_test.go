package ratellmiter

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Records dropped to keep within heldLogRecords, after two minutes of
// failed writes, are said as such: the message names the bound in records,
// and does not blame writes that failed for longer than the minutes kept.
func TestRecordsDroppedBeyondTheRecordsKeptAreSaidSo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	require.NoError(t, os.WriteFile(dir, []byte("x"), 0o644)) // a file where the folder must be
	rec := &logRecorder{}
	w := newLogWriter(dir, time.Unix(1_700_000_000, 0), slog.New(rec))
	const limiters = heldLogRecords/2 + 100
	for _, start := range []int64{1_700_000_000, 1_700_000_060} {
		recs := make([]*MinuteLog, limiters)
		for i := range recs {
			recs[i] = &MinuteLog{V: LogVersion, Limiter: fmt.Sprint("l", i), Start: start, RPM: 60}
		}
		w.writeAll(recs)
	}
	require.Equal(t, heldLogRecords, len(w.held), "records held")
	require.Error(t, w.close())

	dropped := rec.matching("dropped")
	require.Len(t, dropped, 1)
	assert.Contains(t, dropped[0], "records=200")
	assert.Contains(t, dropped[0], fmt.Sprint("kept_records=", heldLogRecords))
	assert.NotContains(t, dropped[0], "for longer than", "two minutes of failures are not more than the hour kept")
}
