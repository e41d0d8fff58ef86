package signals

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/samples"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bytesMedia reads a file from its bytes; discard seeks.
type bytesMedia struct{ *bytes.Reader }

func (b bytesMedia) discard(n int64) int64 {
	n = max(0, min(n, int64(b.Len())))
	_, _ = b.Seek(n, io.SeekCurrent)
	return n
}

// bytesDuration returns mediaDuration of file read from its bytes.
func bytesDuration(file []byte) (time.Duration, bool, int64) {
	return mediaDuration(bytesMedia{bytes.NewReader(file)})
}

// base64Duration returns mediaDuration of a file read through
// base64Reader from s, its base64 as a JSON string's contents hold it.
func base64Duration(s string) (time.Duration, bool, int64) {
	r := base64Reader{s: []byte(s), left: math.MaxInt}
	return mediaDuration(&r)
}

// jsonBase64 returns the base64 of file as a JSON string may hold it:
// plain, wrapped in lines of 76 characters ended by the escape \n, and
// with each '/' escaped as \/.
func jsonBase64(file []byte) map[string]string {
	std := b64(file)
	var wrapped strings.Builder
	for s := std; len(s) > 0; {
		n := min(len(s), 76)
		wrapped.WriteString(s[:n] + `\n`)
		s = s[n:]
	}
	return map[string]string{
		"plain":   std,
		"wrapped": wrapped.String(),
		"slashes": strings.ReplaceAll(std, "/", `\/`),
	}
}

// mp3Time returns the time of frames MPEG-1 layer III frames at 44.1 kHz.
func mp3Time(frames int64) time.Duration {
	return time.Duration(frames) * 1152 * time.Second / 44100
}

// id3Tag returns an ID3v2.4 tag of size bytes after its header, zeros.
func id3Tag(size int) []byte {
	h := []byte{'I', 'D', '3', 4, 0, 0, byte(size >> 21 & 0x7f), byte(size >> 14 & 0x7f), byte(size >> 7 & 0x7f), byte(size & 0x7f)}
	return append(h, make([]byte, size)...)
}

// mediaCases are the sample files whose time is known, with that time.
var mediaCases = []struct {
	name string
	file []byte
	want time.Duration
}{
	{"WAV, 16-bit stereo at 44.1 kHz", samples.WAV(3500*time.Millisecond, 44100, 2, 16), 3500 * time.Millisecond},
	{"WAV, 8-bit mono at 8 kHz", samples.WAV(61*time.Second, 8000, 1, 8), 61 * time.Second},
	{"MP3 of constant bit rate, 10 s in 383 frames", samples.MP3(10*time.Second, 128, false), mp3Time(383)},
	{"MP3 with a Xing tag, 10 s in 383 frames", samples.MP3(10*time.Second, 320, true), mp3Time(383)},
	{"MP3 after an ID3v2 tag, 2 s in 77 frames", append(id3Tag(3000), samples.MP3(2*time.Second, 64, false)...), mp3Time(77)},
	{"FLAC at 48 kHz", samples.FLAC(95*time.Second+250*time.Millisecond, 48000), 95*time.Second + 250*time.Millisecond},
	{"FLAC after an ID3v2 tag", append(id3Tag(100), samples.FLAC(time.Second, 44100)...), time.Second},
	{"Ogg Opus", samples.Ogg(7*time.Second+125*time.Millisecond, "opus"), 7*time.Second + 125*time.Millisecond},
	{"Ogg Vorbis", samples.Ogg(4500*time.Millisecond, "vorbis"), 4500 * time.Millisecond},
	{"MP4, moov before mdat", samples.MP4(90*time.Second+10*time.Millisecond, false, 4096), 90*time.Second + 10*time.Millisecond},
	{"MP4, moov after 1 MiB of mdat", samples.MP4(3*time.Minute, true, 1<<20), 3 * time.Minute},
	{"WebM", samples.WebM(12*time.Second + 345*time.Millisecond), 12*time.Second + 345*time.Millisecond},
}

