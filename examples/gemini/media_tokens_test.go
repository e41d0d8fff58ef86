package main

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
	"github.com/ratellmiter/ratellmiter/internal/samples"
)

// Audio and video sent through the SDK are charged their playing time
// before the answer, read from the header of the bytes the SDK encodes:
// 32 tokens a second of audio, and 258 a frame plus 42 a second of video,
// at one frame a second or the fps of the part's VideoMetadata. A video
// given by URI is charged a minute, or the clip its VideoMetadata names.
// The answer's usage then corrects the charge.
func TestAudioAndVideoAreChargedTheirPlayingTime(t *testing.T) {
	const budget = 100_000
	fps := 2.0
	video := genai.NewPartFromBytes(samples.MP4(20*time.Second, true, 64<<10), "video/mp4")
	video.VideoMetadata = &genai.VideoMetadata{FPS: &fps}
	clipByURI := genai.NewPartFromURI("gs://bucket/lecture.mp4", "video/mp4")
	clipByURI.VideoMetadata = &genai.VideoMetadata{StartOffset: 90 * time.Second, EndOffset: 2 * time.Minute}
	contents := []*genai.Content{genai.NewContentFromParts([]*genai.Part{
		genai.NewPartFromText("Describe both."),
		genai.NewPartFromBytes(samples.WAV(30*time.Second, 16000, 1, 16), "audio/wav"),
		video,
		genai.NewPartFromURI("gs://bucket/talk.mp4", "video/mp4"),
		clipByURI,
	}, genai.RoleUser)}
	const audio, clip, byURI, clipOfURI = 30 * 32, 20 * (2*258 + 42), 60 * (258 + 42), 30 * (258 + 42)
	const usage = `{"promptTokenCount":20151,"candidatesTokenCount":40,"totalTokenCount":20191}`

	srv := usageServer(t, usage, nil)
	base := exampletest.NoKeepAlive(t, nil)
	synctest.Test(t, func(t *testing.T) {
		l := budgetLimiter(t, budget)
		ask := heldCaller(t, srv.URL, base, l)
		require.NoError(t, ask(contents, func() {
			// Besides the media, 14 bytes of text and a message: a
			// few tokens.
			assertCharged(t, l, budget, audio+clip+byURI+clipOfURI, audio+clip+byURI+clipOfURI+10, 100)
		}))
		assertCharged(t, l, budget, 20151, 20151, 40)
		assert.Zero(t, l.Stats().InFlight)
	})
}

// The model in the URL tells how the media are counted: a Gemini 3 model
// counts 70 tokens for a video frame and 1,120 for an image at its default
// media resolution, where a Gemini 2 model counts 258 for each; the media
// resolution the request asks for, or a part's own at Gemini 3, changes
// both.
func TestMediaAreChargedAsTheirModelCountsThem(t *testing.T) {
	const budget, gemini3 = 100_000, "gemini-3-pro-preview"
	const usage = `{"promptTokenCount":3000,"candidatesTokenCount":40,"totalTokenCount":3040}`
	contents := func(videoLevel genai.PartMediaResolutionLevel) []*genai.Content {
		video := genai.NewPartFromBytes(samples.MP4(20*time.Second, true, 64<<10), "video/mp4")
		if videoLevel != "" {
			video.MediaResolution = &genai.PartMediaResolution{Level: videoLevel}
		}
		return []*genai.Content{genai.NewContentFromParts([]*genai.Part{
			genai.NewPartFromText("Describe both."),
			genai.NewPartFromBytes(pngOf(t, 300, 200), "image/png"),
			video,
		}, genai.RoleUser)}
	}
	tests := []struct {
		name       string
		model      string
		resolution genai.MediaResolution
		videoLevel genai.PartMediaResolutionLevel
		image      int // the image's tokens
		frame      int // a frame's, 20 of them, each with 42 tokens of sound and time
	}{
		{"gemini 2.5", flash, "", "", 258, 258},
		{"gemini 2.5 at low resolution", flash, genai.MediaResolutionLow, "", 64, 64},
		{"gemini 3", gemini3, "", "", 1120, 70},
		{"gemini 3 at low resolution", gemini3, genai.MediaResolutionLow, "", 280, 70},
		{"gemini 3 with its video at high resolution", gemini3, "", genai.PartMediaResolutionLevelMediaResolutionHigh, 1120, 280},
	}
	srv := usageServer(t, usage, nil)
	base := exampletest.NoKeepAlive(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := budgetLimiter(t, budget)
				ask := heldCallerOf(t, srv.URL, base, l, tt.model, &genai.GenerateContentConfig{MaxOutputTokens: 100, MediaResolution: tt.resolution})
				media := tt.image + 20*(tt.frame+42)
				require.NoError(t, ask(contents(tt.videoLevel), func() {
					// Besides the media, 14 bytes of text and a message.
					assertCharged(t, l, budget, media, media+10, 100)
				}))
				assertCharged(t, l, budget, 3000, 3000, 40)
			})
		})
	}
}

// A video by URI is charged a minute until an answer says what it costs:
// then a request that names it again is charged what that answer
// reported as its input. A lecture of 500,000 tokens is charged 18,000
// the first time, 500,000 the second.
func TestAVideoByURIIsChargedWhatItCostLastTime(t *testing.T) {
	const budget = 1_000_000
	lecture := []*genai.Content{genai.NewContentFromParts([]*genai.Part{
		genai.NewPartFromText("Summarize."),
		genai.NewPartFromURI("https://www.youtube.com/watch?v=lecture", "video/mp4"),
	}, genai.RoleUser)}
	srv := usageServer(t, `{"promptTokenCount":500000,"candidatesTokenCount":40,"totalTokenCount":500040}`, nil)
	base := exampletest.NoKeepAlive(t, nil)
	synctest.Test(t, func(t *testing.T) {
		l := budgetLimiter(t, budget)
		ask := heldCaller(t, srv.URL, base, l)
		// charged checks that the input was charged inLo plus a few
		// tokens of text.
		charged := func(inLo int) func() {
			return func() { assertCharged(t, l, budget, inLo, inLo+10, 100) }
		}
		require.NoError(t, ask(lecture, charged(60*(258+42))))
		time.Sleep(time.Minute) // the budgets whole again
		require.NoError(t, ask(lecture, charged(500_000)))
	})
}

// heldCaller returns a function that sends contents to flash, with an
// output cap of 100 tokens, through a genai client for baseURL whose calls
// take l's tickets: each call waits, its ticket issued and its tokens
// charged, while check runs, then goes on to base; the function returns
// the call's error. It must be made and called in the test's bubble.
func heldCaller(t *testing.T, baseURL string, base http.RoundTripper, l *ratellmiter.BucketRateLimiter) func(contents []*genai.Content, check func()) error {
	return heldCallerOf(t, baseURL, base, l, flash, &genai.GenerateContentConfig{MaxOutputTokens: 100})
}

// heldCallerOf is heldCaller for model, with config.
func heldCallerOf(t *testing.T, baseURL string, base http.RoundTripper, l *ratellmiter.BucketRateLimiter, model string, config *genai.GenerateContentConfig) func(contents []*genai.Content, check func()) error {
	gate, sent, release := exampletest.Gate(base)
	c := newClient(t, baseURL, exampletest.NewTransport(t, gate, ratellmiter.WithLimiter(l)))
	return func(contents []*genai.Content, check func()) error {
		errc := make(chan error)
		go func() {
			_, err := c.Models.GenerateContent(context.Background(), model, contents, config)
			errc <- err
		}()
		<-sent
		check()
		release <- struct{}{}
		return <-errc
	}
}
