package signals

import (
	"encoding/binary"
	"math"
	"time"
)

// The playing time of the audio formats: WAV, MP3, FLAC and Ogg (see
// media.go).

const (
	// mp3Search is how far after its ID3v2 tag an MP3's first frame is
	// looked for.
	mp3Search = 64 << 10
)

// wav reads a RIFF WAVE file's time: its data's size over its byte rate;
// and that of a RIFF AVI file (see avi).
func (m *mediaScan) wav() (time.Duration, bool, int64) {
	var h [12]byte
	if !m.full(h[:]) {
		return m.unknown()
	}
	switch string(h[8:]) {
	case "AVI ":
		return m.avi()
	case "WAVE":
	default:
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
// "fLaC": a FLAC, an AAC stream in ADTS frames or, failing those, an MP3
// after the tag.
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
	if tag && isADTS(magic[:n]) {
		return m.adts()
	}
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
	length              int // bytes of the frame, its header included
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
	pad := int(h[2] >> 1 & 1)
	if layer == 3 {
		f.length = (12*f.kbps*1000/f.rate + pad) * 4 // slots of 4 bytes
	} else {
		f.length = f.samples/8*f.kbps*1000/f.rate + pad
	}
	return f, true
}

// mp3 reads an MP3's time from its first frame, which is at the start or,
// after an ID3v2 tag, within mp3Search bytes: a Xing, Info or VBRI tag's
// frame count, else the time of each frame, skipping from header to
// header by the length each gives; a file of variable bit rate has no
// other measure.
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
	n := m.read(b[:min(len(b), f.length-4)])
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
	// No frame count: walk the frames, each header giving the frame's
	// length and time, as a variable bit rate needs. A first frame that
	// no second follows was no frame, but bytes that looked like one.
	var t playTime
	for frames, read := 1, 4+n; ; frames, read = frames+1, 4 {
		t.add(uint64(f.samples), uint64(f.rate))
		if !m.skipped(int64(f.length-read)) || !m.full(w[:]) {
			if frames == 1 {
				return m.unknown()
			}
			return m.known(t.total()) // the end, within or after a frame
		}
		if f, ok = parseMP3Frame(w); !ok {
			if frames == 1 {
				return m.unknown()
			}
			break
		}
	}
	return m.meanRest(t.total(), first, 4)
}

// playTime sums the time of frames, exactly while their sample rate stays
// the same: their samples are counted, and turned into time when the rate
// changes.
type playTime struct {
	done          time.Duration // the time of the frames before the rate's
	samples, rate uint64
}

// add counts a frame of samples at rate.
func (p *playTime) add(samples, rate uint64) {
	if rate != p.rate {
		p.done, p.samples, p.rate = p.total(), 0, rate
	}
	p.samples += samples
}

// total returns the time of the frames counted, at most MaxInt64/2.
func (p *playTime) total() time.Duration {
	if p.rate == 0 {
		return p.done
	}
	return p.done + min(scaled(p.samples, uint64(time.Second), p.rate), math.MaxInt64/2-p.done)
}

// meanRest returns the time d of frames that started at first, and of
// what follows them, where a header of headerLen bytes that is none was
// just read: something else (a tag, damage), taken to play at the frames'
// mean bit rate.
func (m *mediaScan) meanRest(d time.Duration, first int64, headerLen int) (time.Duration, bool, int64) {
	frameBytes := uint64(m.pos - int64(headerLen) - first)
	rest := scaled(uint64(int64(headerLen)+m.skip(math.MaxInt64)), uint64(d), frameBytes)
	return m.known(d + min(rest, math.MaxInt64-d))
}

// adtsRates are the sample rates of an ADTS header's frequency index.
var adtsRates = [13]uint64{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// isADTS reports whether h starts with the sync word and layer of an ADTS
// header, which no MPEG audio frame has (its layer 0 is reserved).
func isADTS(h []byte) bool { return len(h) >= 2 && h[0] == 0xff && h[1]&0xf6 == 0xf0 }

// adtsFrame returns the length, samples and sample rate of the AAC frame
// whose ADTS header is h, and whether it is one.
func adtsFrame(h [7]byte) (length int, samples, rate uint64, ok bool) {
	idx := h[2] >> 2 & 0xf
	length = int(h[3]&3)<<11 | int(h[4])<<3 | int(h[5]>>5)
	if !isADTS(h[:]) || idx >= 13 || length < len(h) {
		return 0, 0, 0, false
	}
	return length, 1024 * uint64(h[6]&3+1), adtsRates[idx], true
}

// adts reads the time of an AAC stream in ADTS frames (a raw .aac file):
// the time of each frame, skipping from header to header by the length
// each gives.
func (m *mediaScan) adts() (time.Duration, bool, int64) {
	first := m.pos
	var h [7]byte
	if !m.full(h[:]) {
		return m.unknown()
	}
	length, samples, rate, ok := adtsFrame(h)
	if !ok {
		return m.unknown()
	}
	var t playTime
	for {
		t.add(samples, rate)
		if !m.skipped(int64(length-len(h))) || !m.full(h[:]) {
			return m.known(t.total()) // the end, within or after a frame
		}
		if length, samples, rate, ok = adtsFrame(h); !ok {
			return m.meanRest(t.total(), first, len(h))
		}
	}
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

// aiff reads an AIFF or AIFF-C file's time from its COMM chunk: its
// sample frames over its sample rate, an 80-bit extended float.
func (m *mediaScan) aiff() (time.Duration, bool, int64) {
	var h [12]byte
	if !m.full(h[:]) || string(h[8:]) != "AIFF" && string(h[8:]) != "AIFC" {
		return m.unknown()
	}
	for {
		var c [8]byte
		if !m.full(c[:]) {
			return m.unknown()
		}
		size := int64(binary.BigEndian.Uint32(c[4:]))
		if string(c[:4]) != "COMM" {
			if !m.skipped(size + size&1) {
				return m.unknown()
			}
			continue
		}
		var comm [18]byte
		if size < int64(len(comm)) || !m.full(comm[:]) {
			return m.unknown()
		}
		frames := uint64(binary.BigEndian.Uint32(comm[2:]))
		exp := int(binary.BigEndian.Uint16(comm[8:]) & 0x7fff)
		rate := math.Ldexp(float64(binary.BigEndian.Uint64(comm[10:])), exp-16383-63)
		if comm[8]&0x80 != 0 || !(rate >= 1) || rate > 1e9 {
			return m.unknown()
		}
		return m.known(scaled(frames, uint64(time.Second), uint64(math.Round(rate))))
	}
}
