package main

import (
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/ratellmiter/ratellmiter"
)

const graphUsage = `
Flags of graph:
  -dir DIR       folder of the logs (default: $RATELLMITER_LOGS, else ratellmiter_logs)
  -file FILE     log file to draw; a bare name is looked up in DIR, ".jsonl" may
                 be left out (default: the newest non-empty log in DIR, the
                 <unix-seconds>[-k].jsonl with the largest numbers)
  -name NAME     limiter to draw (default: the log's only limiter if it has
                 one, else "default"); "all" is -compare
  -compare       draw every limiter of the log's last day on one chart, one
                 line each
  -lines LINES   the lines to draw, one letter each (default "ri"):
                   r  requested: tickets asked for
                   i  issued: tickets issued, rate-limited retries included
                   o  overflow: requests that had to wait for a ticket
                   e  errors: rate-limit errors reported
                   f  finished: calls finished
                 with -compare, one letter (default "f")
  -format FMT    png or svg (default png)
  -width PX      width of the chart in pixels (default 1200)
  -height PX     height of the chart in pixels (default 600)
  -out DIR       folder to write the chart to, created if needed
                 (default: the folder of the log)

The chart plots requests per second over the seconds of the log's last day
that saw activity. A dashed line marks the limiter's cap, ceil(RPM/60) per
second; shaded spans are the seconds the limiter was paused after a
rate-limit error; triangles on top mark pauses, probes and resumes, and a
row below them changes of the limit (learned, or reported by the server).
It is written to OUT/<log>-<limiter>-<lines>.<format>, with the limiter's
name made safe for a file name: letters, digits, '-', '_' and '.' kept,
any other byte written as '%' and its hex code, "openai/gpt-4o" as
openai%2Fgpt-4o ("all" with -compare); a name that is long, or that
another limiter's differs from only in case, ends with '~' and a hash of
the name. Its path is printed.

Exit status: 0 when the chart is written, 1 on any error (no log, no such
limiter, a file that is not a ratellmiter log, a bad -lines letter or size),
2 when the command line cannot be parsed.
`

// Limits of -width and -height, in pixels.
const (
	minWidth, minHeight = 500, 300
	maxSide             = 10000
)

// graphOptions are the flags of graph.
type graphOptions struct {
	dir, file, name, lines, format, out string
	width, height                       int
	compare                             bool
	set                                 map[string]bool // flags given on the command line
}

// A metric is one of the per-second counts of a log that graph can draw.
type metric struct {
	letter byte
	label  string
	color  color.Color
	values func(s *ratellmiter.Series) []int
}

var metrics = []metric{
	{'r', "requested", color.RGBA{31, 119, 180, 255}, func(s *ratellmiter.Series) []int { return s.Requested }},
	{'i', "issued", color.RGBA{44, 160, 44, 255}, func(s *ratellmiter.Series) []int { return s.Issued }},
	{'o', "overflow (waited)", color.RGBA{255, 127, 14, 255}, func(s *ratellmiter.Series) []int { return s.Overflow }},
	{'e', "rate-limit errors", color.RGBA{214, 39, 40, 255}, func(s *ratellmiter.Series) []int { return s.RateLimited }},
	{'f', "finished", color.RGBA{148, 103, 189, 255}, func(s *ratellmiter.Series) []int { return s.Finished }},
}

func metricOf(letter byte) (metric, bool) {
	for _, m := range metrics {
		if m.letter == letter {
			return m, true
		}
	}
	return metric{}, false
}

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

func init() {
	subcommands["graph"] = runGraph
	subcommandSummaries["graph"] = "draw a chart of a minute log (the default)"
}

// runGraph runs the graph subcommand and returns the exit status.
func runGraph(args []string, stdout, stderr io.Writer) int {
	o, err := parseGraphFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "llmiter: %v (llmiter -h for help)\n", err)
		return 2
	}
	path, err := graph(o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "llmiter: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, path)
	return 0
}

