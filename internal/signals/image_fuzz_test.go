package signals

import (
	"encoding/json"
	"strings"
	"testing"
)

// maxImageTokens is the most any rule charges one image: gpt-4o-mini's
// for an image of unknown size.
const maxImageTokens = 2833 + 8*5667

// Any inline image, whatever its bytes, its data: URL's header, its
// escapes, its model or its shape, is charged at most the most one image
// costs, without a panic.
func FuzzImageRequest(f *testing.F) {
	png := encodedImage(f, "png", 300, 200)
	jpg := encodedImage(f, "jpeg", 1000, 700)
	gf := encodedImage(f, "gif", 10, 2000)
	for _, img := range [][]byte{png, jpg, gf, webpFixture(f, "alpha.webp"), webpFixture(f, "lossy.webp"), webpFixture(f, "lossless.webp"), nil, []byte("\x89PNG\r\n\x1a\n")} {
		for shape := range uint8(4) {
			f.Add(shape, "gpt-4o-mini", "data:image/png;base64,", img, false)
			f.Add(shape, "gpt-5-nano", "data:image/png;name=x;base64,", img, true)
		}
	}
	f.Fuzz(func(t *testing.T, shape uint8, model, header string, img []byte, urlSafe bool) {
		data := b64(img)
		if urlSafe {
			data = strings.NewReplacer("+", "-", "/", "_").Replace(data)
		}
		url, _ := json.Marshal(header + data)
		str, _ := json.Marshal(data)
		m, _ := json.Marshal(model)
		var body string
		switch shape % 4 {
		case 0:
			body = `{"model":` + string(m) + `,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":` + string(url) + `}}]}]}`
		case 1:
			body = `{"model":` + string(m) + `,"input":[{"role":"user","content":[{"type":"input_image","image_url":` + string(url) + `}]}]}`
		case 2:
			body = `{"model":` + string(m) + `,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","data":` + string(str) + `}}]}]}`
		default:
			body = `{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":` + string(str) + `}}]}]}`
		}
		r := ParseRequest([]byte(body))
		if r.ImageTokens <= 0 || r.ImageTokens > maxImageTokens {
			t.Fatalf("one image charged %d tokens: %s", r.ImageTokens, body)
		}
	})
}