// Each format's time is read from its header to the millisecond, the same
// from its bytes as through its base64, plain, wrapped in lines, or with
// its slashes escaped.
func TestMediaDurationOfEachFormat(t *testing.T) {
	for _, c := range mediaCases {
		t.Run(c.name, func(t *testing.T) {
			d, known, size := bytesDuration(c.file)
			require.True(t, known)
			require.Less(t, (d - c.want).Abs(), time.Millisecond, "got %v, want %v", d, c.want)
			for enc, s := range jsonBase64(c.file) {
				d64, known64, size64 := base64Duration(s)
				require.Equal(t, []any{d, known, size}, []any{d64, known64, size64}, enc)
			}
		})
	}
}

// An MP4's moov after a large mdat is found by skipping the mdat, and
// the parse of a 1 MiB MP4 through its base64 allocates nothing. (The
// reader handed to mediaDuration, an interface, escapes; here it is made
// once, outside the runs measured.)
func TestMediaDurationOfLargeMP4AllocatesNothing(t *testing.T) {
	s := []byte(b64(samples.MP4(time.Hour, true, 1<<20)))
	r := new(base64Reader)
	var d time.Duration
	allocs := testing.AllocsPerRun(20, func() {
		*r = base64Reader{s: s, left: math.MaxInt}
		d, _, _ = mediaDuration(r)
	})
	require.Equal(t, time.Hour, d)
	require.Zero(t, allocs)
}

// A WAV whose data size is 0xFFFFFFFF (a stream's, written before its end
// was known) plays to the end of the file; so does one whose data size is
// 0, or more than follows.
func TestMediaDurationOfWAVToTheEnd(t *testing.T) {
	wav := samples.WAV(2*time.Second, 8000, 1, 16) // 16,000 bytes a second
	for _, size := range []uint32{0xffffffff, 0, 1 << 30} {
		f := bytes.Clone(wav)
		binary.LittleEndian.PutUint32(f[40:], size)
		f = append(f, make([]byte, 16000)...)
		d, known, _ := bytesDuration(f)
		require.True(t, known)
		require.Equal(t, 3*time.Second, d, "data size %#x", size)
	}
	d, known, _ := bytesDuration(wav[:44+8000])
	require.True(t, known, "a data size over what follows")
	require.Equal(t, 500*time.Millisecond, d)
}

// A file whose format is not one of these, or whose header is cut short,
// has no known time, and its whole length is counted.
func TestMediaDurationUnknown(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 100_000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	random[0] = 0 // no MP3 frame at the start
	cases := map[string][]byte{
		"empty":                             nil,
		"random bytes":                      random,
		"a PNG header":                      append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), make([]byte, 500)...),
		"text":                              []byte("RIFF is a word, and so is OggS"),
		"a RIFF AVI":                        append([]byte("RIFF\x00\x10\x00\x00AVI LIST"), make([]byte, 100)...),
		"an ID3v2 tag and nothing after it": id3Tag(50),
		"WAV with a fmt of 10 bytes":        []byte("RIFF\x00\x00\x00\x00WAVEfmt \x0a\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x40\x1fdata\x04\x00\x00\x00\x00\x00\x00\x00"),
	}
	for _, c := range mediaCases {
		h := headerLength(c.file)
		cases[c.name+", cut inside its header"] = c.file[:h]
	}
	wav := samples.WAV(time.Second, 8000, 1, 8)
	cases["WAV with its data before its fmt"] = append([]byte("RIFF\x00\x00\x00\x00WAVEdata\x04\x00\x00\x00\x00\x00\x00\x00"), wav[12:36]...)
	binary.LittleEndian.PutUint32(wav[28:], 0) // byte rate
	cases["WAV of byte rate 0"] = wav
	mp4 := samples.MP4(time.Second, false, 10)
	binary.BigEndian.PutUint32(mp4[bytes.Index(mp4, []byte("mvhd"))+4+12:], 0) // mvhd's timescale
	cases["MP4 of timescale 0"] = mp4
	for name, f := range cases {
		d, known, size := bytesDuration(f)
		require.Equal(t, []any{time.Duration(0), false, int64(len(f))}, []any{d, known, size}, name)
		d, known, size = base64Duration(b64(f))
		require.Equal(t, []any{time.Duration(0), false, int64(len(f))}, []any{d, known, size}, name+", in base64")
	}
}

