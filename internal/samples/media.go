package samples

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// The audio and video files below have real headers, as their formats'
// readers expect them, and silence or zeros for data.

// WAV returns a PCM WAV file of d (rounded to a sample) at sampleRate, of
// channels channels of bitsPerSample bits, its data zeros.
func WAV(d time.Duration, sampleRate, channels, bitsPerSample int) []byte {
	align := channels * bitsPerSample / 8
	data := int(roundDiv(int64(d)*int64(sampleRate), int64(time.Second))) * align
	var b bytes.Buffer
	b.WriteString("RIFF")
	le32(&b, uint32(36+data))
	b.WriteString("WAVEfmt ")
	le32(&b, 16)
	le16(&b, 1) // PCM
	le16(&b, uint16(channels))
	le32(&b, uint32(sampleRate))
	le32(&b, uint32(sampleRate*align))
	le16(&b, uint16(align))
	le16(&b, uint16(bitsPerSample))
	b.WriteString("data")
	le32(&b, uint32(data))
	b.Write(make([]byte, data))
	return b.Bytes()
}

// mp3Kbps holds the bit rates of MPEG-1 layer III by index.
var mp3Kbps = []int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}

// MP3 returns an MP3 of d (rounded to a frame) at bitrateKbps (one of
// MPEG-1 layer III's rates; any other panics): frames of joint stereo at
// 44.1 kHz, each of 1,152 samples of silence, their sizes padded as a
// constant bit rate has them. With xing, a first frame holds a Xing tag
// with the count of the frames after it.
func MP3(d time.Duration, bitrateKbps int, xing bool) []byte {
	index := -1
	for i, k := range mp3Kbps {
		if k == bitrateKbps && i > 0 {
			index = i
		}
	}
	if index < 0 {
		panic(fmt.Sprintf("samples.MP3: %d kbps is no MPEG-1 layer III bit rate", bitrateKbps))
	}
	frames := int(roundDiv(int64(d)*44100, 1152*int64(time.Second)))
	// A frame has 144*bitrate/44100 bytes; the padding bit adds the
	// byte that the fractions of the frames before it add up to.
	size := func(i int) int {
		per := int64(144000 * bitrateKbps)
		return int((per*int64(i+1))/44100 - (per*int64(i))/44100)
	}
	base := 144000 * bitrateKbps / 44100
	frame := func(n int) []byte {
		f := make([]byte, n)
		f[0], f[1], f[2], f[3] = 0xff, 0xfb, byte(index<<4), 0x40 // MPEG-1 layer III, no CRC, 44.1 kHz, joint stereo
		if n > base {
			f[2] |= 0x02
		}
		return f
	}
	var b bytes.Buffer
	if xing {
		f := frame(base)
		copy(f[4+32:], "Xing")
		binary.BigEndian.PutUint32(f[4+32+4:], 1) // the frames field
		binary.BigEndian.PutUint32(f[4+32+8:], uint32(frames))
		b.Write(f)
	}
	for i := range frames {
		b.Write(frame(size(i)))
	}
	return b.Bytes()
}

// FLAC returns a FLAC file of d (rounded to a sample) at sampleRate, 16
// bits stereo: "fLaC", its STREAMINFO block, and a few zero bytes where
// frames would follow.
func FLAC(d time.Duration, sampleRate int) []byte {
	total := uint64(roundDiv(int64(d)*int64(sampleRate), int64(time.Second)))
	var b bytes.Buffer
	b.WriteString("fLaC")
	b.Write([]byte{0x80, 0, 0, 34}) // the last block, STREAMINFO, 34 bytes
	be16(&b, 4096)                  // least and most samples a block
	be16(&b, 4096)
	b.Write(make([]byte, 6)) // least and most bytes a frame: unknown
	// 20 bits of sample rate, 3 of channels-1, 5 of bits-1, 36 of samples.
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(sampleRate)<<44|1<<41|15<<36|total&(1<<36-1))
	b.Write(v[:])
	b.Write(make([]byte, 16)) // the MD5 of the audio: none
	b.Write(make([]byte, 8))
	return b.Bytes()
}

