package signals

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ratellmiter/ratellmiter/internal/samples"
)

// chatAudioBody is an OpenAI chat request with a question and an
// input_audio part of the given members.
func chatAudioBody(audio string) string {
	return `{"model":"gpt-4o-audio-preview","messages":[{"role":"user","content":[{"type":"text","text":"What is said?"},{"type":"input_audio","input_audio":` + audio + `}]}]}`
}

// A request with audio or video is charged its playing time, read from the
// file's header, at what its provider charges a second: 32 tokens a second
// of audio and about 300 a second of video at Gemini (258 a frame, at one
// frame a second or the fps its videoMetadata asks for, plus 42), 20 a
// second of audio at OpenAI. A second begun counts whole. A file whose
// header does not give its playing time is charged from its size, as if it
// held at least 2,000 bytes (audio) or 12,500 bytes (video) a second; one
// given by reference, a minute. Those charges are of unknown length: the
// transport charges them at most a minute's budget.
func TestRequestCountsTheSecondsOfAudioAndVideo(t *testing.T) {
	wav := b64(samples.WAV(10*time.Second, 16000, 1, 16))
	mp3 := b64(samples.MP3(9500*time.Millisecond, 128, false))
	var wrapped strings.Builder
	for i := 0; i < len(wav); i += 76 {
		wrapped.WriteString(wav[i:min(i+76, len(wav))])
		wrapped.WriteString(`\n`) // escaped, as JSON has it
	}
	escaped := strings.NewReplacer("/", `\/`, "A", `\u0041`).Replace(wav)
	webm60 := b64(samples.WebM(time.Minute))

	tests := []struct {
		name          string
		body          string
		tokens, bound int64
		ignoresOthers bool
	}{
		{"openai wav", chatAudioBody(`{"data":"` + wav + `","format":"wav"}`), 10 * 20, 0, false},
		{"openai mp3 of 9.5 s counts 10", chatAudioBody(`{"data":"` + mp3 + `","format":"mp3"}`), 10 * 20, 0, false},
		{"openai format is not trusted", chatAudioBody(`{"data":"` + wav + `","format":"mp3"}`), 10 * 20, 0, false},
		{"openai escaped base64", chatAudioBody(`{"data":"` + escaped + `","format":"wav"}`), 10 * 20, 0, false},
		{"openai base64 in lines", chatAudioBody(`{"data":"` + wrapped.String() + `","format":"wav"}`), 10 * 20, 0, false},
		{"openai no data", chatAudioBody(`{"format":"wav"}`), 0, 0, false},
		{"openai data not a string", chatAudioBody(`{"data":7}`), 0, 0, false},
		{"openai input_audio not an object", chatAudioBody(`"abc"`), 0, 0, false},
		{"openai unknown audio: its size at 2,000 bytes a second", chatAudioBody(`{"data":"` + b64(samples.Noise(20_001, 1)) + `"}`), 11 * 20, 11 * 20, false},
		{"gemini wav", geminiImageBody(`{"inlineData":{"mimeType":"audio/wav","data":"` + b64(samples.WAV(30*time.Second, 44100, 2, 16)) + `"}}`), 30 * 32, 0, false},
		{"gemini flac", geminiImageBody(`{"inlineData":{"mimeType":"audio/flac","data":"` + b64(samples.FLAC(75*time.Second, 48000)) + `"}}`), 75 * 32, 0, false},
		{"gemini opus", geminiImageBody(`{"inline_data":{"mime_type":"Audio/Ogg","data":"` + b64(samples.Ogg(61*time.Second, "opus")) + `"}}`), 61 * 32, 0, false},
		{"gemini vorbis", geminiImageBody(`{"inlineData":{"mimeType":"audio/ogg","data":"` + b64(samples.Ogg(5*time.Second, "vorbis")) + `"}}`), 5 * 32, 0, false},
		// 1,608 frames of 1,152 samples at 44.1 kHz: 42.005 s.
		{"gemini mp3 with a frame count", geminiImageBody(`{"inlineData":{"mimeType":"audio/mpeg","data":"` + b64(samples.MP3(42*time.Second, 64, true)) + `"}}`), 43 * 32, 0, false},
		{"gemini mp4 with moov last", geminiImageBody(`{"inlineData":{"mimeType":"video/mp4","data":"` + b64(samples.MP4(20*time.Second, true, 256<<10)) + `"}}`), 20 * 300, 0, false},
		{"gemini audio in an mp4", geminiImageBody(`{"inlineData":{"mimeType":"audio/mp4","data":"` + b64(samples.MP4(20*time.Second, false, 1<<10)) + `"}}`), 20 * 32, 0, false},
		{"gemini webm", geminiImageBody(`{"inlineData":{"mimeType":"video/webm","data":"` + b64(samples.WebM(7*time.Second)) + `"}}`), 7 * 300, 0, false},
		{"gemini video at 2 fps", geminiImageBody(`{"inlineData":{"mimeType":"video/webm","data":"` + b64(samples.WebM(10*time.Second)) + `"},"videoMetadata":{"fps":2}}`), 10 * (2*258 + 42), 0, false},
		{"gemini video at 0.5 fps counts as 1", geminiImageBody(`{"inlineData":{"mimeType":"video/webm","data":"` + b64(samples.WebM(10*time.Second)) + `"},"video_metadata":{"fps":0.5}}`), 10 * 300, 0, false},
		{"gemini fps above 24 counts 24", geminiImageBody(`{"inlineData":{"mimeType":"video/webm","data":"` + b64(samples.WebM(time.Second)) + `"},"videoMetadata":{"fps":1e9}}`), 24*258 + 42, 0, false},
		{"gemini clip of a video", geminiImageBody(`{"inlineData":{"mimeType":"video/webm","data":"` + webm60 + `"},"videoMetadata":{"startOffset":"10s","endOffset":"25.5s"}}`), 16 * 300, 0, false},
		{"gemini clip from an offset to the end", geminiImageBody(`{"inlineData":{"mimeType":"video/webm","data":"` + webm60 + `"},"video_metadata":{"start_offset":"50s"}}`), 10 * 300, 0, false},
		{"gemini clip past the end", geminiImageBody(`{"inlineData":{"mimeType":"video/webm","data":"` + webm60 + `"},"videoMetadata":{"startOffset":"45s","endOffset":"3600s","fps":2}}`), 15 * (2*258 + 42), 0, false},
		{"gemini clip that ends before it starts is none", geminiImageBody(`{"inlineData":{"mimeType":"video/webm","data":"` + webm60 + `"},"videoMetadata":{"startOffset":"30s","endOffset":"20s"}}`), 30 * 300, 0, false},
		{"gemini unreadable offsets are none", geminiImageBody(`{"inlineData":{"mimeType":"video/webm","data":"` + webm60 + `"},"videoMetadata":{"startOffset":"ten","endOffset":12}}`), 60 * 300, 0, false},
		{"gemini clip of a video by URI: a bound", geminiImageBody(`{"fileData":{"mimeType":"video/mp4","fileUri":"https://youtu.be/x"},"videoMetadata":{"startOffset":"120s","endOffset":"150.5s"}}`), 31 * 300, 31 * 300, false},
		{"gemini video by URI from an offset: a minute", geminiImageBody(`{"fileData":{"mimeType":"video/mp4","fileUri":"https://youtu.be/x"},"videoMetadata":{"startOffset":"120s"}}`), 60 * 300, 60 * 300, false},
		{"gemini clip of an unknown video bounds its size", geminiImageBody(`{"inlineData":{"mimeType":"video/x-whatever","data":"` + b64(samples.Noise(125_000, 1)) + `"},"videoMetadata":{"endOffset":"4s"}}`), 4 * 300, 4 * 300, false},
		{"gemini unknown video: its size at 12,500 bytes a second", geminiImageBody(`{"inlineData":{"mimeType":"video/x-whatever","data":"` + b64(samples.Noise(125_000, 1)) + `"}}`), 10 * 300, 10 * 300, false},
		{"gemini audio file: a minute", geminiImageBody(`{"fileData":{"mimeType":"audio/mpeg","fileUri":"gs://b/a.mp3"}}`), 60 * 32, 60 * 32, false},
		{"gemini video file: a minute", geminiImageBody(`{"file_data":{"mime_type":"video/mp4","file_uri":"https://youtu.be/x"}}`), 60 * 300, 60 * 300, false},
		{"gemini inline data wins over a file", geminiImageBody(`{"inlineData":{"mimeType":"audio/wav","data":"` + wav + `"},"fileData":{"mimeType":"audio/wav","fileUri":"gs://b/a.wav"}}`), 10 * 32, 0, false},
		{"an image is no audio", geminiImageBody(`{"inlineData":{"mimeType":"image/png","data":"` + wav + `"}}`), 0, 0, true},
		{"files add up", `{"contents":[{"role":"user","parts":[` +
			`{"inlineData":{"mimeType":"audio/wav","data":"` + wav + `"}},` +
			`{"fileData":{"mimeType":"audio/wav","fileUri":"gs://b/a.wav"}}]},` +
			`{"role":"user","parts":[{"inlineData":{"mimeType":"audio/wav","data":"` + wav + `"}}]}]}`, 20*32 + 60*32, 60 * 32, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			r := ParseRequest(body)
			assert.Equal(t, tc.tokens, r.MediaTokens, "media tokens")
			assert.Equal(t, tc.bound, r.UnknownLengthMediaTokens, "media tokens of unknown length")
			if !tc.ignoresOthers {
				assert.Zero(t, r.ImageTokens+r.DocumentTokens, "no image or document is counted")
			}
			assert.Equal(t, decodedParseRequest(body), r, "the decoding reference agrees")
		})
	}
}