// headerLength returns where a sample file's header is cut so that its
// time cannot be read: within the chunk, box, page or element that holds
// the time.
func headerLength(f []byte) int {
	switch {
	case hasPrefix(f, "RIFF"):
		return 30 // in fmt
	case hasPrefix(f, "ID3"):
		return 20 // in the tag
	case hasPrefix(f, "fLaC"):
		return 20 // in STREAMINFO
	case hasPrefix(f, "OggS"):
		return 30 // in the first page
	case hasPrefix(f, "\x1a\x45\xdf\xa3"):
		return bytes.Index(f, []byte("\x2a\xd7\xb1")) // in Info
	case hasPrefix(f[4:], "ftyp"):
		return bytes.Index(f, []byte("mvhd")) + 10
	}
	return 2 // an MP3 frame header
}

// A media file's time is that of its header even when the header claims
// too much: sizes and durations are not trusted to fit.
func TestMediaDurationSaturates(t *testing.T) {
	flac := samples.FLAC(time.Second, 1)
	flac[4+4+13] |= 0x0f // 2^36-ish samples at 1 Hz
	binary.BigEndian.PutUint32(flac[4+4+14:], 0xffffffff)
	mp4 := samples.MP4(time.Second, false, 0)
	mvhd := bytes.Index(mp4, []byte("mvhd")) + 4
	binary.BigEndian.PutUint32(mp4[mvhd+12:], 1)          // a timescale of 1 Hz
	binary.BigEndian.PutUint32(mp4[mvhd+16:], 0xfffffffe) // and 2^32-2 of it
	for f, want := range map[*[]byte]time.Duration{&flac: math.MaxInt64, &mp4: 0xfffffffe * time.Second} {
		d, known, _ := bytesDuration(*f)
		require.True(t, known)
		require.Equal(t, want, d)
	}
	webm := samples.WebM(time.Second)
	dur := bytes.Index(webm, []byte("\x44\x89")) + 2 + 8
	binary.BigEndian.PutUint64(webm[dur:], math.Float64bits(1e300))
	d, known, _ := bytesDuration(webm)
	require.True(t, known)
	require.Equal(t, time.Duration(math.MaxInt64), d)
	for _, bad := range []float64{math.NaN(), math.Inf(1), -1} {
		binary.BigEndian.PutUint64(webm[dur:], math.Float64bits(bad))
		_, known, _ := bytesDuration(webm)
		require.False(t, known, "a Duration of %v", bad)
	}
}

// discard skips the bytes Read would have given, and stops where Read
// stops: at the end of the base64, at a character that is not base64, or
// when left runs out, whatever the escapes and line breaks.
func TestBase64DiscardAgreesWithRead(t *testing.T) {
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	enc := jsonBase64(data)
	inputs := map[string]string{
		"plain":           enc["plain"],
		"wrapped":         enc["wrapped"],
		"escaped slashes": enc["slashes"],
		"escaped letters": `QUJD\u0044EFGSElK`,
		"raw line breaks": "QUJD\r\nREVG\nR0hJ",
		"an invalid char": enc["plain"][:401] + "!" + enc["plain"][402:],
		"a space":         enc["plain"][:99] + " " + enc["plain"][99:],
		"padding":         "QUJDRA==QUJD",
		"URL alphabet":    "-_-_AAAA",
		"empty":           "",
	}
	for name, s := range inputs {
		for _, left := range []int{math.MaxInt, 5, 401} {
			for _, n := range []int64{0, 1, 2, 3, 4, 5, 299, 300, 301, 749, 5000} {
				want := readAll(&base64Reader{s: []byte(s), left: left})
				r := base64Reader{s: []byte(s), left: left}
				k := r.discard(n)
				require.Equal(t, min(n, int64(len(want))), k, "%s, left %d: discard(%d)", name, left, n)
				require.Equal(t, want[k:], readAll(&r), "%s, left %d: Read after discard(%d)", name, left, n)
			}
		}
	}
}

