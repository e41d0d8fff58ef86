package main

import (
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"image/color"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

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
that saw activity (and a quiet one each side when only one did). A dashed
line marks the limiter's cap, ceil(RPM/60) per second; shaded spans are the
seconds the limiter was paused after a rate-limit error; triangles on top
mark pauses, probes and resumes, and a row below them changes of the limit
(learned, or reported by the server).
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
	// The logs hold a name that is not UTF-8 with each run of bad bytes
	// replaced by one U+FFFD: made valid so, the name a program gave
	// finds its limiter.
	o.name = strings.ToValidUTF8(o.name, "\uFFFD")
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