func parseGraphFlags(args []string) (*graphOptions, error) {
	o := &graphOptions{set: map[string]bool{}}
	fs := flag.NewFlagSet("llmiter graph", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	dir := os.Getenv(ratellmiter.EnvLogDir)
	if dir == "" {
		dir = ratellmiter.DefaultLogDir
	}
	fs.StringVar(&o.dir, "dir", dir, "")
	fs.StringVar(&o.file, "file", "", "")
	fs.StringVar(&o.name, "name", "default", "")
	fs.BoolVar(&o.compare, "compare", false, "")
	fs.StringVar(&o.lines, "lines", "ri", "")
	fs.StringVar(&o.format, "format", "png", "")
	fs.IntVar(&o.width, "width", 1200, "")
	fs.IntVar(&o.height, "height", 600, "")
	fs.StringVar(&o.out, "out", "", "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	return o, nil
}

// check validates the values of the flags.
func (o *graphOptions) check() error {
	if o.name == "all" {
		o.compare = true
	} else if o.compare && o.set["name"] {
		return fmt.Errorf("-compare draws every limiter; it cannot be used with -name %q", o.name)
	}
	if o.name == "" {
		return errors.New("-name: empty limiter name")
	}
	if o.compare && !o.set["lines"] {
		o.lines = "f"
	}
	if o.lines == "" {
		return errors.New("-lines: no line to draw; use letters of r, i, o, e, f")
	}
	seen := map[byte]bool{}
	for i := 0; i < len(o.lines); i++ {
		c := o.lines[i]
		if _, ok := metricOf(c); !ok {
			return fmt.Errorf("-lines %q: unknown letter %q; use letters of r (requested), i (issued), o (overflow), e (rate-limit errors), f (finished)",
				o.lines, string(rune(c)))
		}
		if seen[c] {
			return fmt.Errorf("-lines %q: letter %q given twice", o.lines, string(rune(c)))
		}
		seen[c] = true
	}
	if o.compare && len(o.lines) != 1 {
		return fmt.Errorf("-lines %q: -compare draws one line per limiter; give one letter", o.lines)
	}
	o.format = strings.ToLower(o.format)
	if o.format != "png" && o.format != "svg" {
		return fmt.Errorf("-format %q: use png or svg", o.format)
	}
	if o.width < minWidth || o.width > maxSide || o.height < minHeight || o.height > maxSide {
		return fmt.Errorf("bad size %dx%d: -width must be %d to %d pixels, -height %d to %d",
			o.width, o.height, minWidth, maxSide, minHeight, maxSide)
	}
	return nil
}

// graph draws the chart the options ask for and returns its path.
func graph(o *graphOptions, stderr io.Writer) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	path, err := o.logPath()
	if err != nil {
		return "", err
	}
	lf, err := ratellmiter.ReadLog(path)
	if err != nil {
		return "", readError(path, err)
	}
	if len(lf.Minutes) == 0 {
		return "", fmt.Errorf("%s holds no minute logs", path)
	}
	if lf.Skipped > 0 {
		fmt.Fprintf(stderr, "llmiter: warning: %s: %d lines are not minute logs and were skipped\n", path, lf.Skipped)
	}
	names := lf.Limiters()
	if len(names) == 1 && !o.compare && !o.set["name"] {
		o.name = names[0]
	}
	label := "all"
	if !o.compare {
		if !slices.Contains(names, o.name) {
			return "", fmt.Errorf("no limiter %q in %s; its limiters: %s", o.name, path, strings.Join(names, ", "))
		}
		label = fileLabel(o.name, names)
		names = []string{o.name}
	}
	// A Series covers the file's last day: a limiter seen only before it
	// would be drawn as a day of zeros.
	lastMinute := map[string]int64{}
	for _, m := range lf.Minutes {
		lastMinute[m.Limiter] = max(lastMinute[m.Limiter], m.Start)
	}
	var series []ratellmiter.Series
	var gone []string
	for _, n := range names {
		s := lf.Series(n)
		if lastMinute[n] < s.Start {
			if !o.compare {
				return "", fmt.Errorf("limiter %q has no minute in the last day of %s, the span a chart covers; its last minute began at %s",
					n, path, time.Unix(lastMinute[n], 0).UTC().Format("2006-01-02 15:04:05 UTC"))
			}
			gone = append(gone, n)
			continue
		}
		series = append(series, s)
	}
	if len(gone) > 0 {
		fmt.Fprintf(stderr, "llmiter: warning: %s: not drawn, no minute in the last day of the log, the span a chart covers: %s\n",
			path, strings.Join(gone, ", "))
	}
	p, legs := buildChart(filepath.Base(path), series, o.lines, o.compare)

	outDir := o.out
	if outDir == "" {
		outDir = filepath.Dir(path)
	} else if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("-out: %w", err)
	}
	base := strings.TrimSuffix(filepath.Base(path), ".jsonl")
	out := filepath.Join(outDir, fmt.Sprintf("%s-%s-%s.%s", base, label, o.lines, o.format))
	if err := save(p, legs, o.width, o.height, o.format, out); err != nil {
		return "", fmt.Errorf("cannot write the chart %s: %w", out, err)
	}
	return out, nil
}

// logPath returns the log file to read.
func (o *graphOptions) logPath() (string, error) {
	if o.file == "" {
		path, err := ratellmiter.LatestLog(o.dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("log folder %s does not exist; name it with -dir or $%s", o.dir, ratellmiter.EnvLogDir)
		case errors.Is(err, ratellmiter.ErrNoLogs):
			return "", fmt.Errorf("no logs in %s: no non-empty <unix-seconds>[-k].jsonl file", o.dir)
		case err != nil:
			return "", errors.New(strings.TrimPrefix(err.Error(), "ratellmiter: "))
		}
		return path, nil
	}
	path := o.file
	if !strings.ContainsAny(path, `/`+string(filepath.Separator)) {
		path = filepath.Join(o.dir, path)
		if _, err := os.Stat(path); err != nil && !strings.HasSuffix(path, ".jsonl") {
			if _, err := os.Stat(path + ".jsonl"); err == nil {
				path += ".jsonl"
			}
		}
	}
	return path, nil
}

