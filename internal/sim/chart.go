package sim

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// ChartWidth and ChartHeight are the size in pixels of the PNG that
// WriteChart draws.
const (
	ChartWidth  = 1400
	ChartHeight = 700
)

// ChartTitle is the title of the chart that WriteChart draws.
const ChartTitle = "Completion time ÷ physical minimum, per scenario (lower is better)"

// yLabel is the label of the y axis. WriteChart draws it beside the plot:
// gonum/plot centres an axis label on the linear midpoint of the axis,
// which is far from the middle of a logarithmic one.
const yLabel = "completion time ÷ physical minimum (log scale)"

// chartDPI maps the chart's points to pixels.
const chartDPI = 96

// scenarioCaptions are the second lines of the labels of the standard
// scenarios on the chart's x axis.
var scenarioCaptions = map[string]string{
	"backlog":     "600 requests at once",
	"config-2x":   "configured at 2× the limit",
	"bursts":      "4 bursts after idle minutes",
	"outage":      "30 s server outage",
	"tpm":         "token-bound backlog",
	"many-models": "3 models, one limit",
}

// The colors of the bars: the library's own client is always green, the
// others take the rest of the palette in the order they first appear.
var (
	oursColor    = color.RGBA{44, 160, 44, 255}
	peersPalette = []color.RGBA{
		{31, 119, 180, 255}, {255, 127, 14, 255}, {148, 103, 189, 255},
		{140, 86, 75, 255}, {23, 190, 207, 255}, {227, 119, 194, 255},
		{188, 189, 34, 255}, {127, 127, 127, 255},
	}
	refusedColor = color.RGBA{200, 30, 30, 255}
	inkColor     = color.RGBA{40, 40, 40, 255}
	minimumColor = color.RGBA{90, 90, 90, 255}
)

// chartFloor is the lowest value of the y axis, unless a ratio is lower:
// the bars start there, a little under the physical minimum, so runs at
// the minimum still show as bars.
const chartFloor = 0.85

// yTicks are the candidate labelled values of the logarithmic y axis.
var yTicks = []float64{1, 1.5, 2, 3, 5, 10, 15, 20, 30, 50, 100, 200, 500, 1000}

// WriteChart draws results as a grouped bar chart and writes it to path as
// a PNG of ChartWidth × ChartHeight pixels, replacing any file there.
//
// Each scenario is a group, in the order its first result appears; each
// client is a bar of the same color in every group, named in a legend
// under the title. A bar's height is the run's Ratio, its completion time
// over the physical minimum, on a logarithmic axis; a dashed line marks
// the minimum itself. Above each bar are its ratio and, for runs that had
// them, the number of 429 responses (in red), the requests that failed and
// whether the deadline stopped the run.
//
// WriteChart fails if results is empty or holds a Ratio that is not a
// positive finite number.
func WriteChart(path string, results []Result) error {
	if len(results) == 0 {
		return errors.New("sim: WriteChart: no results to draw")
	}
	var scenarios, clients []string
	top, bottom := 1.0, chartFloor
	for _, r := range results {
		if r.Ratio <= 0 || math.IsInf(r.Ratio, 0) || math.IsNaN(r.Ratio) {
			return fmt.Errorf("sim: WriteChart: %s/%s: ratio %v is not a positive number", r.Scenario, r.Client, r.Ratio)
		}
		if !slices.Contains(scenarios, r.Scenario) {
			scenarios = append(scenarios, r.Scenario)
		}
		if !slices.Contains(clients, r.Client) {
			clients = append(clients, r.Client)
		}
		top = max(top, r.Ratio)
		bottom = min(bottom, r.Ratio*chartFloor)
	}
	colors := clientColors(clients)

	p := plot.New()
	p.BackgroundColor = color.Transparent
	p.Y.Scale = plot.LogScale{}
	p.Y.Min, p.Y.Max = bottom, top*1.3
	var ticks plot.ConstantTicks
	for _, v := range yTicks {
		if v <= p.Y.Max {
			ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64) + "×"})
		}
	}
	p.Y.Tick.Marker = ticks
	p.X.Min, p.X.Max = -0.5, float64(len(scenarios))-0.5
	var xticks plot.ConstantTicks
	for i, s := range scenarios {
		label := s
		if c, ok := scenarioCaptions[s]; ok {
			label += "\n" + c
		}
		xticks = append(xticks, plot.Tick{Value: float64(i), Label: label})
	}
	p.X.Tick.Marker = xticks
	p.X.Tick.Length = 0
	p.X.Padding = 0
	p.Y.Tick.Label.Font.Size = vg.Points(10)
	p.X.Tick.Label.Font.Size = vg.Points(11)

	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	grid.Horizontal.Color = color.Gray{220}
	grid.Horizontal.Width = vg.Points(0.5)
	p.Add(grid)
	p.Add(&bars{results: results, scenarios: scenarios, clients: clients, colors: colors})

	img := image.NewRGBA(image.Rect(0, 0, ChartWidth, ChartHeight))
	c := vgimg.NewWith(vgimg.UseImage(img), vgimg.UseDPI(chartDPI))
	dc := draw.New(c)
	drawFrame(dc, p, clients, colors)

	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return fmt.Errorf("sim: WriteChart: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("sim: WriteChart: %w", err)
	}
	return nil
}

