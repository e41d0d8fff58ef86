package signals

import (
	"bufio"
	"bytes"
	"io"
	"math"
	"strconv"
	"time"
)

// The tokens of the audio and video in a request: their playing time, read
// from the file's header (see mediaDuration), times what their provider
// charges a second.
//
//   - Gemini (the token counting and video understanding guides): audio
//     costs 32 tokens a second; a video 258 tokens for each frame at
//     Gemini 2 (70 at Gemini 3, 258 for a model of unknown generation;
//     see geminimedia.go), taken at one frame a second unless its
//     videoMetadata asks for another rate, plus 32 a second for its sound
//     track and about 10 for its timestamps: about 300 a second at one
//     frame a second.
//   - OpenAI (an input_audio part of chat completions): OpenAI documents
//     no figure for a second of audio in chat; its Realtime cost guide
//     counts a token for each 100 ms of the user's audio and for each
//     50 ms of the assistant's. A second is charged the higher, 20 tokens.
//
// A file whose playing time its header does not give (an unknown format,
// a damaged header) is charged from its size, as if it held no more than
// mediaFloorAudio (2,000 bytes, 16 kbit/s) of audio or mediaFloorVideo
// (12,500 bytes, 100 kbit/s) of video a second: few recordings are that
// small, so the charge is a bound. A file given by reference (Gemini's
// fileData, a URI) is charged mediaReferenceSeconds (one minute), a guess.
// Both are tokens of unknown length (see Request.UnknownLengthMediaTokens).
//
// A Gemini video whose videoMetadata names a clip (startOffset, endOffset)
// is charged the clip rather than the whole file. A clip with an end gives
// the length of one given by reference too, as a bound (the file may end
// sooner), and bounds the charge of one whose header gives no time.

const (
	geminiAudioTokensPerSecond = 32
	// geminiVideoSecondTokens is what a second of video costs besides its
	// frames: its sound track (32) and its timestamps (about 10).
	geminiVideoSecondTokens    = geminiAudioTokensPerSecond + 10
	openAIAudioTokensPerSecond = 20

	// mediaFloorAudio and mediaFloorVideo are the fewest bytes a second
	// of audio and of video is taken to hold when a file's header does
	// not give its playing time.
	mediaFloorAudio = 2_000
	mediaFloorVideo = 12_500
	// mediaReferenceSeconds is the playing time charged for a file given
	// by reference.
	mediaReferenceSeconds = 60
	// maxFramesPerSecond bounds the frame rate a videoMetadata may ask
	// for, as Gemini does.
	maxFramesPerSecond = 24
)

// mediaPart holds the members of an object (valid JSON values, nil when
// absent) that tell an audio or video content part, besides those of
// imagePart that tell one too (its type and Gemini's blobs).
type mediaPart struct {
	inputAudio                        []byte // OpenAI's "input_audio"
	videoMetadata, videoMetadataSnake []byte // Gemini's
}

// mediaTokens returns the charge of the audio or video the object is, or
// none: an OpenAI part {"type":"input_audio","input_audio":{"data":...}}
// (its base64, whatever its "format" says), or a Gemini part whose
// inlineData (inline_data) or, failing that, fileData (file_data) has a
// MIME type "audio/..." or "video/...", by g.
func (p *imagePart) mediaTokens(g geminiMedia, m mediaPart) imageCharge {
	if isString(p.typ) && keyIs(p.typ, "input_audio") {
		if !isObject(m.inputAudio) {
			return imageCharge{}
		}
		data := member(m.inputAudio, "data")
		if !isString(data) {
			return imageCharge{}
		}
		return mediaCharge(openAIAudioTokensPerSecond, mediaFloorAudio, data[1:len(data)-1], wholeFile)
	}
	var c imageCharge
	cl := wholeFile
	b64, ok := p.geminiPart(isAudioMIME)
	if ok {
		c = mediaCharge(geminiAudioTokensPerSecond, mediaFloorAudio, b64, cl)
	} else if b64, ok = p.geminiPart(isVideoMIME); ok {
		meta := firstPresent(m.videoMetadata, m.videoMetadataSnake)
		perSecond := int64(math.Ceil(float64(g.frame(p.level()))*framesPerSecond(meta))) + geminiVideoSecondTokens
		cl = clipOf(meta)
		c = mediaCharge(perSecond, mediaFloorVideo, b64, cl)
	}
	if ok && b64 == nil && cl.end < 0 {
		c = guessed(c, p.geminiFileURI()) // a minute, a guess
	}
	return c
}

// clip is the part of a file a request asks the model to read: from start
// to end, or to the file's end when end is negative.
type clip struct{ start, end time.Duration }

// wholeFile is the clip of the whole of a file.
var wholeFile = clip{end: -1}

