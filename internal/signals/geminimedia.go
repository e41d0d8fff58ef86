package signals

import "strings"

// What a Gemini model charges for an image, a PDF page and a video frame
// depends on its generation and on the media resolution the request asks
// for (the media resolution and token counting guides):
//
//   - Gemini 1 and 2 models read only the request's resolution
//     (generationConfig.mediaResolution): at MEDIA_RESOLUTION_LOW an
//     image, a page or a frame costs 64 tokens; otherwise an image costs
//     258 tokens a tile (see imageTokens), a page or a frame 258.
//   - Gemini 3 models read a part's own mediaResolution.level first, then
//     the request's. An image costs 280, 560, 1,120 or 2,240 tokens at
//     LOW, MEDIUM, HIGH or ULTRA_HIGH, HIGH by default; a page the same,
//     MEDIUM by default; a frame 70 at LOW, MEDIUM and by default, 280 at
//     HIGH, and, at ULTRA_HIGH, which the guides give no figure for, twice
//     that, 560.
//
// The body of a Gemini request does not name its model (its URL does): a
// model that is not named, or of another generation, is charged the more
// of the two generations' figures.

// mediaLevel is a media resolution.
type mediaLevel uint8

const (
	levelDefault mediaLevel = iota
	levelLow
	levelMedium
	levelHigh
	levelUltraHigh
)

// geminiMedia is what a Gemini request's media are charged by: its
// model's generation (2 for Gemini 1 and 2, 3, or 0 when unknown) and its
// request's media resolution.
type geminiMedia struct {
	gen   int
	level mediaLevel
}

// geminiGeneration returns the generation of a Gemini model by its name
// ("gemini-2.5-flash", "models/gemini-3-pro-preview", a Vertex AI
// "publishers/google/models/..."): 2 for Gemini 1 and 2, 3 for Gemini 3,
// 0 for any other name.
func geminiGeneration(model string) int {
	name, ok := strings.CutPrefix(model[strings.LastIndexByte(model, '/')+1:], "gemini-")
	if !ok || len(name) < 2 || name[1] != '.' && name[1] != '-' {
		return 0
	}
	switch name[0] {
	case '1', '2':
		return 2
	case '3':
		return 3
	}
	return 0
}

// parseMediaLevel reads a media resolution, a JSON string
// ("MEDIA_RESOLUTION_HIGH"); anything else is the default.
func parseMediaLevel(v []byte) mediaLevel {
	if !isString(v) {
		return levelDefault
	}
	for _, l := range [...]struct {
		name  string
		level mediaLevel
	}{
		{"MEDIA_RESOLUTION_LOW", levelLow},
		{"MEDIA_RESOLUTION_MEDIUM", levelMedium},
		{"MEDIA_RESOLUTION_HIGH", levelHigh},
		{"MEDIA_RESOLUTION_ULTRA_HIGH", levelUltraHigh},
	} {
		if keyIs(v, l.name) {
			return l.level
		}
	}
	return levelDefault
}

// partMediaLevel reads a part's mediaResolution, an object whose "level"
// is a media resolution.
func partMediaLevel(v []byte) mediaLevel {
	if !isObject(v) {
		return levelDefault
	}
	return parseMediaLevel(member(v, "level"))
}

// gemini3 returns the figure of a Gemini 3 model at the part's level, or
// the request's, or else def; figures are LOW, MEDIUM, HIGH, ULTRA_HIGH.
func (g geminiMedia) gemini3(part, def mediaLevel, figures [4]int64) int64 {
	level := part
	if level == levelDefault {
		level = g.level
	}
	if level == levelDefault {
		level = def
	}
	return figures[level-levelLow]
}

// pick returns the figure of the model's generation, or the more of the
// two when it is unknown.
func (g geminiMedia) pick(gemini2, gemini3 int64) int64 {
	switch g.gen {
	case 2:
		return gemini2
	case 3:
		return gemini3
	}
	return max(gemini2, gemini3)
}

// image returns the tokens of an image of w by h pixels (when known) in a
// part at level part.
func (g geminiMedia) image(part mediaLevel, w, h int64, known bool) int64 {
	gemini2 := int64(geminiLow)
	if g.level != levelLow {
		gemini2 = geminiTileTokens(w, h, known)
	}
	return g.pick(gemini2, g.gemini3(part, levelHigh, [4]int64{280, 560, 1120, 2240}))
}

// page returns the tokens of a PDF page in a part at level part.
func (g geminiMedia) page(part mediaLevel) int64 {
	return g.pick(g.gemini2(), g.gemini3(part, levelMedium, [4]int64{280, 560, 1120, 2240}))
}

// frame returns the tokens of a video frame in a part at level part.
func (g geminiMedia) frame(part mediaLevel) int64 {
	return g.pick(g.gemini2(), g.gemini3(part, levelLow, [4]int64{70, 70, 280, 560}))
}

// gemini2 returns what a Gemini 2 model charges a page or a frame.
func (g geminiMedia) gemini2() int64 {
	if g.level == levelLow {
		return geminiLow
	}
	return geminiUnit
}

const (
	// geminiUnit is what a Gemini 2 model charges an image tile, a page
	// or a frame, geminiLow what it charges one at MEDIA_RESOLUTION_LOW.
	geminiUnit, geminiLow = 258, 64
)

// geminiTileTokens returns what a Gemini 2 model charges an image of w by
// h pixels (when known): 258 for an image of at most 384 px a side, else
// 258 for each 768x768 tile, once scaled to fit in 3072x3072; 16 tiles
// when its size is not known.
func geminiTileTokens(w, h int64, known bool) int64 {
	if !known {
		return 16 * geminiUnit
	}
	w, h = fitIn(w, h, 3072)
	if w <= 384 && h <= 384 {
		return geminiUnit
	}
	return geminiUnit * ceilDiv(w, 768) * ceilDiv(h, 768)
}
