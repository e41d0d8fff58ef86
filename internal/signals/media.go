package signals

import (
	"io"
	"math"
	"math/bits"
	"time"
)

// The playing time of an audio or video file, read from its header as its
// bytes stream by (the base64 of an inline file is decoded as it goes,
// never whole): WAV, AIFF, MP3, AAC (ADTS), FLAC, Ogg (Opus, Vorbis), MP4
// (MOV, M4A, 3GP), AVI and WebM (Matroska). What the header does not hold is skipped, not
// read: the data before an MP4's moov, the pages of an Ogg stream between
// their headers, the frames of an MP3 or AAC stream between their
// headers. Headers are read a byte
// at a time into small buffers on the stack (io.ByteReader, which the
// readers have: a slice handed to an interface's Read would be moved to
// the heap), so that reading a file allocates nothing whatever its size.
// The reader itself, handed over as an interface, does escape: a caller
// that makes a new one for each file allocates it (64 bytes for a
// base64Reader).
//
//   - WAV: the byte rate of the "fmt " chunk and the size of the "data"
//     chunk; a data size of 0, of 0xFFFFFFFF, or larger than what follows
//     is what follows.
//   - MP3: after an ID3v2 tag, the first frame header within 64 KiB (at
//     the very start when there is no tag); the frame count of a Xing,
//     Info or VBRI tag in that frame, else the frames themselves, counted
//     from header to header (whatever follows the last, a tag or damage,
//     taken to play at their mean bit rate).
//   - AIFF: the sample frames and rate of the COMM chunk.
//   - AAC in ADTS frames: the frames, counted from header to header as an
//     MP3's are.
//   - FLAC: after "fLaC" (and any ID3v2 tag before it), the total samples
//     and sample rate of STREAMINFO, which must be the first block.
//   - Ogg: the codec's rate from the first page's packet (OpusHead: 48
//     kHz less its pre-skip; Vorbis: its sample rate), and the granule
//     position of the stream's last page that has one above 0, jumping
//     from page to page.
//   - MP4: the timescale and duration of moov's mvhd, a top-level box
//     found after any others (a large mdat is skipped). A fragmented MP4,
//     whose mvhd has a duration of 0, gives none.
//   - AVI: the frames and the time of a frame of the main header.
//   - WebM: the Duration and TimecodeScale of the Segment's Info, which
//     must come before any Cluster. A live recording, whose Info has no
//     Duration (or one of 0), is timed by its blocks: the latest start of
//     a block, its Cluster's Timecode plus its offset, each Cluster
//     entered whatever its size.

const (
	// mediaBack is the most bytes a media parser gives back to be read
	// again: an ID3v2 tag's header that is none.
	mediaBack = 10
)

// mediaReader is what the media parsers read: the bytes of a file.
type mediaReader interface {
	io.Reader
	// discard skips up to n bytes as reading them would, and returns how
	// many it skipped (fewer than n only at the end).
	discard(n int64) int64
}

// discard skips up to n decoded bytes exactly as Read would return them,
// stopping where Read would stop, and returns how many it skipped. Groups
// of four plain characters (no escape, no line break) are checked and
// counted, not decoded.
func (b *base64Reader) discard(n int64) int64 {
	var done int64
	for done < n {
		if b.i < b.n {
			k := min(int64(b.n-b.i), n-done)
			b.i += int(k)
			done += k
			continue
		}
		groups := min((n-done)/3, int64(b.left/4), int64(len(b.s)/4))
		if g := plainGroups(b.s[:4*groups]); g > 0 {
			b.s, b.left, done = b.s[4*g:], b.left-4*g, done+3*int64(g)
			continue
		}
		if !b.fill() {
			break
		}
	}
	return done
}

// plainGroups returns how many whole groups of four characters at the
// start of s are all base64.
func plainGroups(s []byte) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		v := base64Values[s[i]] | base64Values[s[i+1]] | base64Values[s[i+2]] | base64Values[s[i+3]] |
			base64Values[s[i+4]] | base64Values[s[i+5]] | base64Values[s[i+6]] | base64Values[s[i+7]]
		if v < 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if base64Values[s[i]] < 0 {
			break
		}
	}
	return i / 4
}

