package fakeprovider

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	name string
	data string
}

// json decodes the event's data.
func (e sseEvent) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(e.data), &m), e.data)
	return m
}

// parseSSE splits a complete event stream into events.
func parseSSE(t *testing.T, stream string) []sseEvent {
	t.Helper()
	require.True(t, strings.HasSuffix(stream, "\n\n"), "the stream ends with a blank line")
	var events []sseEvent
	for block := range strings.SplitSeq(strings.TrimSuffix(stream, "\n\n"), "\n\n") {
		var e sseEvent
		for line := range strings.SplitSeq(block, "\n") {
			field, value, ok := strings.Cut(line, ": ")
			require.True(t, ok, "malformed line %q", line)
			switch field {
			case "event":
				e.name = value
			case "data":
				e.data = value
			default:
				t.Fatalf("unexpected field %q", field)
			}
		}
		events = append(events, e)
	}
	return events
}
