package ui

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/entente/entente/policy"
)

// pageNames are the templates under templates/, each rendered inside layout.html.
var pageNames = []string{"login", "error", "watchlist", "entry", "nominations", "disputes", "risk", "alerts", "health", "review", "audit", "policy"}

func (h *Handler) parseTemplates() error {
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("ui: template %s: %w", name, err)
		}
		h.pages[name] = t
	}
	return nil
}

// assetVersion is a short hash of the static assets, appended to their URLs so that
// browsers may cache them and still fetch a new binary's assets at once.
func assetVersion(static fs.FS) string {
	hsh := sha256.New()
	names, _ := fs.Glob(static, "*")
	sort.Strings(names)
	for _, n := range names {
		b, _ := fs.ReadFile(static, n)
		hsh.Write([]byte(n))
		hsh.Write(b)
	}
	return hex.EncodeToString(hsh.Sum(nil))[:12]
}

var funcs = template.FuncMap{
	"when":     when,
	"whenp":    whenp,
	"relative": relative,
	"dur":      humanDuration,
	"pdur":     func(d policy.Duration) string { return humanDuration(time.Duration(d)) },
	"join":     strings.Join,
	"short":    short,
	"pct":      func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"add":      func(a, b int) int { return a + b },
}

// when formats a time for officials in any time zone: UTC, to the second.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2 Jan 2006 15:04:05 UTC")
}

func whenp(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return when(*t)
}

// relative says how far t is from now, in words: "in 3 days", "5 minutes ago".
func relative(t time.Time, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	if d >= 0 {
		return "in " + humanDuration(d)
	}
	return humanDuration(-d) + " ago"
}

// humanDuration rounds d to its largest sensible unit.
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d < time.Second:
		return "under a second"
	case d < time.Minute:
		return plural(int64(math.Round(d.Seconds())), "second")
	case d < time.Hour:
		return plural(int64(math.Round(d.Minutes())), "minute")
	case d < 48*time.Hour:
		return plural(int64(math.Round(d.Hours())), "hour")
	case d < 60*24*time.Hour:
		return plural(int64(math.Round(d.Hours()/24)), "day")
	case d < 730*24*time.Hour:
		return plural(int64(math.Round(d.Hours()/24/30.44)), "month")
	default:
		return plural(int64(math.Round(d.Hours()/24/365.25)), "year")
	}
}

// short abbreviates a long opaque value (a signature, a hash) for display.
func short(s string) string {
	if len(s) <= 24 {
		return s
	}
	return s[:12] + "…" + s[len(s)-8:]
}
