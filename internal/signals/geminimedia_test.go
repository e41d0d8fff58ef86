package signals

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ratellmiter/ratellmiter/internal/samples"
)

func TestGeminiGenerationIsReadFromTheModelsName(t *testing.T) {
	for model, gen := range map[string]int{
		"gemini-2.5-flash":              2,
		"models/gemini-2.0-flash-001":   2,
		"gemini-1.5-pro":                2,
		"gemini-3-pro-preview":          3,
		"models/gemini-3.1-flash-image": 3,
		"projects/p/locations/l/publishers/google/models/gemini-3-flash": 3,
		"gemini-flash-latest":  0,
		"gemini-25-flash":      0,
		"gemini-4-argon":       0,
		"gemini-":              0,
		"tunedModels/my-model": 0,
		"":                     0,
	} {
		assert.Equal(t, gen, geminiGeneration(model), model)
	}
}

// What a Gemini request's image, PDF page and second of video are
// charged, by its model (from its URL) and the media resolution it asks
// for: a model of unknown generation is charged the more of the two.
func TestGeminiMediaIsChargedByModelAndResolution(t *testing.T) {
	small := b64(encodedImage(t, "png", 300, 200))
	video := b64(samples.WebM(10 * time.Second))
	body := func(config, part, extra string) string {
		cfg := ""
		if config != "" {
			cfg = `"generationConfig":{"mediaResolution":"` + config + `"},`
		}
		if extra != "" {
			extra = `,"mediaResolution":{"level":"` + extra + `"}`
		}
		return `{` + cfg + `"contents":[{"parts":[` + part + extra + `}]}]}`
	}
	image := `{"inlineData":{"mimeType":"image/png","data":"` + small + `"}`
	pdf := `{"fileData":{"mimeType":"application/pdf","fileUri":"files/a"}`
	webm := `{"inlineData":{"mimeType":"video/webm","data":"` + video + `"}`
	const second = 42 // a second's sound track and timestamps, besides its frame

	tests := []struct {
		name, model, config, level string
		image, page, videoSecond   int64
	}{
		{"gemini 2, default", "gemini-2.5-flash", "", "", 258, 258, 258 + second},
		{"gemini 2, low", "gemini-2.5-flash", "MEDIA_RESOLUTION_LOW", "", 64, 64, 64 + second},
		{"gemini 2, high", "gemini-2.5-flash", "MEDIA_RESOLUTION_HIGH", "", 258, 258, 258 + second},
		{"gemini 2 reads no part's level", "gemini-2.5-flash", "", "MEDIA_RESOLUTION_ULTRA_HIGH", 258, 258, 258 + second},
		{"gemini 3, default", "gemini-3-pro-preview", "", "", 1120, 560, 70 + second},
		{"gemini 3, low", "gemini-3-pro-preview", "MEDIA_RESOLUTION_LOW", "", 280, 280, 70 + second},
		{"gemini 3, medium", "gemini-3-pro-preview", "MEDIA_RESOLUTION_MEDIUM", "", 560, 560, 70 + second},
		{"gemini 3, high", "gemini-3-pro-preview", "MEDIA_RESOLUTION_HIGH", "", 1120, 1120, 280 + second},
		{"gemini 3, the part's level first", "gemini-3-pro-preview", "MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_ULTRA_HIGH", 2240, 2240, 560 + second},
		{"gemini 3, a part at the default takes the request's", "gemini-3-pro-preview", "MEDIA_RESOLUTION_HIGH", "MEDIA_RESOLUTION_UNSPECIFIED", 1120, 1120, 280 + second},
		{"unknown model, default", "", "", "", 1120, 560, 258 + second},
		{"unknown model, low", "gemini-flash-latest", "MEDIA_RESOLUTION_LOW", "", 280, 280, 70 + second},
		{"unknown model, high", "", "MEDIA_RESOLUTION_HIGH", "", 1120, 1120, 280 + second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := ParseRequestFor([]byte(body(tt.config, image, tt.level)), tt.model)
			assert.Equal(t, tt.image, img.ImageTokens, "a 300x200 image")
			doc := ParseRequestFor([]byte(body(tt.config, pdf, tt.level)), tt.model)
			assert.Equal(t, tt.page, doc.DocumentTokens, "a PDF by reference, one page")
			vid := ParseRequestFor([]byte(body(tt.config, webm, tt.level)), tt.model)
			assert.Equal(t, 10*tt.videoSecond, vid.MediaTokens, "10 s of video")
		})
	}
}

// The body's model, when it names one, comes before the one given.
func TestParseRequestForPrefersTheBodysModel(t *testing.T) {
	body := `{"model":"gemini-2.5-flash","contents":[{"parts":[{"fileData":{"mimeType":"application/pdf"}}]}]}`
	r := ParseRequestFor([]byte(body), "gemini-3-pro-preview")
	assert.Equal(t, "gemini-2.5-flash", r.Model)
	assert.Equal(t, int64(258), r.DocumentTokens)
	assert.Equal(t, ParseRequest([]byte(body)), r)
}

// A Gemini 2 model counts a large image by its tiles, which the media
// resolution LOW replaces by one 64-token image.
func TestGemini2CountsAnImageByItsTiles(t *testing.T) {
	big := `{"inlineData":{"mimeType":"image/png","data":"` + b64(encodedImage(t, "png", 1920, 1080)) + `"}}`
	r := ParseRequestFor([]byte(geminiImageBody(big)), "gemini-2.5-pro")
	assert.Equal(t, int64(6*258), r.ImageTokens)
	low := `{"generationConfig":{"mediaResolution":"MEDIA_RESOLUTION_LOW"},` + geminiImageBody(big)[1:]
	assert.Equal(t, int64(64), ParseRequestFor([]byte(low), "gemini-2.5-pro").ImageTokens)
	assert.Equal(t, int64(6*258), ParseRequest([]byte(geminiImageBody(big))).ImageTokens, "unknown model: the more of 6 tiles and 1,120")
}
