package signals

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/samples"
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

// A file written as it was recorded has no time in its header. A
// fragmented MP4, whose moov holds a duration of 0, is of unknown time,
// not 0, and its charge a bound from its size. A WebM written to a pipe,
// whose Info has no Duration, is timed by its blocks: the latest start of
// a block (2.4 s for the 13 frames at 5 a second of live.webm, whose last
// frame lasts to 2.6 s; 2.5 s for the Opus frames of 20 ms of
// voice-live.webm). FFmpeg wrote them with S and V as above:
//
//	ffmpeg $S -ac 1 -c:a aac -b:a 16k -movflags frag_keyframe+empty_moov frag.m4a
//	ffmpeg $V -c:v libvpx -b:v 20k -f webm - | cat >live.webm
//	ffmpeg -f lavfi -i sine=frequency=440:sample_rate=48000:duration=2.5 -ac 1 -c:a libopus -b:a 8k -f webm - | cat >voice-live.webm
func TestMediaDurationOfFilesWrittenAsRecorded(t *testing.T) {
	read := func(t *testing.T, file string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "media", file))
		require.NoError(t, err)
		return b
	}
	frag := read(t, "frag.m4a")
	d, known, size := bytesDuration(frag)
	assert.False(t, known, "a fragmented MP4 read as %v", d)
	assert.Equal(t, int64(len(frag)), size, "the length, for the bound")

	for file, want := range map[string]time.Duration{
		"live.webm":       2400 * time.Millisecond,
		"voice-live.webm": 2501 * time.Millisecond,
	} {
		d, known, _ := bytesDuration(read(t, file))
		assert.True(t, known, file)
		assert.Equal(t, want, d, file)
	}
}

// A WebM recorder leaves its Segment and Clusters of unknown size, so
// that the blocks are found by entering each Cluster, not by skipping it:
// one a second, whose blocks of 20 ms count their offsets from it.
func TestMediaDurationOfALiveWebMIsItsLastBlock(t *testing.T) {
	for _, d := range []time.Duration{20 * time.Millisecond, 999 * time.Millisecond, 61 * time.Second} {
		file := samples.LiveWebM(d)
		got, known, _ := bytesDuration(file)
		want := (d - time.Nanosecond).Truncate(20 * time.Millisecond)
		if want == 0 {
			assert.False(t, known, "a single block at 0 tells no time")
			continue
		}
		assert.True(t, known, "%v", d)
		assert.Equal(t, want, got, "%v", d)
		for name, enc := range jsonBase64(file) {
			d64, _, _ := base64Duration(enc)
			assert.Equal(t, got, d64, "through base64, %s", name)
		}
	}
}

// The frames of an AAC stream in ADTS frames are walked from header to
// header: 21 frames of 1,024 samples at 8 kHz are 2.688 s. Bytes after the
// last frame that are no frame (an ID3v1 tag of 128 bytes) play at the
// frames' mean bit rate; a stream cut short counts the frames begun; an
// ID3v2 tag before the frames is skipped.
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

	d, known, _ = bytesDuration(append(id3Tag(300), aac...))
	require.True(t, known, "after an ID3v2 tag")
	assert.Equal(t, frames, d, "after an ID3v2 tag")
}