// readAll returns what Read gives to the end, a few bytes at a time.
func readAll(r *base64Reader) []byte {
	out := []byte{}
	var buf [7]byte
	for {
		n, err := r.Read(buf[:])
		out = append(out, buf[:n]...)
		if err != nil {
			return out
		}
	}
}

// BenchmarkBase64Discard compares skipping a megabyte of base64 with
// reading it.
func BenchmarkBase64Discard(b *testing.B) {
	s := []byte(b64(make([]byte, 1<<20)))
	b.Run("discard", func(b *testing.B) {
		b.SetBytes(1 << 20)
		for b.Loop() {
			r := base64Reader{s: s, left: math.MaxInt}
			r.discard(math.MaxInt64)
		}
	})
	b.Run("Read", func(b *testing.B) {
		b.SetBytes(1 << 20)
		var buf [512]byte
		for b.Loop() {
			r := base64Reader{s: s, left: math.MaxInt}
			for {
				if _, err := r.Read(buf[:]); err != nil {
					break
				}
			}
		}
	})
}

// BenchmarkMediaDurationMP4 reads the time of a 1 MiB MP4 whose moov comes
// last, through its base64.
func BenchmarkMediaDurationMP4(b *testing.B) {
	s := []byte(b64(samples.MP4(time.Hour, true, 1<<20)))
	r := new(base64Reader)
	b.ReportAllocs()
	for b.Loop() {
		*r = base64Reader{s: s, left: math.MaxInt}
		mediaDuration(r)
	}
}

// scaled is a*b/c, truncated, or math.MaxInt64 when that does not fit,
// even when a*b does not fit in 64 bits.
func TestScaled(t *testing.T) {
	require.Equal(t, 1500*time.Millisecond, scaled(3, uint64(time.Second), 2))
	require.Equal(t, time.Duration(333333333), scaled(1, uint64(time.Second), 3))
	require.Equal(t, time.Duration(1<<62), scaled(1<<62, 1<<62, 1<<62))
	require.Equal(t, time.Duration(math.MaxInt64), scaled(1<<63, 1, 1))
	require.Equal(t, time.Duration(math.MaxInt64), scaled(math.MaxUint64, math.MaxUint64, math.MaxUint64-1))
	require.Equal(t, time.Duration(math.MaxInt64), scaled(1, 1, 0))
}

// A version 1 mvhd gives its timescale and 64-bit duration at their own
// offsets.
func TestMediaDurationOfMP4WithVersion1Header(t *testing.T) {
	mvhd := make([]byte, 4+8+8+4+8+80)
	mvhd[0] = 1
	binary.BigEndian.PutUint32(mvhd[20:], 90000)
	binary.BigEndian.PutUint64(mvhd[24:], 90000*7200+45000)
	file := append([]byte("\x00\x00\x00\x10ftypisom\x00\x00\x00\x00"), mp4TestBox("moov", mp4TestBox("mvhd", mvhd))...)
	d, known, _ := bytesDuration(file)
	require.True(t, known)
	require.Equal(t, 2*time.Hour+500*time.Millisecond, d)
}

// mp4TestBox returns an ISO BMFF box.
func mp4TestBox(typ string, content []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(8+len(content))), append([]byte(typ), content...)...)
}

