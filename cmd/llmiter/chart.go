package main

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/ratellmiter/ratellmiter"
)

// palette colors the limiters of a comparison.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255}, {148, 103, 189, 255},
	{255, 127, 14, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {23, 190, 207, 255},
	{127, 127, 127, 255}, {188, 189, 34, 255},
}

// The colors of the event markers.
var eventColors = map[string]color.Color{
	ratellmiter.EventPause:  color.RGBA{200, 30, 30, 255},
	ratellmiter.EventProbe:  color.RGBA{230, 150, 0, 255},
	ratellmiter.EventResume: color.RGBA{30, 150, 60, 255},
	ratellmiter.EventLimit:  color.RGBA{90, 90, 200, 255},
}

// capPerSecond is the limiter's per-second cap, ceil(rpm/60).
func capPerSecond(rpm int) int { return (rpm + 59) / 60 }

// window returns the first and last seconds with any activity in the
// series, with a quiet second on each side when that is one second, or
// the whole axis if there is none.
func window(series []ratellmiter.Series) (lo, hi int) {
	n := series[0].Len()
	lo, hi = n, -1
	for i := range series {
		s := &series[i]
		for j := 0; j < n; j++ {
			if s.Requested[j]+s.Issued[j]+s.Overflow[j]+s.RateLimited[j]+s.Finished[j] > 0 || s.Paused[j] {
				lo, hi = min(lo, j), max(hi, j)
			}
		}
		for _, e := range s.Events {
			lo, hi = min(lo, e.Second), max(hi, e.Second)
		}
	}
	if hi < 0 {
		return 0, n - 1
	}
	if lo == hi {
		// A line through one point draws nothing: the quiet seconds
		// around the only active one show it as a peak.
		lo, hi = max(lo-1, 0), min(hi+1, n-1)
	}
	return lo, hi
}

// newChart returns an empty chart in the style of every llmiter chart:
// the title, requests per second over n seconds, integer ticks.
func newChart(title, xLabel string, n int) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(15)
	p.Title.Padding = vg.Points(10)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = "requests per second"
	p.X.Label.Padding = vg.Points(5)
	p.Y.Label.Padding = vg.Points(5)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(12)
		a.Tick.Label.Font.Size = vg.Points(10)
	}
	p.X.Min, p.X.Max = 0, float64(n)
	p.Y.Min = 0
	p.X.Tick.Marker = intTicker{steps: []int{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400}, most: 14}
	p.Y.Tick.Marker = intTicker{steps: []int{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000}, most: 12}
	return p
}

