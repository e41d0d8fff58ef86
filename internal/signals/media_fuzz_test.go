package signals

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/samples"
)

// smallMediaSamples are a file of each format, small enough to mutate.
func smallMediaSamples() [][]byte {
	return [][]byte{
		samples.WAV(100*time.Millisecond, 8000, 1, 8),
		samples.MP3(200*time.Millisecond, 32, false),
		samples.MP3(200*time.Millisecond, 32, true),
		append(id3Tag(20), samples.MP3(100*time.Millisecond, 32, false)...),
		samples.FLAC(time.Second, 44100),
		append(id3Tag(10), samples.FLAC(time.Second, 44100)...),
		samples.Ogg(1500*time.Millisecond, "opus"),
		samples.Ogg(time.Second, "vorbis"),
		samples.MP4(time.Second, false, 100),
		samples.MP4(time.Second, true, 100),
		samples.WebM(time.Second),
	}
}

// Whatever its bytes, a file's time is the same read through its base64
// (plain, or wrapped in lines) or as a stream as from its bytes, never negative, and an
// unknown one comes with the file's length; nothing panics.
func FuzzMediaDuration(f *testing.F) {
	for _, s := range smallMediaSamples() {
		f.Add(s, false)
		f.Add(s[:headerLength(s)], true)
		f.Add(s[:len(s)/2], false)
	}
	encoded, _ := filepath.Glob(filepath.Join("testdata", "media", "*"))
	for _, name := range encoded {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b, false)
		}
	}
	f.Fuzz(func(t *testing.T, file []byte, wrapped bool) {
		if len(file) > 2*mp3Search {
			return // past every bound the parsers have, and slow to minimise
		}
		d, known, size := bytesDuration(file)
		enc := b64(file)
		if wrapped {
			enc = jsonBase64(file)["wrapped"]
		}
		d64, known64, size64 := base64Duration(enc)
		if d != d64 || known != known64 || size != size64 {
			t.Fatalf("from bytes %v, %t, %d; through base64 %v, %t, %d", d, known, size, d64, known64, size64)
		}
		// As a stream, through a buffer smaller than most headers.
		ds, knowns, sizes := mediaDuration(streamMedia{bufio.NewReaderSize(bytes.NewReader(file), 16)})
		if d != ds || known != knowns || size != sizes {
			t.Fatalf("from bytes %v, %t, %d; as a stream %v, %t, %d", d, known, size, ds, knowns, sizes)
		}
		if d < 0 || !known && (d != 0 || size != int64(len(file))) || size > int64(len(file)) {
			t.Fatalf("%v, %t, %d for a file of %d bytes", d, known, size, len(file))
		}
	})
}

// discard(n) skips what n bytes of Read would give: Read then gives the
// rest, whatever the escapes, line breaks, characters that end the
// base64, and the characters left.
func FuzzBase64Discard(f *testing.F) {
	f.Add([]byte(b64(samples.WAV(10*time.Millisecond, 8000, 1, 8))), uint16(50), uint16(1000))
	f.Add([]byte(`QUJD\r\nREVG\u0041QUFB\/w==`), uint16(4), uint16(30))
	f.Add([]byte("QUJDREVGR0hJSktM\\nTU5PUFFSU1RV!QUFB"), uint16(11), uint16(math.MaxUint16))
	f.Add([]byte("AAAAAAAA-_-_AAA"), uint16(3), uint16(9))
	f.Fuzz(func(t *testing.T, s []byte, n, left uint16) {
		var one []string
		if json.Unmarshal([]byte(`["`+string(s)+`"]`), &one) != nil || len(one) != 1 {
			return // not the contents of one JSON string
		}
		all := readAll(&base64Reader{s: s, left: int(left)})
		r := base64Reader{s: s, left: int(left)}
		k := r.discard(int64(n))
		if k != min(int64(n), int64(len(all))) {
			t.Fatalf("discard(%d) = %d of %d bytes", n, k, len(all))
		}
		if rest := readAll(&r); string(rest) != string(all[k:]) {
			t.Fatalf("after discard(%d), Read gives %x, not %x", n, rest, all[k:])
		}
	})
}
