package signals

import (
	"encoding/binary"
	"io"
	"math"
	"math/bits"
	"time"
)

// The playing time of an audio or video file, read from its header as its
// bytes stream by (the base64 of an inline file is decoded as it goes,
// never whole): WAV, MP3, FLAC, Ogg (Opus, Vorbis), MP4 (MOV, M4A) and
// WebM (Matroska). What the header does not hold is skipped, not read:
// the data before an MP4's moov, the pages of an Ogg stream between their
// headers, an MP3 of constant bit rate to its end. Headers are read a byte
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
//     Info or VBRI tag in that frame, else the bytes from the frame to the
//     end at the frame's bit rate.
//   - FLAC: after "fLaC" (and any ID3v2 tag before it), the total samples
//     and sample rate of STREAMINFO, which must be the first block.
//   - Ogg: the codec's rate from the first page's packet (OpusHead: 48
//     kHz less its pre-skip; Vorbis: its sample rate), and the granule
//     position of the stream's last page that has one above 0, jumping
//     from page to page.
//   - MP4: the timescale and duration of moov's mvhd, a top-level box
//     found after any others (a large mdat is skipped).
//   - WebM: the Duration and TimecodeScale of the Segment's Info, which
//     must come before any Cluster.

const (
	// mp3Search is how far after its ID3v2 tag an MP3's first frame is
	// looked for.
	mp3Search = 64 << 10
	// mkvDefaultScale is the TimecodeScale of a Matroska file whose Info
	// names none: a millisecond, in nanoseconds.
	mkvDefaultScale = 1_000_000
	// mediaBack is the most bytes a media parser gives back to be read
	// again: an ID3v2 tag's header that is none.
	mediaBack = 10
)