// readError words an error of ReadLog.
func readError(path string, err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, ratellmiter.ErrNotLog):
		return fmt.Errorf("%s is not a ratellmiter log: no line of it is a minute log", path)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no log file %s", path)
	case errors.As(err, &pe):
		return fmt.Errorf("cannot read %s: %v", path, pe.Err)
	}
	return fmt.Errorf("cannot read %s: %s", path, strings.TrimPrefix(err.Error(), "ratellmiter: "))
}

// sanitize makes a limiter's name usable in a file name: letters, digits,
// '-', '_' and '.' are kept, every other byte (the '%' of the escape
// included) becomes '%' and its two hex digits, as in a URL, so distinct
// limiters never share a chart file ("a/b" is a%2Fb, "a_b" stays a_b). A
// result longer than maxLabel is cut short and ends with a hash of the
// whole name instead, so that the file name stays within what file
// systems take (255 bytes).
func sanitize(name string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xF])
		}
	}
	s := b.String()
	if len(s) <= maxLabel {
		return s
	}
	return s[:maxLabel-17] + nameHash(name)
}

// nameHash returns '~' and 16 hex digits of a hash of a limiter's name,
// which tell apart names whose labels would be alike.
func nameHash(name string) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	return fmt.Sprintf("~%016x", h.Sum64())
}

// fileLabel returns the label of the chart of limiter name in a log that
// holds the limiters all: its sanitized name, followed by a hash of the
// name when another limiter's label differs from it only in case, so that
// the two charts keep files of their own where file names ignore case.
func fileLabel(name string, all []string) string {
	label := sanitize(name)
	for _, other := range all {
		if other != name && strings.EqualFold(sanitize(other), label) {
			return label + nameHash(name)
		}
	}
	return label
}

// maxLabel is the longest a limiter's name may be in a chart's file name.
const maxLabel = 120

// capPerSecond is the limiter's per-second cap, ceil(rpm/60).
func capPerSecond(rpm int) int { return (rpm + 59) / 60 }

// window returns the first and last seconds with any activity in the
// series, or the whole axis if there is none.
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

// save draws the plot with the first of its legends that fits on its
// right into a file of the given size in pixels and format, replacing it
// in one step. Its error is the cause alone, such as "permission denied":
// the file it names would be the temporary one, not path.
func save(p *plot.Plot, legs []*plot.Legend, width, height int, format, path string) error {
	err := writeChart(p, legs, width, height, format, path)
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}

// writeChart does the work of save.
func writeChart(p *plot.Plot, legs []*plot.Legend, width, height int, format, path string) error {
	const dpi = 96
	var (
		cw vg.CanvasWriterTo
		dc draw.Canvas
	)
	switch format {
	case "svg":
		c := vgsvg.New(vg.Length(width)*vg.Inch/dpi, vg.Length(height)*vg.Inch/dpi)
		cw, dc = c, draw.New(c)
	default:
		img := image.NewRGBA(image.Rect(0, 0, width, height))
		c := vgimg.NewWith(vgimg.UseImage(img), vgimg.UseDPI(dpi))
		cw, dc = vgimg.PngCanvas{Canvas: c}, draw.New(c)
	}
	drawChart(dc, p, legs)

	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := cw.WriteTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// drawChart draws the plot on the left of c and a legend in a column on
// the right, level with the top of the plotting area: the first of legs
// that fits in the column, else the last in a smaller font, so that no
// entry falls off the chart.
func drawChart(c draw.Canvas, p *plot.Plot, legs []*plot.Legend) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	pad := vg.Points(10)
	top := pad + p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding + pad
	// The legend's text sits one descent below the top of its column.
	maxW := (c.Max.X-c.Min.X)/2 - 2*pad
	maxH := c.Max.Y - c.Min.Y - top - pad
	fits := func(l *plot.Legend) bool {
		r := l.Rectangle(c)
		return r.Max.X-r.Min.X <= maxW && r.Max.Y-r.Min.Y+l.TextStyle.FontExtents().Descent <= maxH
	}
	leg := legs[len(legs)-1]
	for _, l := range legs {
		if fits(l) {
			leg = l
			break
		}
	}
	for minSize := vg.Points(5); !fits(leg) && leg.TextStyle.Font.Size > minSize; {
		leg.TextStyle.Font.Size = max(minSize, leg.TextStyle.Font.Size*0.9)
		leg.Padding *= 0.9
		leg.ThumbnailWidth *= 0.9
	}
	r := leg.Rectangle(c)
	colw := min(r.Max.X-r.Min.X+2*pad, (c.Max.X-c.Min.X)/2)
	// A title wider than the plot (a long limiter name) is set smaller
	// rather than cut off at both ends.
	if w, room := p.Title.TextStyle.Width(p.Title.Text), c.Max.X-c.Min.X-colw-pad; w > room {
		p.Title.TextStyle.Font.Size = max(vg.Points(5), p.Title.TextStyle.Font.Size*room/w)
		top = pad + p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding + pad
	}
	p.Draw(draw.Crop(c, pad/2, -colw, pad/2, -pad))
	leg.Draw(draw.Crop(c, c.Max.X-c.Min.X-colw+pad, -pad, pad, -top))
}

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