// The media tokens are input: EstimateInputTokens adds them to the text's.
func TestMediaTokensAreInputTokens(t *testing.T) {
	r := ParseRequest([]byte(chatAudioBody(`{"data":"` + b64(samples.WAV(3*time.Second, 8000, 1, 8)) + `","format":"wav"}`)))
	text := Request{PromptChars: r.PromptChars, Messages: r.Messages}.EstimateInputTokens()
	assert.Equal(t, text+3*20, r.EstimateInputTokens())
	assert.Equal(t, text+3*20, r.EstimateTokens(), "no output cap: the input alone")
}

// An audio file given as a stream (the file of a transcription's form) is
// charged as inline audio is at OpenAI, however the stream hands out its
// bytes: 20 tokens a second of its playing time, or, when its header
// gives none, of its length at 2,000 bytes a second, a bound.
func TestAudioFileTokensOfAStream(t *testing.T) {
	tests := []struct {
		name          string
		file          []byte
		tokens, bound int64
	}{
		{"wav", samples.WAV(10*time.Second, 16000, 1, 16), 10 * 20, 0},
		{"mp3 of constant bit rate, read to its end", samples.MP3(61*time.Second, 128, false), 61 * 20, 0},
		{"ogg", samples.Ogg(30*time.Second, "opus"), 30 * 20, 0},
		{"unknown", samples.Noise(20_001, 1), 11 * 20, 11 * 20},
		{"empty", nil, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for name, r := range map[string]io.Reader{
				"whole":         bytes.NewReader(tc.file),
				"byte by byte":  iotest.OneByteReader(bytes.NewReader(tc.file)),
				"half at times": iotest.HalfReader(bytes.NewReader(tc.file)),
			} {
				tokens, bound := AudioFileTokens(r)
				assert.Equal(t, tc.tokens, tokens, "%s: tokens", name)
				assert.Equal(t, tc.bound, bound, "%s: tokens of unknown length", name)
			}
		})
	}
}