// A Matroska Segment of unknown size, whose Info holds a TimecodeScale in
// two bytes and a Duration as a float32, gives their product.
func TestMediaDurationOfMatroskaWithShortFields(t *testing.T) {
	file := []byte("\x1a\x45\xdf\xa3\x84\x42\x86\x81\x01" + // EBML header
		"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" + // Segment, size unknown
		"\xec\x82\x00\x00" + // Void
		"\x15\x49\xa9\x66\x8d" + // Info
		"\x2a\xd7\xb1\x82\x03\xe8" + // TimecodeScale: a microsecond
		"\x44\x89\x84\x49\x74\x24\x00" + // Duration: 1e6 as a float32
		"\x1f\x43\xb6\x75\x80") // Cluster
	d, known, _ := bytesDuration(file)
	require.True(t, known)
	require.Equal(t, time.Second, d)
	cluster := bytes.Replace(file, []byte("\x15\x49\xa9\x66"), []byte("\x1f\x43\xb6\x75\x80\x15\x49\xa9\x66"), 1)
	_, known, _ = bytesDuration(cluster)
	require.False(t, known, "a Cluster before Info")
}

// A VBRI tag, which Fraunhofer's encoder writes 32 bytes after the first
// frame's header, gives the frame count.
func TestMediaDurationOfMP3WithVBRITag(t *testing.T) {
	mp3 := samples.MP3(time.Second, 128, false)
	copy(mp3[4+32:], "VBRI")
	binary.BigEndian.PutUint32(mp3[4+32+14:], 500)
	d, known, _ := bytesDuration(mp3)
	require.True(t, known)
	require.Equal(t, mp3Time(500), d)
}

// The pages of another stream interleaved with the first page's (an Ogg
// file's video, say) do not count.
func TestMediaDurationOfOggIgnoresOtherStreams(t *testing.T) {
	ogg := samples.Ogg(2*time.Second, "opus")
	last := bytes.LastIndex(ogg, []byte("OggS"))
	other := bytes.Clone(ogg[last:])
	binary.LittleEndian.PutUint64(other[6:], 48000*3600)
	binary.LittleEndian.PutUint32(other[14:], 7)
	d, known, _ := bytesDuration(append(ogg, other...))
	require.True(t, known)
	require.Equal(t, 2*time.Second, d)
}

// readOnlyMedia is a mediaReader without ReadByte.
type readOnlyMedia struct{ b bytesMedia }

func (r readOnlyMedia) Read(p []byte) (int, error) { return r.b.Read(p) }
func (r readOnlyMedia) discard(n int64) int64      { return r.b.discard(n) }

// A reader that has no ReadByte is read a byte at a time through Read, to
// the same times.
func TestMediaDurationWithoutReadByte(t *testing.T) {
	for _, c := range mediaCases {
		d, known, size := mediaDuration(readOnlyMedia{bytesMedia{bytes.NewReader(c.file)}})
		wd, wknown, wsize := bytesDuration(c.file)
		require.Equal(t, []any{wd, wknown, wsize}, []any{d, known, size}, c.name)
	}
}

// Bytes that look like an MP3 frame header, found after an ID3v2 tag in a
// file of another format, are no frame when no second frame follows the
// first: the file's time is unknown, not the first "frame's" 26 ms. A
// real MP3 after the same tag is timed by its frames.
func TestAFalseMP3FrameSyncIsNoFrame(t *testing.T) {
	other := samples.Noise(50_000, 3)
	for i := range other {
		if other[i] == 0xff {
			other[i] = 0 // no sync but the one planted below
		}
	}
	copy(other[1000:], []byte{0xff, 0xfb, 0x90, 0x64}) // MPEG-1 layer III, 128 kbps, 44.1 kHz
	file := append(id3Tag(100), other...)
	d, known, size := bytesDuration(file)
	assert.False(t, known, "read as %v", d)
	assert.Equal(t, int64(len(file)), size)

	mp3 := append(id3Tag(100), samples.MP3(2*time.Second, 128, false)...)
	d, known, _ = bytesDuration(mp3)
	assert.True(t, known)
	assert.Equal(t, mp3Time(77), d)
}