// buildChart returns the plot of the series and its legends, to be drawn
// beside it: the first that fits the chart is drawn. A comparison has two:
// one with an entry for each limiter's line, cap and pauses, and a short
// one with an entry for each limiter and one each for the caps and the
// pauses, for when the long one does not fit.
func buildChart(file string, series []ratellmiter.Series, lines string, compare bool) (*plot.Plot, []*plot.Legend) {
	lo, hi := window(series)
	n := hi - lo + 1
	origin := time.Unix(series[0].Start+int64(lo), 0).UTC()

	title := fmt.Sprintf("%s (%d RPM) — %s", series[0].Limiter, series[0].RPM, file)
	if compare {
		m, _ := metricOf(lines[0])
		title = fmt.Sprintf("%s per second, all limiters — %s", m.label, file)
	}
	p := newChart(title, "seconds since "+origin.Format("2006-01-02 15:04:05 UTC"), n)

	leg := newLegend()

	ymax := 1.0
	var shades, caps, traces, marks []plot.Plotter
	// Legend entries: lines first, then the cap, the pauses and the
	// events; limiter by limiter in a comparison.
	type entry struct {
		label string
		thumb plot.Thumbnailer
		rank  int
	}
	var entries, short []entry
	var anyCap, anyPause bool
	for k := range series {
		s := &series[k]
		capv := float64(capPerSecond(s.RPM))
		ymax = max(ymax, capv)

		shadeColor := color.NRGBA{214, 39, 40, 45}
		capColor := color.Color(color.RGBA{70, 70, 70, 255})
		if compare {
			c := palette[k%len(palette)]
			shadeColor = color.NRGBA{c.R, c.G, c.B, 40}
			capColor = c
		}
		if runs := pausedRuns(s.Paused[lo : hi+1]); len(runs) > 0 {
			anyPause = true
			sh := &shade{runs: runs, color: shadeColor}
			shades = append(shades, sh)
			label := "paused"
			if compare {
				label = s.Limiter + " paused"
			}
			entries = append(entries, entry{label, sh, 2 + 4*k})
		}

		if s.RPM > 0 {
			anyCap = true
			capLine := mustLine(plotter.XYs{{X: 0, Y: capv}, {X: float64(n), Y: capv}})
			capLine.Color = capColor
			capLine.Width = vg.Points(1.2)
			capLine.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
			caps = append(caps, capLine)
			label := fmt.Sprintf("cap %d/s (%d RPM)", int(capv), s.RPM)
			if compare {
				label = fmt.Sprintf("%s cap %d/s", s.Limiter, int(capv))
			}
			entries = append(entries, entry{label, capLine, 1 + 4*k})
		}

		for i := 0; i < len(lines); i++ {
			m, _ := metricOf(lines[i])
			vals := m.values(s)[lo : hi+1]
			xys := make(plotter.XYs, n)
			for j, v := range vals {
				xys[j] = plotter.XY{X: float64(j) + 0.5, Y: float64(v)}
				ymax = max(ymax, float64(v))
			}
			l := mustLine(xys)
			l.Width = vg.Points(1.4)
			l.Color = m.color
			label := m.label
			if compare {
				// Past the palette, the same colors again in another
				// dash pattern.
				l.Color = palette[k%len(palette)]
				l.Dashes = compareDashes[k/len(palette)%len(compareDashes)]
				label = s.Limiter
				shortLabel := label
				if s.RPM > 0 {
					shortLabel = fmt.Sprintf("%s (cap %d/s)", s.Limiter, int(capv))
				}
				short = append(short, entry{shortLabel, l, k})
			}
			traces = append(traces, l)
			entries = append(entries, entry{label, l, 4 * k})
		}

		if !compare {
			for _, kind := range []string{ratellmiter.EventPause, ratellmiter.EventProbe, ratellmiter.EventResume, ratellmiter.EventLimit} {
				mk := &markers{glyph: draw.GlyphStyle{
					Color:  eventColors[kind],
					Radius: vg.Points(4.5),
					Shape:  draw.PyramidGlyph{},
				}}
				if kind == ratellmiter.EventLimit {
					mk.row = 1 // clear of a pause in the same second
				}
				for _, e := range s.Events {
					if e.Kind == kind && e.Second >= lo && e.Second <= hi {
						mk.xs = append(mk.xs, float64(e.Second-lo)+0.5)
					}
				}
				if len(mk.xs) > 0 {
					marks = append(marks, mk)
					entries = append(entries, entry{kind, mk, 3 + 4*k})
				}
			}
		}
	}
	p.Y.Max = ymax * 1.12

	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{200}
	grid.Horizontal.Color = color.Gray{200}
	p.Add(shades...)
	p.Add(grid)
	p.Add(caps...)
	p.Add(traces...)
	p.Add(marks...)

	slices.SortStableFunc(entries, func(a, b entry) int { return a.rank - b.rank })
	for _, e := range entries {
		leg.Add(e.label, e.thumb)
	}
	if !compare {
		return p, []*plot.Legend{leg}
	}
	sleg := newLegend()
	for _, e := range short {
		sleg.Add(e.label, e.thumb)
	}
	if anyCap {
		l := mustLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 0}})
		l.Color = color.Gray{70}
		l.Width = vg.Points(1.2)
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
		sleg.Add("cap, in the limiter's color", l)
	}
	if anyPause {
		sleg.Add("paused, in the limiter's color", &shade{color: color.NRGBA{127, 127, 127, 60}})
	}
	return p, []*plot.Legend{leg, sleg}
}

