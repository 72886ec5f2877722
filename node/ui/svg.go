package ui

import (
	"fmt"
	"html/template"
	"strings"
)

// Charts are drawn on the server as inline SVG: they need no script, print well, and
// their text is escaped like any other text on the page. Colours and fonts come from
// the stylesheet through class names, so the Content-Security-Policy can forbid inline
// styles. Every chart has a title and description for screen readers, and the page
// repeats its figures in a table.

// chart is a drawn chart and the figures it shows, for the table beneath it.
type chart struct {
	ID     string
	Title  string
	SVG    template.HTML
	Labels []string
	Series []series
	Empty  bool
	// EmptyText says why the chart has nothing to show; empty means a generic line.
	EmptyText string
}

// series is one set of values in a chart; Class picks its colour in the stylesheet.
type series struct {
	Name   string
	Class  string
	Values []float64
	// Text is each value as the table shows it; empty means the number itself.
	Text []string
}

func (s series) Cell(i int) string {
	if i < len(s.Text) && s.Text[i] != "" {
		return s.Text[i]
	}
	if i < len(s.Values) {
		return trimFloat(s.Values[i])
	}
	return ""
}

func esc(s string) string { return template.HTMLEscapeString(s) }

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.1f", f)
	return strings.TrimSuffix(s, ".0")
}

// columnChart draws values over time periods as vertical columns, one series.
func columnChart(id, title, desc string, labels []string, s series) chart {
	c := chart{ID: id, Title: title, Labels: labels, Series: []series{s}}
	const w, hgt, left, bottom, top = 640.0, 220.0, 44.0, 34.0, 14.0
	maxV := 0.0
	for _, v := range s.Values {
		maxV = max(maxV, v)
	}
	c.Empty = maxV == 0
	if maxV == 0 {
		maxV = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="%s-t %s-d" focusable="false">`, w, hgt, esc(id), esc(id))
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, esc(id), esc(title), esc(id), esc(desc))
	plotH := hgt - bottom - top
	// Gridlines at 0, half and the maximum.
	for _, f := range []float64{0, 0.5, 1} {
		y := top + plotH*(1-f)
		fmt.Fprintf(&b, `<line class="grid" x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f"/>`, left, y, w-8, y)
		fmt.Fprintf(&b, `<text class="tick" x="%.0f" y="%.1f" text-anchor="end">%s</text>`, left-6, y+4, esc(trimFloat(maxV*f)))
	}
	n := max(len(s.Values), 1)
	slot := (w - left - 8) / float64(n)
	bw := slot * 0.7
	for i, v := range s.Values {
		x := left + float64(i)*slot + (slot-bw)/2
		bh := plotH * v / maxV
		fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`,
			esc(s.Class), x, top+plotH-bh, bw, bh, esc(labels[i]), esc(s.Cell(i)))
		if v > 0 {
			fmt.Fprintf(&b, `<text class="val" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x+bw/2, top+plotH-bh-3, esc(s.Cell(i)))
		}
		if n <= 12 || i%2 == 0 {
			fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, x+bw/2, hgt-bottom+16, esc(labels[i]))
		}
	}
	b.WriteString(`</svg>`)
	c.SVG = template.HTML(b.String()) // every interpolated string above is escaped
	return c
}

// barChart draws one row per label with a horizontal bar per series, for comparing
// destinations.
func barChart(id, title, desc string, labels []string, ss []series) chart {
	c := chart{ID: id, Title: title, Labels: labels, Series: ss}
	const w, left, right, rowGap = 640.0, 120.0, 40.0, 10.0
	barH := 14.0
	rowH := barH*float64(len(ss)) + rowGap
	legendH := 24.0
	hgt := legendH + rowH*float64(max(len(labels), 1)) + 8
	maxV := 0.0
	for _, s := range ss {
		for _, v := range s.Values {
			maxV = max(maxV, v)
		}
	}
	c.Empty = maxV == 0
	if maxV == 0 {
		maxV = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="%s-t %s-d" focusable="false">`, w, hgt, esc(id), esc(id))
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, esc(id), esc(title), esc(id), esc(desc))
	lx := left
	for _, s := range ss {
		fmt.Fprintf(&b, `<rect class="%s" x="%.0f" y="4" width="12" height="12"/><text class="tick" x="%.0f" y="14">%s</text>`, esc(s.Class), lx, lx+16, esc(s.Name))
		lx += 24 + 7*float64(len(s.Name))
	}
	for i, l := range labels {
		y := legendH + float64(i)*rowH
		fmt.Fprintf(&b, `<text class="lbl" x="%.0f" y="%.1f" text-anchor="end">%s</text>`, left-8, y+rowH/2, esc(l))
		for j, s := range ss {
			v := 0.0
			if i < len(s.Values) {
				v = s.Values[i]
			}
			bw := (w - left - right) * v / maxV
			by := y + float64(j)*barH
			fmt.Fprintf(&b, `<rect class="%s" x="%.0f" y="%.1f" width="%.1f" height="%.1f"><title>%s, %s: %s</title></rect>`,
				esc(s.Class), left, by, bw, barH-2, esc(l), esc(s.Name), esc(s.Cell(i)))
			if v > 0 {
				fmt.Fprintf(&b, `<text class="val" x="%.1f" y="%.1f">%s</text>`, left+bw+4, by+barH-4, esc(s.Cell(i)))
			}
		}
	}
	b.WriteString(`</svg>`)
	c.SVG = template.HTML(b.String()) // every interpolated string above is escaped
	return c
}