// A request names the one file given by reference whose charge is a guess
// (a PDF charged one page, audio or video charged a minute), with that
// guess, so that a caller who learns what the file costs may charge that
// instead. A request with two such files, or with none (inline files,
// references whose length is known from a clip), names none.
func TestRequestNamesItsOneGuessedReference(t *testing.T) {
	gpt4o := openAIPageTokens("gpt-4o", false)
	tests := []struct {
		name   string
		body   string
		ref    string
		tokens int64
	}{
		{"gemini video by URI", geminiImageBody(`{"fileData":{"mimeType":"video/mp4","fileUri":"https://youtu.be/x"}}`), "https://youtu.be/x", 60 * 300},
		{"gemini audio by URI", geminiImageBody(`{"file_data":{"mime_type":"audio/mpeg","file_uri":"gs://b/a.mp3"}}`), "gs://b/a.mp3", 60 * 32},
		{"gemini PDF by URI", geminiImageBody(`{"fileData":{"mimeType":"application/pdf","fileUri":"gs://b/a.pdf"}}`), "gs://b/a.pdf", 560},
		{"anthropic PDF by URL", anthropicDocumentBody(`{"type":"url","url":"https://example.com/a.pdf"}`), "https://example.com/a.pdf", 3000},
		{"anthropic PDF by file id", anthropicDocumentBody(`{"type":"file","file_id":"file_011"}`), "file_011", 3000},
		{"openai chat file id", chatFileBody("gpt-4o", `{"file_id":"file-abc"}`), "file-abc", gpt4o},
		{"openai responses file id", responsesFileBody(`"file_id":"file-abc"`), "file-abc", openAIPageTokens("gpt-4.1", false)},
		{"openai responses file url", responsesFileBody(`"file_url":"https://example.com/a.pdf"`), "https://example.com/a.pdf", openAIPageTokens("gpt-4.1", false)},
		{"an escaped reference is decoded", geminiImageBody(`{"fileData":{"mimeType":"video/mp4","fileUri":"gs:\/\/b\/v\u002emp4"}}`), "gs://b/v.mp4", 60 * 300},
		{"a clip with an end is no guess", geminiImageBody(`{"fileData":{"mimeType":"video/mp4","fileUri":"gs://b/v.mp4"},"videoMetadata":{"endOffset":"30s"}}`), "", 0},
		{"an inline file is no guess", geminiImageBody(`{"inlineData":{"mimeType":"audio/wav","data":"` + b64(samples.WAV(time.Second, 8000, 1, 8)) + `"}}`), "", 0},
		{"a file id that is no string names none", chatFileBody("gpt-4o", `{"file_id":7}`), "", 0},
		{"two references name none", `{"contents":[{"parts":[{"fileData":{"mimeType":"video/mp4","fileUri":"gs://b/1.mp4"}},{"fileData":{"mimeType":"video/mp4","fileUri":"gs://b/2.mp4"}}]}]}`, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			r := ParseRequest(body)
			assert.Equal(t, tc.ref, r.Reference)
			assert.Equal(t, tc.tokens, r.ReferenceTokens)
			assert.Equal(t, decodedParseRequest(body), r, "the decoding reference agrees")
		})
	}
}
