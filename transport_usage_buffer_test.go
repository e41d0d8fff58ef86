package ratellmiter

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// allocatedBy returns the bytes f allocates.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A JSON answer is read for its usage as it passes, whatever its length
// and whether or not its Content-Length is given: nothing of it is kept
// but its usage.
func TestTransportReadsAJSONAnswersUsageWithoutKeepingIt(t *testing.T) {
	for _, size := range []int{2 << 20, 50 << 20} {
		answer := []byte(`{"object":"list","data":[{"embedding":[` + strings.Repeat("0.0123,", size/7) + `0]}],"usage":{"prompt_tokens":8,"total_tokens":8}}`)
		for _, length := range []int64{int64(len(answer)), -1} {
			resp := &http.Response{
				StatusCode:    http.StatusOK,
				Header:        http.Header{"Content-Type": {"application/json"}},
				ContentLength: length,
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
			assert.Less(t, allocated, uint64(64<<10), "bytes allocated to read an answer of %d bytes (Content-Length %d)", len(answer), length)
			assert.Equal(t, signals.Usage{InputTokens: 8, Known: true}, tap.usage(), "answer of %d bytes", len(answer))
		}
	}
}

// An answer compressed with gzip is kept compressed and read at its end,
// decompressed as it is read: one of 21 MiB yields its usage.
func TestTransportReadsTheUsageOfALongCompressedAnswer(t *testing.T) {
	zipped := gzipped(t, `{"object":"list","data":[{"embedding":[`+strings.Repeat("0.0123,", 3<<20)+`0]}],"usage":{"prompt_tokens":8,"total_tokens":8}}`)
	tap := newUsageTap(&http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}},
		ContentLength: int64(len(zipped)),
	})
	for p := zipped; len(p) > 0; {
		n := min(32<<10, len(p))
		tap.write(p[:n])
		p = p[n:]
	}
	assert.Less(t, len(zipped), 1<<20, "the answer compressed")
	assert.Equal(t, signals.Usage{InputTokens: 8, Known: true}, tap.usage())
}