// Ogg returns an Ogg file of d (rounded to a sample) of the codec "opus"
// (48 kHz, a pre-skip of 312 samples) or "vorbis" (44.1 kHz); any other
// panics. Its pages carry their CRC: the codec's identification header,
// its comment header, then a page of zero bytes for each second begun,
// the last one ending the stream.
func Ogg(d time.Duration, codec string) []byte {
	var head, tags []byte
	var rate, preSkip int64
	switch codec {
	case "opus":
		rate, preSkip = 48000, 312
		head = []byte("OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00")
		tags = []byte("OpusTags\x00\x00\x00\x00\x00\x00\x00\x00")
	case "vorbis":
		rate = 44100
		head = []byte("\x01vorbis\x00\x00\x00\x00\x02\x44\xac\x00\x00\x00\x00\x00\x00\x00\xf4\x01\x00\x00\x00\x00\x00\xb8\x01")
		tags = []byte("\x03vorbis\x00\x00\x00\x00\x00\x00\x00\x00\x01")
	default:
		panic("samples.Ogg: no codec " + codec)
	}
	samples := roundDiv(int64(d)*rate, int64(time.Second))
	seconds := max(1, int((samples+rate-1)/rate))
	var b bytes.Buffer
	oggPage(&b, 0x02, 0, 0, head)
	oggPage(&b, 0, 0, 1, tags)
	for i := range seconds {
		flags, granule := byte(0), min(samples, int64(i+1)*rate)
		if i == seconds-1 {
			flags = 0x04
		}
		oggPage(&b, flags, preSkip+granule, uint32(i+2), make([]byte, 300))
	}
	return b.Bytes()
}

// oggSerial is the serial number of the samples' Ogg streams.
const oggSerial = 0x5eed

// oggPage writes an Ogg page of one packet, with its CRC.
func oggPage(b *bytes.Buffer, flags byte, granule int64, seq uint32, packet []byte) {
	var p bytes.Buffer
	p.WriteString("OggS\x00")
	p.WriteByte(flags)
	le64(&p, uint64(granule))
	le32(&p, oggSerial)
	le32(&p, seq)
	le32(&p, 0) // the CRC, below
	lacing := make([]byte, len(packet)/255+1)
	for i := range lacing {
		lacing[i] = 255
	}
	lacing[len(lacing)-1] = byte(len(packet) % 255)
	p.WriteByte(byte(len(lacing)))
	p.Write(lacing)
	p.Write(packet)
	page := p.Bytes()
	binary.LittleEndian.PutUint32(page[22:], oggCRC(page))
	b.Write(page)
}