// Matroska element IDs, with their length markers.
const (
	mkvSegment  = 0x18538067
	mkvInfo     = 0x1549A966
	mkvCluster  = 0x1F43B675
	mkvScale    = 0x2AD7B1
	mkvDuration = 0x4489
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
	case hasPrefix(h, "ID3"), hasPrefix(h, "fLaC"):
		return m.tagged()
	case hasPrefix(h, "OggS"):
		return m.ogg()
	case hasPrefix(h, "\x1a\x45\xdf\xa3"):
		return m.matroska()
	case n == 8 && isFirstBox(h[4:]):
		return m.mp4()
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

// wav reads a RIFF WAVE file's time: its data's size over its byte rate.
func (m *mediaScan) wav() (time.Duration, bool, int64) {
	var h [12]byte
	if !m.full(h[:]) || string(h[8:]) != "WAVE" {
		return m.unknown()
	}
	var byteRate uint32
	for {
		var c [8]byte
		if !m.full(c[:]) {
			return m.unknown()
		}
		size := int64(binary.LittleEndian.Uint32(c[4:]))
		switch string(c[:4]) {
		case "fmt ":
			var f [12]byte
			k := m.read(f[:min(size, 12)])
			if k < 12 {
				byteRate = 0
			} else {
				byteRate = binary.LittleEndian.Uint32(f[8:])
			}
			size -= int64(k)
		case "data":
			if byteRate == 0 {
				return m.unknown()
			}
			if size == 0 || size == math.MaxUint32 {
				size = math.MaxInt64 // to the end
			}
			return m.known(scaled(uint64(m.skip(size)), uint64(time.Second), uint64(byteRate)))
		}
		if !m.skipped(size + int64(c[4]&1)) {
			return m.unknown()
		}
	}
}

// tagged reads the time of a file that starts with an ID3v2 tag or with
// "fLaC": a FLAC or, failing that, an MP3 after the tag.
func (m *mediaScan) tagged() (time.Duration, bool, int64) {
	var h [10]byte
	n := m.read(h[:])
	tag := n == 10 && hasPrefix(h[:], "ID3") && (h[6]|h[7]|h[8]|h[9])&0x80 == 0
	if !tag {
		m.unread(h[:n])
	} else {
		size := int64(h[6])<<21 | int64(h[7])<<14 | int64(h[8])<<7 | int64(h[9])
		if h[5]&0x10 != 0 {
			size += 10 // a footer
		}
		if !m.skipped(size) {
			return m.unknown()
		}
	}
	var magic [4]byte
	n = m.read(magic[:])
	if n == 4 && string(magic[:]) == "fLaC" {
		return m.flac()
	}
	m.unread(magic[:n])
	return m.mp3(tag)
}

// flac reads a FLAC file's time, after its "fLaC", from its STREAMINFO:
// total samples over sample rate.
func (m *mediaScan) flac() (time.Duration, bool, int64) {
	var b [4 + 34]byte
	if !m.full(b[:]) || b[0]&0x7f != 0 || int(b[1])<<16|int(b[2])<<8|int(b[3]) < 34 {
		return m.unknown()
	}
	si := b[4:]
	rate := uint64(si[10])<<12 | uint64(si[11])<<4 | uint64(si[12])>>4
	total := uint64(si[13]&0x0f)<<32 | uint64(binary.BigEndian.Uint32(si[14:]))
	if rate == 0 || total == 0 {
		return m.unknown()
	}
	return m.known(scaled(total, uint64(time.Second), rate))
}

// mp3Frame is what an MPEG audio frame header tells.
type mp3Frame struct {
	kbps, rate, samples int // bit rate, sample rate, samples a frame
	sideInfo            int // bytes of layer III side information
	layer3              bool
}

// mp3Bitrates holds the bit rates in kbps by index: MPEG-1 layers I, II
// and III, then MPEG-2 and 2.5 layer I, and layers II and III.
var mp3Bitrates = [5][15]int{
	{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
	{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
	{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
	{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
	{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
}

// parseMP3Frame returns what the frame header h tells, and whether it is
// one: the sync's 11 bits set, an MPEG version and layer that are not
// reserved, a bit rate index neither free (0) nor bad (15), a sample rate
// index that is not reserved.
func parseMP3Frame(h [4]byte) (mp3Frame, bool) {
	version, layer := h[1]>>3&3, h[1]>>1&3 // version 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5; layer 3: I, 1: III
	bitrate, rate := int(h[2]>>4), int(h[2]>>2&3)
	if h[0] != 0xff || h[1]&0xe0 != 0xe0 || version == 1 || layer == 0 || bitrate == 0 || bitrate == 15 || rate == 3 {
		return mp3Frame{}, false
	}
	mpeg1, mono := version == 3, h[3]>>6 == 3
	f := mp3Frame{rate: [3]int{44100, 48000, 32000}[rate], layer3: layer == 1}
	table := 4
	switch {
	case mpeg1:
		table = int(3 - layer)
	case layer == 3:
		table = 3
	}
	f.kbps = mp3Bitrates[table][bitrate]
	if !mpeg1 {
		f.rate /= 2
		if version == 0 {
			f.rate /= 2
		}
	}
	switch {
	case layer == 3:
		f.samples = 384
	case layer == 2 || mpeg1:
		f.samples = 1152
	default:
		f.samples = 576
	}
	switch {
	case mpeg1 && mono, !mpeg1 && !mono:
		f.sideInfo = 17
	case mpeg1:
		f.sideInfo = 32
	default:
		f.sideInfo = 9
	}
	return f, true
}

// mp3 reads an MP3's time from its first frame, which is at the start or,
// after an ID3v2 tag, within mp3Search bytes: a Xing, Info or VBRI tag's
// frame count, else its bytes at the first frame's bit rate.
func (m *mediaScan) mp3(search bool) (time.Duration, bool, int64) {
	start := m.pos
	var w [4]byte
	if !m.full(w[:]) {
		return m.unknown()
	}
	f, ok := parseMP3Frame(w)
	for !ok {
		c, more := m.byte()
		if !search || !more || m.pos-4-start >= mp3Search {
			return m.unknown()
		}
		w = [4]byte{w[1], w[2], w[3], c}
		f, ok = parseMP3Frame(w)
	}
	first := m.pos - 4
	var b [32 + 18]byte // what follows the header, up to a VBRI tag's frames
	n := m.read(b[:])
	var frames uint32
	if t := b[f.sideInfo:]; f.layer3 && n >= f.sideInfo+12 && (hasPrefix(t, "Xing") || hasPrefix(t, "Info")) &&
		binary.BigEndian.Uint32(t[4:])&1 != 0 {
		frames = binary.BigEndian.Uint32(t[8:])
	} else if t := b[32:]; f.layer3 && n >= len(b) && hasPrefix(t, "VBRI") {
		frames = binary.BigEndian.Uint32(t[14:])
	}
	if frames > 0 {
		return m.known(scaled(uint64(frames)*uint64(f.samples), uint64(time.Second), uint64(f.rate)))
	}
	m.skip(math.MaxInt64)
	return m.known(scaled(uint64(m.pos-first), 8*uint64(time.Millisecond), uint64(f.kbps)))
}

// ogg reads an Ogg file's time: the granule position of the last page of
// the first page's stream that has one (neither -1 nor the 0 of the
// codec's headers), at the rate of the codec the first page's packet
// names. The pages are read to the end, or up to one that is cut short or
// does not start as a page does.
func (m *mediaScan) ogg() (time.Duration, bool, int64) {
	var (
		hdr           [27]byte
		lacing        [255]byte
		serial        uint32
		rate, preSkip uint64
		last          int64 = -1
	)
	for page := 0; ; page++ {
		if !m.full(hdr[:]) || !hasPrefix(hdr[:], "OggS") || hdr[4] != 0 {
			break
		}
		lace := lacing[:hdr[26]]
		if !m.full(lace) {
			break
		}
		var body int64
		for _, l := range lace {
			body += int64(l)
		}
		granule := int64(binary.LittleEndian.Uint64(hdr[6:]))
		if page == 0 {
			serial = binary.LittleEndian.Uint32(hdr[14:])
			var p [16]byte
			k := m.read(p[:min(body, 16)])
			switch {
			case k >= 12 && hasPrefix(p[:], "OpusHead"):
				rate, preSkip = 48000, uint64(binary.LittleEndian.Uint16(p[10:]))
			case k >= 16 && hasPrefix(p[:], "\x01vorbis"):
				rate = uint64(binary.LittleEndian.Uint32(p[12:]))
			}
			if rate == 0 {
				return m.unknown()
			}
			body -= int64(k)
		}
		if granule > 0 && binary.LittleEndian.Uint32(hdr[14:]) == serial {
			last = granule
		}
		if !m.skipped(body) {
			break
		}
	}
	if last < 0 {
		return m.unknown()
	}
	return m.known(scaled(uint64(last)-min(preSkip, uint64(last)), uint64(time.Second), rate))
}

// box reads an ISO BMFF box header and returns the box's type and the
// length of its content: -1 when it runs to the end of the file.
func (m *mediaScan) box() (typ [4]byte, length int64, ok bool) {
	var h [8]byte
	if !m.full(h[:]) {
		return typ, 0, false
	}
	copy(typ[:], h[4:])
	switch size := int64(binary.BigEndian.Uint32(h[:])); size {
	case 0:
		return typ, -1, true
	case 1:
		if !m.full(h[:]) {
			return typ, 0, false
		}
		large := binary.BigEndian.Uint64(h[:])
		if large < 16 || large > math.MaxInt64 {
			return typ, 0, false
		}
		return typ, int64(large) - 16, true
	default:
		return typ, size - 8, size >= 8
	}
}

// mp4 reads an ISO BMFF file's time from the mvhd in its moov, skipping
// the top-level boxes before it.
func (m *mediaScan) mp4() (time.Duration, bool, int64) {
	for {
		typ, length, ok := m.box()
		if !ok || length < 0 && string(typ[:]) != "moov" {
			return m.unknown()
		}
		if string(typ[:]) == "moov" {
			return m.moov(length)
		}
		if !m.skipped(length) {
			return m.unknown()
		}
	}
}

// moov reads the time from the mvhd of a moov box whose content has
// length bytes (-1: to the end): its duration over its timescale.
func (m *mediaScan) moov(length int64) (time.Duration, bool, int64) {
	end := int64(math.MaxInt64)
	if length >= 0 {
		end = satAdd(m.pos, length)
	}
	for m.pos < end {
		typ, size, ok := m.box()
		if size < 0 {
			size = end - m.pos
		}
		if !ok || size > end-m.pos {
			return m.unknown()
		}
		if string(typ[:]) != "mvhd" {
			if !m.skipped(size) {
				return m.unknown()
			}
			continue
		}
		var b [32]byte
		k := m.read(b[:min(size, 32)])
		var scale, dur uint64
		switch {
		case b[0] == 0 && k >= 20:
			scale, dur = uint64(binary.BigEndian.Uint32(b[12:])), uint64(binary.BigEndian.Uint32(b[16:]))
			if dur == math.MaxUint32 {
				return m.unknown()
			}
		case b[0] == 1 && k >= 32:
			scale, dur = uint64(binary.BigEndian.Uint32(b[20:])), binary.BigEndian.Uint64(b[24:])
			if dur == math.MaxUint64 {
				return m.unknown()
			}
		}
		if scale == 0 {
			return m.unknown()
		}
		return m.known(scaled(dur, uint64(time.Second), scale))
	}
	return m.unknown()
}

// ebmlID reads a Matroska element ID, its length marker kept: up to four
// bytes.
func (m *mediaScan) ebmlID() (uint32, bool) {
	c, ok := m.byte()
	if !ok || c < 0x10 {
		return 0, false
	}
	id := uint32(c)
	for range bits.LeadingZeros8(c) {
		if c, ok = m.byte(); !ok {
			return 0, false
		}
		id = id<<8 | uint32(c)
	}
	return id, true
}

// ebmlSize reads a Matroska element's size, up to eight bytes: -1 when it
// is unknown (all its bits ones).
func (m *mediaScan) ebmlSize() (int64, bool) {
	c, ok := m.byte()
	if !ok || c == 0 {
		return 0, false
	}
	n := bits.LeadingZeros8(c)
	mask := byte(0xff) >> (n + 1)
	v, ones := int64(c&mask), c&mask == mask
	for range n {
		if c, ok = m.byte(); !ok {
			return 0, false
		}
		v, ones = v<<8|int64(c), ones && c == 0xff
	}
	if ones {
		return -1, true
	}
	return v, true
}

// ebmlElement reads a Matroska element's ID and size (-1: unknown).
func (m *mediaScan) ebmlElement() (id uint32, size int64, ok bool) {
	if id, ok = m.ebmlID(); !ok {
		return 0, 0, false
	}
	size, ok = m.ebmlSize()
	return id, size, ok
}

// matroska reads a WebM or Matroska file's time from its Segment's Info,
// skipping the level-1 elements before it.
func (m *mediaScan) matroska() (time.Duration, bool, int64) {
	id, size, ok := m.ebmlElement()
	for ok && id != mkvSegment && m.skipped(size) {
		id, size, ok = m.ebmlElement()
	}
	if !ok || id != mkvSegment {
		return m.unknown()
	}
	end := int64(math.MaxInt64)
	if size >= 0 {
		end = satAdd(m.pos, size)
	}
	for m.pos < end {
		id, size, ok := m.ebmlElement()
		if !ok || size < 0 || id == mkvCluster || size > end-m.pos {
			return m.unknown()
		}
		if id == mkvInfo {
			return m.matroskaInfo(size)
		}
		if !m.skipped(size) {
			return m.unknown()
		}
	}
	return m.unknown()
}

// matroskaInfo reads the time from the content, size bytes, of a Segment's
// Info: its Duration times its TimecodeScale.
func (m *mediaScan) matroskaInfo(size int64) (time.Duration, bool, int64) {
	end := m.pos + size
	scale, dur, haveDur := uint64(mkvDefaultScale), 0.0, false
	for m.pos < end {
		id, size, ok := m.ebmlElement()
		if !ok || size < 0 || size > end-m.pos {
			return m.unknown()
		}
		var b [8]byte
		switch {
		case id == mkvScale && size <= 8:
			m.read(b[8-size:])
			scale = binary.BigEndian.Uint64(b[:])
		case id == mkvDuration && size == 4:
			m.read(b[:4])
			dur, haveDur = float64(math.Float32frombits(binary.BigEndian.Uint32(b[:]))), true
		case id == mkvDuration && size == 8:
			m.read(b[:])
			dur, haveDur = math.Float64frombits(binary.BigEndian.Uint64(b[:])), true
		case id == mkvScale, id == mkvDuration:
			return m.unknown()
		default:
			if !m.skipped(size) {
				return m.unknown()
			}
		}
	}
	if m.pos > end || !haveDur || scale == 0 || math.IsNaN(dur) || math.IsInf(dur, 0) || dur < 0 {
		return m.unknown()
	}
	ns := dur * float64(scale)
	if ns >= math.MaxInt64 {
		return m.known(math.MaxInt64)
	}
	return m.known(time.Duration(ns))
}
