package signals

import (
	"encoding/binary"
	"math"
	"math/bits"
	"time"
)

// The playing time of the video containers: ISO BMFF (MP4, MOV, M4A) and
// Matroska (WebM) (see media.go).

const (
	// mkvDefaultScale is the TimecodeScale of a Matroska file whose Info
	// names none: a millisecond, in nanoseconds.
	mkvDefaultScale = 1_000_000
)

// Matroska element IDs, with their length markers.
const (
	mkvSegment     = 0x18538067
	mkvInfo        = 0x1549A966
	mkvCluster     = 0x1F43B675
	mkvScale       = 0x2AD7B1
	mkvDuration    = 0x4489
	mkvTimecode    = 0xE7 // a Cluster's
	mkvBlockGroup  = 0xA0
	mkvBlock       = 0xA1
	mkvSimpleBlock = 0xA3
)

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
// length bytes (-1: to the end): its duration over its timescale; a
// duration of 0 is none.
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
		if scale == 0 || dur == 0 {
			// A fragmented file (a live recording, say) has no
			// duration in its moov: its fragments carry its time.
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
			d, known, size := m.matroskaInfo(size)
			if !known && size == 0 {
				// Info names no Duration, as in a file written as it
				// was recorded: its blocks tell the time.
				return m.matroskaBlocks(end, uint64(d))
			}
			return d, known, size
		}
		if !m.skipped(size) {
			return m.unknown()
		}
	}
	return m.unknown()
}

// matroskaInfo reads the time from the content, size bytes, of a Segment's
// Info: its Duration times its TimecodeScale; a Duration of 0 is none.
// When the Info is whole but names no Duration (or one of 0), it returns
// its TimecodeScale (never 0) as the time, not known, and a size of 0,
// for the caller to time the blocks; on any other failure, it reads to the
// file's end and returns its length.
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
	if m.pos > end || scale == 0 || math.IsNaN(dur) || math.IsInf(dur, 0) || dur < 0 {
		return m.unknown()
	}
	if !haveDur || dur == 0 {
		return time.Duration(min(scale, math.MaxInt64)), false, 0
	}
	ns := dur * float64(scale)
	if ns >= math.MaxInt64 {
		return m.known(math.MaxInt64)
	}
	return m.known(time.Duration(ns))
}

// avi reads a RIFF AVI file's time, after its "RIFF" header, from the
// main header (avih) at the start of its hdrl list: its frames times the
// time of a frame.
func (m *mediaScan) avi() (time.Duration, bool, int64) {
	var h [12 + 8 + 20]byte // LIST, its size, hdrl; avih, its size; its first fields
	if !m.full(h[:]) || string(h[:4]) != "LIST" || string(h[8:12]) != "hdrl" || string(h[12:16]) != "avih" {
		return m.unknown()
	}
	perFrame := uint64(binary.LittleEndian.Uint32(h[20:])) // µs
	frames := uint64(binary.LittleEndian.Uint32(h[36:]))
	if perFrame == 0 || frames == 0 {
		return m.unknown()
	}
	return m.known(scaled(perFrame, frames*uint64(time.Microsecond), 1))
}

// matroskaBlocks reads the time of a Matroska Segment that ends at end
// from its blocks: the latest time a block starts, its Cluster's Timecode
// plus its own offset, in units of scale nanoseconds. Clusters and block
// groups are entered, whatever their size (a live recording leaves it
// unknown), and everything else is skipped.
func (m *mediaScan) matroskaBlocks(end int64, scale uint64) (time.Duration, bool, int64) {
	var cluster, last int64 = 0, -1
	for m.pos < end {
		if !m.nextBlock(end, &cluster, &last) {
			break
		}
	}
	if last <= 0 {
		return m.unknown()
	}
	return m.known(scaled(uint64(last), scale, 1))
}

// nextBlock reads the next element of a Segment that ends at end: it
// enters a Cluster or a block group, keeps a Cluster's Timecode in
// cluster, raises last to the time a block starts, and skips anything
// else. It reports whether the walk may go on.
func (m *mediaScan) nextBlock(end int64, cluster, last *int64) bool {
	id, size, ok := m.ebmlElement()
	switch {
	case !ok:
		return false // the end of the file
	case id == mkvCluster, id == mkvBlockGroup:
		return true // its children follow
	case size < 0 || size > end-m.pos:
		return false // an element that cannot be skipped
	case id == mkvTimecode && size <= 8:
		var b [8]byte
		m.read(b[8-size:])
		*cluster = int64(min(binary.BigEndian.Uint64(b[:]), math.MaxInt64/2))
		return true
	case id == mkvSimpleBlock, id == mkvBlock:
		// A track number (an EBML size), then the block's offset from
		// its Cluster, a signed 16-bit count.
		start := m.pos
		var b [2]byte
		if _, ok := m.ebmlSize(); !ok || !m.full(b[:]) {
			return false
		}
		*last = max(*last, *cluster+int64(int16(binary.BigEndian.Uint16(b[:]))))
		return m.skipped(size - (m.pos - start))
	}
	return m.skipped(size)
}