// oggCRC returns the CRC-32 of an Ogg page: polynomial 0x04c11db7, not
// reflected, starting from 0.
func oggCRC(p []byte) uint32 {
	var crc uint32
	for _, c := range p {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// MP4 returns an ISO BMFF (MP4) file of d (in milliseconds): an ftyp
// box, an mdat of mdatBytes zeros, and a moov holding a version 0 mvhd of
// timescale 1000 and the trak of an audio track of d with no samples,
// before the mdat or, with moovLast, after it.
func MP4(d time.Duration, moovLast bool, mdatBytes int) []byte {
	var ftyp, mdat, moov bytes.Buffer
	ftyp.WriteString("isom")
	be32(&ftyp, 0x200)
	ftyp.WriteString("isomiso2mp41")
	mdat.Write(make([]byte, mdatBytes))
	var mvhd bytes.Buffer
	mvhd.Write(make([]byte, 12)) // version 0, flags, creation and modification times
	be32(&mvhd, 1000)
	be32(&mvhd, uint32(d/time.Millisecond))
	be32(&mvhd, 0x00010000) // rate 1.0
	be16(&mvhd, 0x0100)     // volume 1.0
	mvhd.Write(make([]byte, 10))
	for _, v := range []uint32{0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000} { // the identity matrix
		be32(&mvhd, v)
	}
	mvhd.Write(make([]byte, 24))
	be32(&mvhd, 2) // the next track's ID
	mp4Box(&moov, "mvhd", mvhd.Bytes())
	mp4Box(&moov, "trak", mp4AudioTrack(d))
	var b bytes.Buffer
	mp4Box(&b, "ftyp", ftyp.Bytes())
	if !moovLast {
		mp4Box(&b, "moov", moov.Bytes())
	}
	mp4Box(&b, "mdat", mdat.Bytes())
	if moovLast {
		mp4Box(&b, "moov", moov.Bytes())
	}
	return b.Bytes()
}

// mp4AudioTrack returns the content of the trak box of an audio track of
// d (in milliseconds) with no samples: its tkhd, and its mdia with mdhd,
// hdlr and minf, whose sample tables are empty.
func mp4AudioTrack(d time.Duration) []byte {
	ms := uint32(d / time.Millisecond)
	var tkhd, mdhd, hdlr, minf, stbl, trak, mdia bytes.Buffer
	be32(&tkhd, 3) // version 0, enabled and in the movie
	tkhd.Write(make([]byte, 8))
	be32(&tkhd, 1) // the track's ID
	be32(&tkhd, 0)
	be32(&tkhd, ms)
	tkhd.Write(make([]byte, 8+2+2))
	be16(&tkhd, 0x0100) // volume 1.0
	be16(&tkhd, 0)
	for _, v := range []uint32{0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000} {
		be32(&tkhd, v)
	}
	tkhd.Write(make([]byte, 8)) // width and height: none
	mdhd.Write(make([]byte, 12))
	be32(&mdhd, 1000)
	be32(&mdhd, ms)
	be16(&mdhd, 0x55c4) // language: und
	be16(&mdhd, 0)
	hdlr.Write(make([]byte, 8))
	hdlr.WriteString("soun")
	hdlr.Write(make([]byte, 12))
	hdlr.WriteString("SoundHandler\x00")
	for _, table := range []string{"stsd", "stts", "stsc", "stsz", "stco"} {
		content := make([]byte, 8) // version, flags, no entries
		if table == "stsz" {
			content = make([]byte, 12) // version, flags, a sample size of 0, no entries
		}
		mp4Box(&stbl, table, content)
	}
	mp4Box(&minf, "smhd", make([]byte, 8))
	var dref bytes.Buffer
	be32(&dref, 0)
	be32(&dref, 1)
	mp4Box(&dref, "url ", []byte{0, 0, 0, 1}) // the data is in this file
	var dinf bytes.Buffer
	mp4Box(&dinf, "dref", dref.Bytes())
	mp4Box(&minf, "dinf", dinf.Bytes())
	mp4Box(&minf, "stbl", stbl.Bytes())
	mp4Box(&mdia, "mdhd", mdhd.Bytes())
	mp4Box(&mdia, "hdlr", hdlr.Bytes())
	mp4Box(&mdia, "minf", minf.Bytes())
	mp4Box(&trak, "tkhd", tkhd.Bytes())
	mp4Box(&trak, "mdia", mdia.Bytes())
	return trak.Bytes()
}

// mp4Box writes an ISO BMFF box.
func mp4Box(b *bytes.Buffer, typ string, content []byte) {
	be32(b, uint32(8+len(content)))
	b.WriteString(typ)
	b.Write(content)
}

// WebM returns a WebM file of d: its EBML header, and a Segment holding a
// Void, an Info with a TimecodeScale of a millisecond and d as a float64
// Duration in milliseconds, a Tracks of one PCM audio track, and a
// Cluster.
func WebM(d time.Duration) []byte {
	var b bytes.Buffer
	ebml(&b, 0x1A45DFA3, cat(
		ebmlUint(0x4286, 1), ebmlUint(0x42F7, 1), ebmlUint(0x42F2, 4), ebmlUint(0x42F3, 8),
		ebmlElem(0x4282, []byte("webm")), ebmlUint(0x4287, 4), ebmlUint(0x4285, 2)))
	var dur [8]byte
	binary.BigEndian.PutUint64(dur[:], math.Float64bits(float64(d)/float64(time.Millisecond)))
	var rate [8]byte
	binary.BigEndian.PutUint64(rate[:], math.Float64bits(48000))
	segment := cat(
		ebmlElem(0xEC, make([]byte, 16)), // Void
		ebmlElem(0x1549A966, cat( // Info
			ebmlUint(0x2AD7B1, 1_000_000),
			ebmlElem(0x4489, dur[:]),
			ebmlElem(0x4D80, []byte("samples")),
			ebmlElem(0x5741, []byte("samples")))),
		ebmlElem(0x1654AE6B, ebmlElem(0xAE, cat( // Tracks, TrackEntry
			ebmlUint(0xD7, 1), ebmlUint(0x73C5, 1), ebmlUint(0x83, 2),
			ebmlElem(0x86, []byte("A_PCM/INT/LIT")),
			ebmlElem(0xE1, cat(ebmlElem(0xB5, rate[:]), ebmlUint(0x9F, 1), ebmlUint(0x6264, 16)))))),
		ebmlElem(0x1F43B675, cat(ebmlUint(0xE7, 0), ebmlElem(0xA3, append([]byte{0x81, 0, 0, 0x80}, make([]byte, 64)...)))), // Cluster: Timecode, SimpleBlock
	)
	ebml(&b, 0x18538067, segment)
	return b.Bytes()
}

// LiveWebM returns a WebM file as a recorder writes it while it records:
// its Segment and each of its Clusters of unknown size, and its Info with
// no Duration. It holds a block every 20 ms (an Opus frame's time) from 0
// to d, the last starting at d less 20 ms, in a Cluster a second whose
// blocks count their offsets from it.
func LiveWebM(d time.Duration) []byte {
	var b bytes.Buffer
	ebml(&b, 0x1A45DFA3, cat(ebmlUint(0x4286, 1), ebmlElem(0x4282, []byte("webm"))))
	b.Write([]byte{0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // Segment, size unknown
	b.Write(ebmlElem(0x1549A966, ebmlUint(0x2AD7B1, 1_000_000)))                            // Info: TimecodeScale only
	const frame = 20                                                                        // ms
	for t := int64(0); t < d.Milliseconds(); t += frame {
		if t%1000 == 0 {
			b.Write([]byte{0x1f, 0x43, 0xb6, 0x75, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // Cluster, size unknown
			b.Write(ebmlUint(0xE7, uint64(t)))                                                      // Timecode
		}
		off := uint16(t % 1000)
		b.Write(ebmlElem(0xA3, append([]byte{0x81, byte(off >> 8), byte(off), 0x80}, make([]byte, 20)...))) // SimpleBlock
	}
	return b.Bytes()
}

// ebml writes a Matroska element whose ID is id (its length marker
// kept), its size in eight bytes.
func ebml(b *bytes.Buffer, id uint32, content []byte) {
	b.Write(ebmlElem(id, content))
}

// ebmlElem returns a Matroska element whose ID is id, its size in eight
// bytes.
func ebmlElem(id uint32, content []byte) []byte {
	var b bytes.Buffer
	for s := 24; s >= 0; s -= 8 {
		if c := byte(id >> s); c != 0 || b.Len() > 0 {
			b.WriteByte(c)
		}
	}
	be64(&b, 1<<56|uint64(len(content)))
	b.Write(content)
	return b.Bytes()
}

// ebmlUint returns a Matroska element holding an unsigned integer in
// eight bytes.
func ebmlUint(id uint32, v uint64) []byte {
	var c [8]byte
	binary.BigEndian.PutUint64(c[:], v)
	return ebmlElem(id, c[:])
}

// cat returns the parts one after the other.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// roundDiv returns a/b rounded to the nearest integer, a and b positive.
func roundDiv(a, b int64) int64 { return (a + b/2) / b }

// le16 writes v in two bytes, little-endian.
func le16(b *bytes.Buffer, v uint16) { b.Write(binary.LittleEndian.AppendUint16(nil, v)) }

// le32 writes v in four bytes, little-endian.
func le32(b *bytes.Buffer, v uint32) { b.Write(binary.LittleEndian.AppendUint32(nil, v)) }

// le64 writes v in eight bytes, little-endian.
func le64(b *bytes.Buffer, v uint64) { b.Write(binary.LittleEndian.AppendUint64(nil, v)) }

// be16 writes v in two bytes, big-endian.
func be16(b *bytes.Buffer, v uint16) { b.Write(binary.BigEndian.AppendUint16(nil, v)) }

// be32 writes v in four bytes, big-endian.
func be32(b *bytes.Buffer, v uint32) { b.Write(binary.BigEndian.AppendUint32(nil, v)) }

// be64 writes v in eight bytes, big-endian.
func be64(b *bytes.Buffer, v uint64) { b.Write(binary.BigEndian.AppendUint64(nil, v)) }

// Noise returns n bytes drawn from a generator seeded with seed: a file of
// no known format, the same for the same seed.
func Noise(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
