package signals

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The files in testdata/media were written by FFmpeg 5.1, not by this
// package's samples, so that the parsers are checked against what a real
// encoder writes: 2.5 s of a 440 Hz tone at 8 kHz, mono
//
//	S="-f lavfi -i sine=frequency=440:sample_rate=8000:duration=2.5"
//	ffmpeg $S -ac 1 -c:a pcm_u8 tone.wav
//	ffmpeg $S -ac 1 -c:a pcm_s8 tone.aiff
//	ffmpeg $S -ac 1 -c:a pcm_s16le -f wav - | cat >piped.wav    # data size unknown
//	ffmpeg $S -ac 1 -c:a libmp3lame -b:a 32k tone-cbr.mp3        # ID3v2, Info tag
//	ffmpeg $S -ac 1 -c:a libmp3lame -q:a 9 tone-vbr.mp3          # ID3v2, Xing tag
//	ffmpeg $S -ac 1 -c:a libmp3lame -b:a 32k -write_xing 0 tone-noxing.mp3
//	ffmpeg $S -ac 1 -c:a libmp3lame -q:a 9 -f mp3 - | cat >piped-vbr.mp3 # Xing tag left empty
//	ffmpeg $S -ac 1 -c:a flac tone.flac
//	ffmpeg $S -ac 1 -c:a libopus -b:a 8k tone.opus
//	ffmpeg $S -ac 1 -c:a libvorbis -q:a 0 tone.ogg
//	ffmpeg $S -ac 1 -c:a aac -b:a 16k tone.m4a                   # moov after mdat
//	ffmpeg $S -ac 1 -c:a aac -b:a 16k tone.aac                   # ADTS frames
//	ffmpeg $S -ac 1 -c:a aac -b:a 16k -movflags +faststart tone-faststart.m4a
//
// and 2.6 s (13 frames at 5 a second) of a 32x32 test pattern
//
//	V="-f lavfi -i testsrc=size=32x32:rate=5:duration=2.5"
//	ffmpeg $V -c:v mpeg4 -q:v 31 clip.mp4   # and clip.mov, clip.3gp, clip.avi, clip.mkv
//	ffmpeg $V -c:v libvpx -b:v 20k clip.webm
//
// and 6 s of pink noise at 22.05 kHz in MP3 of variable bit rate with no
// frame count, whose length says little of its time
//
//	ffmpeg -f lavfi -i anoisesrc=d=6:c=pink:r=22050:seed=7 -ac 1 -c:a libmp3lame -q:a 9 -write_xing 0 noise-vbr.mp3
//
// Each is read to the time ffprobe gives it, within 10 ms: the Opus file's
// 2.5065 s counts the encoder's pre-skip, which its player drops. For
// noise-vbr.mp3, ffprobe guesses 5.675 s from the bit rate of its first
// frames; its 232 frames of 576 samples hold 6.0604 s, the noise and the
// encoder's delay and padding.
func TestMediaDurationOfFilesARealEncoderWrote(t *testing.T) {
	for file, want := range map[string]time.Duration{
		"tone.wav":           2500 * time.Millisecond,
		"piped.wav":          2500 * time.Millisecond,
		"tone-cbr.mp3":       2664 * time.Millisecond,
		"tone-vbr.mp3":       2664 * time.Millisecond,
		"tone-noxing.mp3":    2664 * time.Millisecond,
		"piped-vbr.mp3":      2661 * time.Millisecond,
		"noise-vbr.mp3":      6060 * time.Millisecond,
		"tone.flac":          2500 * time.Millisecond,
		"tone.opus":          2506500 * time.Microsecond,
		"tone.ogg":           2500 * time.Millisecond,
		"tone.m4a":           2500 * time.Millisecond,
		"tone.aac":           2687 * time.Millisecond,
		"tone-faststart.m4a": 2500 * time.Millisecond,
		"clip.mp4":           2600 * time.Millisecond,
		"clip.mov":           2600 * time.Millisecond,
		"clip.3gp":           2600 * time.Millisecond,
		"clip.avi":           2600 * time.Millisecond,
		"tone.aiff":          2500 * time.Millisecond,
		"clip.mkv":           2600 * time.Millisecond,
		"clip.webm":          2600 * time.Millisecond,
	} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "media", file))
			require.NoError(t, err)
			d, known, _ := bytesDuration(b)
			require.True(t, known, "the header gives the time")
			assert.InDelta(t, want, d, float64(10*time.Millisecond))
			for name, enc := range jsonBase64(b) {
				d64, known64, _ := base64Duration(enc)
				assert.Equal(t, d, d64, "through base64, %s", name)
				assert.True(t, known64, "through base64, %s", name)
			}
		})
	}
}

// A file written as it was recorded has no time in its header: a
// fragmented MP4, whose moov holds a duration of 0, and a WebM written to
// a pipe, whose Info has no Duration. Their time is unknown, not 0, and
// their charge a bound from their size. FFmpeg wrote them with S and V as
// above:
//
//	ffmpeg $S -ac 1 -c:a aac -b:a 16k -movflags frag_keyframe+empty_moov frag.m4a
//	ffmpeg $V -c:v libvpx -b:v 20k -f webm - | cat >live.webm
func TestMediaDurationOfFilesWrittenAsRecordedIsUnknown(t *testing.T) {
	for _, file := range []string{"frag.m4a", "live.webm"} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "media", file))
			require.NoError(t, err)
			d, known, size := bytesDuration(b)
			assert.False(t, known, "a time of %v", d)
			assert.Equal(t, int64(len(b)), size, "the length, for the bound")
		})
	}
}

// The frames of an AAC stream in ADTS frames are walked from header to
// header: 21 frames of 1,024 samples at 8 kHz are 2.688 s. Bytes after the
// last frame that are no frame (an ID3v1 tag of 128 bytes) play at the
// frames' mean bit rate; a stream cut short counts the frames begun.
func TestADTSFramesAreWalked(t *testing.T) {
	aac, err := os.ReadFile(filepath.Join("testdata", "media", "tone.aac"))
	require.NoError(t, err)
	frames := 2688 * time.Millisecond
	d, known, _ := bytesDuration(aac)
	require.True(t, known)
	assert.Equal(t, frames, d)

	tagged := append(append([]byte{}, aac...), append([]byte("TAG"), make([]byte, 125)...)...)
	d, known, _ = bytesDuration(tagged)
	require.True(t, known)
	assert.Equal(t, frames+frames*128/time.Duration(len(aac)), d, "the tag at the mean bit rate")

	d, known, _ = bytesDuration(aac[:len(aac)-1])
	require.True(t, known)
	assert.Equal(t, frames, d, "the last frame cut short counts")
}
