package main

import (
	"errors"
	"image"
	"image/color"
	"io/fs"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// save draws the plot with the first of its legends that fits on its
// right into a file of the given size in pixels and format, replacing it
// in one step. Its error is the cause alone, such as "permission denied":
// the file it names would be the temporary one, not path. A folder at path
// is left alone and reported as errChartIsFolder.
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

// errChartIsFolder is the error of save when a folder has the chart's
// path: renaming a file onto it would fail with "file exists".
var errChartIsFolder = errors.New("it is a folder")

// writeChart does the work of save.
func writeChart(p *plot.Plot, legs []*plot.Legend, width, height int, format, path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return errChartIsFolder
	}
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