// newLegend returns an empty legend in the style of every llmiter chart.
func newLegend() *plot.Legend {
	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
	leg.TextStyle.Font.Size = vg.Points(11)
	leg.Padding = vg.Points(4)
	leg.ThumbnailWidth = vg.Points(24)
	return &leg
}

// compareDashes are the dash patterns of a comparison's lines, one for
// each round of the palette: solid, dotted, dash-dot, long dashes.
var compareDashes = [][]vg.Length{
	nil,
	{vg.Points(1.5), vg.Points(2)},
	{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)},
	{vg.Points(10), vg.Points(3)},
}

func mustLine(xys plotter.XYs) *plotter.Line {
	l, err := plotter.NewLine(xys)
	if err != nil {
		panic(err) // the points are finite numbers
	}
	return l
}

// pausedRuns returns the spans [from, to) of consecutive paused seconds.
func pausedRuns(paused []bool) [][2]float64 {
	var runs [][2]float64
	for i := 0; i < len(paused); i++ {
		if !paused[i] {
			continue
		}
		j := i
		for j < len(paused) && paused[j] {
			j++
		}
		runs = append(runs, [2]float64{float64(i), float64(j)})
		i = j
	}
	return runs
}

// shade fills spans of the X axis over the whole height of the plot.
type shade struct {
	runs  [][2]float64
	color color.Color
}

// Plot implements plot.Plotter.
func (s *shade) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for _, r := range s.runs {
		x0, x1 := trX(r[0]), trX(r[1])
		pts := []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}}
		if pts = c.ClipPolygonX(pts); len(pts) > 0 {
			c.FillPolygon(s.color, pts)
		}
	}
}

// Thumbnail implements plot.Thumbnailer.
func (s *shade) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.color, []vg.Point{
		{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y},
	})
}

// markers draws a glyph at the top of the plot at each of xs.
type markers struct {
	xs    []float64
	glyph draw.GlyphStyle
	row   int // 0 along the top; each row below clears the one above
}

// Plot implements plot.Plotter.
func (m *markers) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	y := c.Max.Y - m.glyph.Radius - vg.Points(2) - vg.Length(m.row)*(2*m.glyph.Radius+vg.Points(2))
	for _, x := range m.xs {
		if px := trX(x); c.ContainsX(px) {
			c.DrawGlyphNoClip(m.glyph, vg.Point{X: px, Y: y})
		}
	}
}

// Thumbnail implements plot.Thumbnailer.
func (m *markers) Thumbnail(c *draw.Canvas) { c.DrawGlyph(m.glyph, c.Center()) }

// intTicker puts major ticks at multiples of the smallest step that gives
// at most 'most' of them, labelled as integers, with unlabelled minor ticks
// between them.
type intTicker struct {
	steps []int
	most  int
}

// Ticks implements plot.Ticker.
func (t intTicker) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	step := t.steps[len(t.steps)-1]
	for _, s := range t.steps {
		if span/float64(s) <= float64(t.most) {
			step = s
			break
		}
	}
	for span/float64(step) > float64(t.most) {
		step *= 2
	}
	minor := step / 5
	if step%5 != 0 || minor == 0 {
		minor = step / 2
	}
	if step == 15 || step == 30 || step == 60 || step == 120 {
		minor = step / 3
		if step == 60 || step == 120 {
			minor = step / 4
		}
	}
	// The ticks are counted in floats: near the largest int (a log with
	// absurd counts), an int tick would wrap past hi and never reach it.
	var ticks []plot.Tick
	fstep := float64(step)
	for v := math.Ceil(lo/fstep) * fstep; v <= hi; v += fstep {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	if minor > 0 {
		fminor := float64(minor)
		for v := math.Ceil(lo/fminor) * fminor; v <= hi; v += fminor {
			if math.Mod(v, fstep) != 0 {
				ticks = append(ticks, plot.Tick{Value: v})
			}
		}
	}
	return ticks
}