// clientColors returns the color of each client's bars.
func clientColors(clients []string) []color.Color {
	colors := make([]color.Color, len(clients))
	next := 0
	for i, name := range clients {
		if name == OursName {
			colors[i] = oursColor
			continue
		}
		colors[i] = peersPalette[next%len(peersPalette)]
		next++
	}
	return colors
}

// textStyle returns a plain text style of the plot's font at size points.
func textStyle(p *plot.Plot, size float64, clr color.Color) draw.TextStyle {
	f := p.Title.TextStyle.Font
	f.Size = vg.Points(size)
	return text.Style{Color: clr, Font: f, Handler: p.TextHandler}
}

// drawFrame fills c white and draws the title, a one-row legend of the
// clients and of the marks under it, and the plot below them.
func drawFrame(c draw.Canvas, p *plot.Plot, clients []string, colors []color.Color) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	pad := vg.Points(10)
	mid := (c.Min.X + c.Max.X) / 2

	title := textStyle(p, 15, color.Black)
	title.XAlign, title.YAlign = text.XCenter, text.YTop
	y := c.Max.Y - pad
	c.FillText(title, vg.Point{X: mid, Y: y}, ChartTitle)
	y -= title.Rectangle(ChartTitle).Size().Y + pad

	// The legend row: a swatch and a name per client, then the dashed
	// line of the minimum and the meaning of the red numbers.
	label := textStyle(p, 11, color.Black)
	label.YAlign = text.YCenter
	note := textStyle(p, 11, refusedColor)
	note.YAlign = text.YCenter
	swatch, gap, sep := vg.Points(11), vg.Points(4), vg.Points(16)
	dash := vg.Points(28)
	type item struct {
		draw  func(x, y vg.Length)
		width vg.Length
	}
	var items []item
	for i, name := range clients {
		w := label.Width(name)
		items = append(items, item{width: swatch + gap + w, draw: func(x, y vg.Length) {
			c.FillPolygon(colors[i], rect(x, y-swatch/2, x+swatch, y+swatch/2))
			c.FillText(label, vg.Point{X: x + swatch + gap, Y: y}, name)
		}})
	}
	const minText = "physical minimum"
	items = append(items, item{width: dash + gap + label.Width(minText), draw: func(x, y vg.Length) {
		c.StrokeLine2(minimumStyle(), x, y, x+dash, y)
		c.FillText(label, vg.Point{X: x + dash + gap, Y: y}, minText)
	}})
	const refusedText = "red numbers: 429 responses received"
	items = append(items, item{width: note.Width(refusedText), draw: func(x, y vg.Length) {
		c.FillText(note, vg.Point{X: x, Y: y}, refusedText)
	}})
	var total vg.Length
	for i, it := range items {
		if i > 0 {
			total += sep
		}
		total += it.width
	}
	y -= label.Rectangle("Mg").Size().Y / 2
	x := mid - total/2
	for _, it := range items {
		it.draw(x, y)
		x += it.width + sep
	}
	y -= label.Rectangle("Mg").Size().Y/2 + pad/2

	axis := textStyle(p, 12, color.Black)
	axis.XAlign, axis.YAlign = text.XCenter, text.YTop
	axis.Rotation = math.Pi / 2
	left := pad/2 + axis.Height(yLabel) + vg.Points(5)
	pc := draw.Crop(c, left, -pad, pad/2, y-c.Max.Y)
	p.Draw(pc)
	dc := p.DataCanvas(pc)
	c.FillText(axis, vg.Point{X: c.Min.X + pad/2, Y: (dc.Min.Y + dc.Max.Y) / 2}, yLabel)
}

