package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// printDemoTable prints the comparison of the runs.
func printDemoTable(w io.Writer, o *demoOptions, runs []*demoResult, minimum time.Duration) {
	header := []string{"client", "completed", "wall time", "vs minimum", "429s at server", "429s to caller", "most accepted in 1 s"}
	rows := [][]string{header}
	for _, r := range runs {
		ratio := fmt.Sprintf("%.2fx", r.wall.Seconds()/minimum.Seconds())
		wall := fmt.Sprintf("%.1f s", r.wall.Seconds())
		switch {
		case r.stopped:
			// An unfinished run would have taken longer still; a cap
			// below the minimum says nothing about it.
			ratio, wall = ">"+ratio, wall+" (cap)"
			if r.wall < minimum {
				ratio = "n/a"
			}
		case r.interrupted:
			// An interrupted run says nothing of the time the workload
			// takes.
			ratio, wall = "n/a", wall+" (interrupted)"
		case r.completed < r.total:
			// A run that gave up on requests did not do the workload
			// the minimum is for: its time compares with nothing.
			ratio = "n/a"
		}
		rows = append(rows, []string{
			r.client,
			fmt.Sprintf("%d/%d", r.completed, r.total),
			wall,
			ratio,
			fmt.Sprint(r.server.Rejected429),
			fmt.Sprint(r.client429),
			fmt.Sprint(r.busiest),
		})
	}
	widths := make([]int, len(header))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	for k, row := range rows {
		var b strings.Builder
		for i, c := range row {
			if i == 0 {
				fmt.Fprintf(&b, "%-*s", widths[i], c)
			} else {
				fmt.Fprintf(&b, "  %*s", widths[i], c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if k == 0 {
			fmt.Fprintln(w, strings.Repeat("-", b.Len()))
		}
	}
	fmt.Fprintf(w, "\nminimum = max(0, requests - RPM/60) / (RPM/60) s + median latency = max(0, %d - %s) / %s + %.1f = %.1f s\n",
		o.requests, fmtNum(bucketBurst(o.rpm)), fmtNum(float64(o.rpm)/60), demoLatency.Seconds(), minimum.Seconds())
	fmt.Fprintf(w, "the server's bucket allows at most %s requests in any 1 s window (a full bucket plus one second of refill)\n",
		fmtNum(bucketBurst(o.rpm)+float64(o.rpm)/60))
	for _, r := range runs {
		if s := r.limiter; s != nil {
			fmt.Fprintf(w, "%s limiter: %d requested, %d issued, %d rate limited, %d pauses (%.1f s paused), %d RPM at the end (configured %d)\n",
				r.client, s.Requested, s.Issued, s.RateLimited, s.Pauses, s.PausedTime.Seconds(), s.RPM, o.limiterRPM)
		}
	}
}

// The lines of a demo chart, in the colors graph uses for the matching
// limiter counts.
var demoLines = []struct {
	label string
	color color.Color
	value func(s demoSecond) int
}{
	{"sent (on the wire)", color.NRGBA{31, 119, 180, 110}, func(s demoSecond) int { return s.sent }},
	{"accepted by the server", color.RGBA{44, 160, 44, 255}, func(s demoSecond) int { return s.accepted }},
	{"429s", color.RGBA{214, 39, 40, 255}, func(s demoSecond) int { return s.refused }},
	{"finished", color.RGBA{148, 103, 189, 255}, func(s demoSecond) int { return s.finished }},
}

// writeDemoCharts draws one chart per run, on the same axes so that they
// can be compared at a glance. The axes span two seconds at least, so that
// a run that fits in one is drawn with the quiet second after it.
func writeDemoCharts(o *demoOptions, runs []*demoResult, paths []string) error {
	n, ymax := 2, float64(o.rpm)/60
	for _, r := range runs {
		n = max(n, len(r.seconds), int(math.Ceil((r.startAt + r.wall).Seconds())))
		for _, s := range r.seconds {
			for _, l := range demoLines {
				ymax = max(ymax, float64(l.value(s)))
			}
		}
	}
	for i, r := range runs {
		p, leg := demoChart(o, r, n, ymax)
		if err := save(p, []*plot.Legend{leg}, 1200, 600, "png", paths[i]); err != nil {
			return fmt.Errorf("%s: %w", paths[i], err)
		}
	}
	return nil
}

// demoChart builds the chart of one run over n seconds, with the Y axis up
// to ymax.
func demoChart(o *demoOptions, r *demoResult, n int, ymax float64) (*plot.Plot, *plot.Legend) {
	state := fmt.Sprintf("all %d done in %.1f s", r.total, r.wall.Seconds())
	if r.stopped {
		state = fmt.Sprintf("%d/%d done when stopped at %.0f s", r.completed, r.total, r.wall.Seconds())
	} else if r.interrupted {
		state = fmt.Sprintf("%d/%d done when interrupted at %.1f s", r.completed, r.total, r.wall.Seconds())
	} else if r.completed < r.total {
		state = fmt.Sprintf("%d/%d done in %.1f s", r.completed, r.total, r.wall.Seconds())
	}
	title := fmt.Sprintf("%s: %d requests, %d workers, server at %d RPM — %s", r.client, r.total, o.workers, o.rpm, state)
	p := newChart(title, "seconds, from the wall-clock second the run started in", n)
	p.Y.Max = ymax * 1.12

	leg := newLegend()

	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{200}
	grid.Horizontal.Color = color.Gray{200}
	p.Add(grid)

	// The fake server refills its bucket at RPM/60 requests a second.
	capv := float64(o.rpm) / 60
	capLine := mustLine(plotter.XYs{{X: 0, Y: capv}, {X: float64(n), Y: capv}})
	capLine.Color = color.RGBA{70, 70, 70, 255}
	capLine.Width = vg.Points(1.2)
	capLine.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
	p.Add(capLine)

	end := (r.startAt + r.wall).Seconds()
	endLine := mustLine(plotter.XYs{{X: end, Y: 0}, {X: end, Y: p.Y.Max}})
	endLine.Color = color.RGBA{120, 120, 120, 255}
	endLine.Width = vg.Points(1)
	endLine.Dashes = []vg.Length{vg.Points(2), vg.Points(3)}
	p.Add(endLine)

	for k, l := range demoLines {
		xys := make(plotter.XYs, len(r.seconds))
		for j, s := range r.seconds {
			xys[j] = plotter.XY{X: float64(j) + 0.5, Y: float64(l.value(s))}
		}
		if len(xys) == 1 {
			// A line through one point draws nothing: a run that fits in
			// one second is drawn with the quiet second after it.
			xys = append(xys, plotter.XY{X: 1.5})
		}
		line := mustLine(xys)
		line.Width = vg.Points(1.4)
		if k == 0 {
			// Wide and pale, so that it shows around the lines it shares
			// values with.
			line.Width = vg.Points(4)
		}
		line.Color = l.color
		p.Add(line)
		leg.Add(l.label, line)
	}
	leg.Add(fmt.Sprintf("server limit %s/s (%d RPM)", fmtNum(capv), o.rpm), capLine)
	endLabel := fmt.Sprintf("last call finished, %.1f s", r.wall.Seconds())
	if r.stopped {
		endLabel = fmt.Sprintf("stopped at the %.0f s cap", r.wall.Seconds())
	} else if r.interrupted {
		endLabel = fmt.Sprintf("interrupted at %.1f s", r.wall.Seconds())
	}
	leg.Add(endLabel, endLine)
	return p, leg
}