// mediaDuration returns the playing time of the audio or video file r
// gives, and whether its format was recognised and its header gave the
// time; when it did not, size is the file's whole length in bytes (r is
// then read, or discarded, to its end), else size is whatever was read so
// far (callers use size only when !known).
func mediaDuration(r mediaReader) (d time.Duration, known bool, size int64) {
	m := mediaScan{r: r}
	if br, ok := r.(io.ByteReader); ok {
		m.br = br
	} else {
		m.br = &oneByteReader{r: r}
	}
	var head [8]byte
	n := m.read(head[:])
	m.unread(head[:n])
	h := head[:n]
	switch {
	case hasPrefix(h, "RIFF"):
		return m.wav()
	case hasPrefix(h, "FORM"):
		return m.aiff()
	case hasPrefix(h, "ID3"), hasPrefix(h, "fLaC"):
		return m.tagged()
	case hasPrefix(h, "OggS"):
		return m.ogg()
	case hasPrefix(h, "\x1a\x45\xdf\xa3"):
		return m.matroska()
	case n == 8 && isFirstBox(h[4:]):
		return m.mp4()
	case isADTS(h):
		return m.adts()
	}
	return m.mp3(false)
}

// hasPrefix reports whether b starts with p.
func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// isFirstBox reports whether typ is the type of a box that may start an
// ISO BMFF file.
func isFirstBox(typ []byte) bool {
	switch string(typ) {
	case "ftyp", "moov", "mdat", "free", "skip", "wide":
		return true
	}
	return false
}

// mediaScan reads a media file a byte at a time, skips through it, and
// counts the bytes gone by.
type mediaScan struct {
	r  mediaReader
	br io.ByteReader // r's bytes
	// back holds bytes given back, read again before r's: back[bi:bn].
	back   [mediaBack]byte
	bi, bn int
	pos    int64 // bytes read or skipped
}

// oneByteReader reads a byte at a time from a reader that has no
// ReadByte.
type oneByteReader struct {
	r io.Reader
	b [1]byte
}

func (o *oneByteReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(o.r, o.b[:]); err != nil {
		return 0, err
	}
	return o.b[0], nil
}

// byte returns the next byte, and false at the end.
func (m *mediaScan) byte() (byte, bool) {
	if m.bi < m.bn {
		m.bi++
		m.pos++
		return m.back[m.bi-1], true
	}
	c, err := m.br.ReadByte()
	if err != nil {
		return 0, false
	}
	m.pos++
	return c, true
}

// read fills p as far as the file goes, and returns how much it filled.
func (m *mediaScan) read(p []byte) int {
	for i := range p {
		c, ok := m.byte()
		if !ok {
			return i
		}
		p[i] = c
	}
	return len(p)
}

// full reports whether read filled all of p.
func (m *mediaScan) full(p []byte) bool { return m.read(p) == len(p) }

// unread gives back p, the bytes just read, to be read again before any
// given back before them and not yet read again; they fit in back when the
// reads since the start took no more than it holds.
func (m *mediaScan) unread(p []byte) {
	var t [mediaBack]byte
	n := copy(t[:], p)
	n += copy(t[n:], m.back[m.bi:m.bn])
	m.back, m.bi, m.bn = t, 0, n
	m.pos -= int64(len(p))
}

// skip skips up to n bytes and returns how many it skipped.
func (m *mediaScan) skip(n int64) int64 {
	if n <= 0 {
		return 0
	}
	k := min(int64(m.bn-m.bi), n)
	m.bi += int(k)
	if k < n {
		k += m.r.discard(n - k)
	}
	m.pos = satAdd(m.pos, k)
	return k
}

// skipped reports whether skip skipped all n bytes.
func (m *mediaScan) skipped(n int64) bool { return n >= 0 && m.skip(n) == n }

// unknown skips to the end of the file and returns an unknown time and
// the file's length.
func (m *mediaScan) unknown() (time.Duration, bool, int64) {
	m.skip(math.MaxInt64)
	return 0, false, m.pos
}

// known returns the time d.
func (m *mediaScan) known(d time.Duration) (time.Duration, bool, int64) {
	return d, true, m.pos
}

// scaled returns a*b/c nanoseconds, saturating at math.MaxInt64; c is not
// 0.
func scaled(a, b, c uint64) time.Duration {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, c)
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(q)
}
