package ratellmiter

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// allocatedBy returns the bytes f allocates.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A JSON answer is read for its usage in one buffer of its length, and
// not at all when its Content-Length says it is too long to be read.
func TestTransportReadsAJSONAnswersUsageInOneBuffer(t *testing.T) {
	for _, size := range []int{2 << 20, 50 << 20} {
		answer := []byte(`{"object":"list","data":[{"embedding":[` + strings.Repeat("0.0123,", size/7) + `0]}],"usage":{"prompt_tokens":8,"total_tokens":8}}`)
		resp := &http.Response{
			StatusCode:    http.StatusOK,
			Header:        http.Header{"Content-Type": {"application/json"}},
			ContentLength: int64(len(answer)),
		}
		tap := newUsageTap(resp)
		chunk := make([]byte, 32<<10)
		r := bytes.NewReader(answer)
		allocated := allocatedBy(func() {
			for {
				n, err := r.Read(chunk)
				tap.write(chunk[:n])
				if err == io.EOF {
					break
				}
			}
		})
		if len(answer) <= maxUsageBody {
			assert.Less(t, allocated, uint64(len(answer))+64<<10, "bytes allocated to keep an answer of %d bytes", len(answer))
			assert.Equal(t, int64(8), tap.usage().InputTokens)
		} else {
			assert.Less(t, allocated, uint64(64<<10), "bytes allocated for an answer of %d bytes, too long to be read", len(answer))
			assert.False(t, tap.usage().Known)
		}
	}
}