// clipOf returns the clip a Gemini videoMetadata (a JSON value, nil when
// absent) names by its startOffset and endOffset (start_offset,
// end_offset), each a duration string such as "12.5s": an offset that is
// absent or unreadable, or an end no later than the start, counts as none.
func clipOf(meta []byte) clip {
	c := wholeFile
	if !isObject(meta) {
		return c
	}
	var start, startSnake, end, endSnake []byte
	members(meta, func(k, v []byte) {
		switch string(keyName(k)) {
		case "startOffset":
			start = v
		case "start_offset":
			startSnake = v
		case "endOffset":
			end = v
		case "end_offset":
			endSnake = v
		}
	})
	if d, ok := offset(firstPresent(start, startSnake)); ok {
		c.start = d
	}
	if d, ok := offset(firstPresent(end, endSnake)); ok && d > c.start {
		c.end = d
	}
	return c
}

// offset reads a JSON string holding a duration ("12.5s"), as Gemini
// writes a clip's offsets.
func offset(v []byte) (time.Duration, bool) {
	if !isString(v) {
		return 0, false
	}
	return ParseDuration(string(keyName(v)))
}

// seconds returns the seconds of the clip c of a file that plays for d, a
// second begun counting whole.
func (c clip) seconds(d time.Duration) int64 {
	if c.end >= 0 && c.end < d {
		d = c.end
	}
	d = max(d-c.start, 0)
	n := int64(d / time.Second)
	if d%time.Second != 0 {
		n++
	}
	return n
}

// framesPerSecond returns the "fps" of a Gemini videoMetadata (a JSON
// value, nil when absent), at least 1 and at most maxFramesPerSecond: a
// video sampled more sparsely costs less than at one frame a second, and
// is charged as that.
func framesPerSecond(meta []byte) float64 {
	if !isObject(meta) {
		return 1
	}
	v := member(meta, "fps")
	if !isNumber(v) {
		return 1
	}
	fps, err := strconv.ParseFloat(string(v), 64)
	if err != nil || !(fps > 1) {
		return 1
	}
	return min(fps, maxFramesPerSecond)
}

// mediaCharge returns the charge of the clip c of a file at perSecond
// tokens a second of its playing time, floor the fewest bytes a second of
// it may hold, whose base64 is s, the contents of a JSON string as the body
// has them; s is nil for a file given by reference, whose clip is charged
// when it has an end, else mediaReferenceSeconds.
func mediaCharge(perSecond, floor int64, s []byte, c clip) imageCharge {
	if s == nil {
		seconds := int64(mediaReferenceSeconds)
		if c.end >= 0 {
			seconds = c.seconds(c.end)
		}
		return imageCharge{tokens: satMul(seconds, perSecond), bound: true}
	}
	return mediaChargeOf(perSecond, floor, &base64Reader{s: s, left: math.MaxInt}, c)
}

// mediaChargeOf returns the charge of the clip c of the file r gives at
// perSecond tokens a second of its playing time, floor the fewest bytes a
// second of it may hold: when the header gives no time, the file's size
// at that floor, or the clip's length when it is shorter, a bound.
func mediaChargeOf(perSecond, floor int64, r mediaReader, c clip) imageCharge {
	d, known, size := mediaDuration(r)
	if !known {
		seconds := ceilDiv(size, floor)
		if c.end >= 0 {
			seconds = min(seconds, c.seconds(c.end))
		}
		return imageCharge{tokens: satMul(seconds, perSecond), bound: true}
	}
	return imageCharge{tokens: satMul(c.seconds(d), perSecond)}
}

// AudioFileTokens returns the input tokens of the audio file r gives (a
// transcription's, say) at what a second of audio is charged at OpenAI:
// 20 a second of its playing time, read from its header, a second begun
// counting whole (a little more than the 1,000 a minute that OpenAI's
// prices a token and a minute imply for its transcription models); or,
// when the header gives none, as many as for 16 kbit/s of its length, a
// bound returned in unknownLength too. r is read to its end where the
// time needs it, through a buffer of 4 KiB, skipping what the header does
// not need.
func AudioFileTokens(r io.Reader) (tokens, unknownLength int64) {
	c := mediaChargeOf(openAIAudioTokensPerSecond, mediaFloorAudio, streamMedia{bufio.NewReaderSize(r, 4096)}, wholeFile)
	if c.bound {
		return c.tokens, c.tokens
	}
	return c.tokens, 0
}

// streamMedia is a mediaReader over a buffered stream.
type streamMedia struct{ *bufio.Reader }

func (s streamMedia) discard(n int64) int64 {
	var done int64
	for done < n {
		k, _ := s.Discard(int(min(n-done, math.MaxInt32)))
		if k == 0 {
			break
		}
		done += int64(k)
	}
	return done
}

// isAudioMIME and isVideoMIME report whether a JSON value is a string that
// starts with "audio/" or "video/", in any case.
func isAudioMIME(v []byte) bool { return hasMIMEPrefix(v, "audio/") }
func isVideoMIME(v []byte) bool { return hasMIMEPrefix(v, "video/") }

// hasMIMEPrefix reports whether a JSON value is a string that starts with
// prefix, in any case.
func hasMIMEPrefix(v []byte, prefix string) bool {
	if !isString(v) {
		return false
	}
	m := keyName(v)
	return len(m) >= len(prefix) && bytes.EqualFold(m[:len(prefix)], []byte(prefix))
}