// minimumStyle is the style of the dashed line at the physical minimum.
func minimumStyle() draw.LineStyle {
	return draw.LineStyle{
		Color:  minimumColor,
		Width:  vg.Points(1.2),
		Dashes: []vg.Length{vg.Points(6), vg.Points(4)},
	}
}

// rect returns the corners of a rectangle.
func rect(x0, y0, x1, y1 vg.Length) []vg.Point {
	return []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
}

// bars is the plotter of the grouped bars, their notes and the line at the
// physical minimum.
type bars struct {
	results   []Result
	scenarios []string
	clients   []string
	colors    []color.Color
}

// groupWidth is the share of a scenario's slot on the x axis taken by its
// bars.
const groupWidth = 0.86

// Plot implements plot.Plotter.
func (b *bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	w := groupWidth / float64(len(b.clients))
	inset := vg.Points(1)
	ratio := textStyle(p, 8.5, inkColor)
	ratio.XAlign, ratio.YAlign = text.XCenter, text.YBottom
	refused := ratio
	refused.Color = refusedColor
	note := ratio
	note.Font.Size = vg.Points(8)
	lineH := ratio.Rectangle("0").Size().Y

	type mark struct {
		x, y  vg.Length
		lines []string
		style []draw.TextStyle
	}
	var marks []mark
	for _, r := range b.results {
		g := slices.Index(b.scenarios, r.Scenario)
		k := slices.Index(b.clients, r.Client)
		left := float64(g) - groupWidth/2 + float64(k)*w
		x0, x1 := trX(left)+inset, trX(left+w)-inset
		y1 := trY(r.Ratio)
		c.FillPolygon(b.colors[k], rect(x0, c.Min.Y, x1, y1))

		m := mark{x: (x0 + x1) / 2, y: y1 + vg.Points(1.5)}
		m.lines = append(m.lines, strconv.FormatFloat(r.Ratio, 'f', 2, 64))
		m.style = append(m.style, ratio)
		if r.RateLimited > 0 {
			m.lines = append(m.lines, strconv.Itoa(r.RateLimited))
			m.style = append(m.style, refused)
		}
		if r.Failed > 0 {
			m.lines = append(m.lines, strconv.Itoa(r.Failed)+" failed")
			m.style = append(m.style, note)
		}
		if r.Incomplete {
			m.lines = append(m.lines, "stopped")
			m.style = append(m.style, note)
		}
		marks = append(marks, m)
	}

	one := trY(1)
	c.StrokeLine2(minimumStyle(), c.Min.X, one, c.Max.X, one)

	for _, m := range marks {
		y := m.y
		for i, s := range m.lines {
			c.FillText(m.style[i], vg.Point{X: m.x, Y: y}, s)
			y += lineH
		}
	}
}
