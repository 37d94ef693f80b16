package drill

import (
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WriteHTML writes the report as one self-contained HTML page: no script,
// no font, no stylesheet or image from elsewhere, so that it opens offline
// and can be mailed or attached to a ticket as it is. Each scenario gets a
// timeline of its one-second windows (success rate, p50 and p99 latency,
// each cloud's share of the answers) with the fault shaded and the
// recovery marked, its checks and its phases.
func (r *Report) WriteHTML(w io.Writer) error {
	page := htmlPage{Report: r, Title: "duohuo drill " + r.Started.UTC().Format("2006-01-02 15:04:05 UTC")}
	for _, s := range r.Scenarios {
		page.Scenarios = append(page.Scenarios, htmlScenario{S: s, Chart: htmlTimeline(s)})
	}
	return htmlReport.Execute(w, page)
}

type htmlPage struct {
	*Report
	Title     string
	Scenarios []htmlScenario
}

type htmlScenario struct {
	S     ScenarioReport
	Chart chart
}

// chart is a scenario's timeline, laid out in SVG user units.
type chart struct {
	Width, Height float64
	Left, Top     float64 // the plot area's corner
	PlotW, PlotH  float64
	Seconds       int
	Success       string // polyline points
	P50, P99      string
	LatencyMax    time.Duration
	Areas         []area // one per cloud, stacked
	Faults        []span
	Recovered     float64 // x of the recovery, -1 when not measured
	RecoveredText string
	Ticks         []tick
	LatTicks      []tick
}

type area struct {
	Cloud, Points, Color string
}

type span struct{ X, W float64 }

type tick struct {
	Pos   float64
	Label string
}

// The clouds' colours, in the order of their names; a palette that stays
// apart for the common kinds of colour blindness (Okabe and Ito).
var cloudColors = []string{"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442"}

func htmlTimeline(s ScenarioReport) chart {
	c := chart{Width: 900, Height: 380, Left: 56, Top: 16, PlotW: 780, Recovered: -1}
	// Three bands: success (top), latency (middle), shares (bottom).
	c.PlotH = c.Height - c.Top - 40
	n := len(s.Windows)
	c.Seconds = n
	if n == 0 {
		return c
	}
	x := func(sec float64) float64 { return c.Left + c.PlotW*sec/float64(n) }
	band := c.PlotH / 3
	var succ, p50, p99 strings.Builder
	for _, w := range s.Windows {
		c.LatencyMax = max(c.LatencyMax, w.P99)
	}
	latMax := niceDuration(c.LatencyMax)
	c.LatencyMax = latMax
	clouds := map[string]bool{}
	for _, w := range s.Windows {
		for k := range w.ByCloud {
			clouds[k] = true
		}
	}
	names := slices.Sorted(maps.Keys(clouds))
	tops := make([][]float64, len(names)) // cumulative share per cloud per window
	for i, w := range s.Windows {
		mid := x(float64(i) + 0.5)
		// Success from 90% (bottom of its band) to 100% (top): what a
		// drill is about is the last few percent.
		sr := math.Max(0.9, w.SuccessRate)
		fmt.Fprintf(&succ, "%.1f,%.1f ", mid, c.Top+band*(1-(sr-0.9)/0.1))
		ly := func(d time.Duration) float64 {
			if latMax <= 0 {
				return c.Top + 2*band
			}
			return c.Top + band + band*(1-math.Min(1, float64(d)/float64(latMax)))
		}
		fmt.Fprintf(&p50, "%.1f,%.1f ", mid, ly(w.P50))
		fmt.Fprintf(&p99, "%.1f,%.1f ", mid, ly(w.P99))
		total := 0
		for _, v := range w.ByCloud {
			total += v
		}
		cum := 0.0
		for j, name := range names {
			if total > 0 {
				cum += float64(w.ByCloud[name]) / float64(total)
			}
			tops[j] = append(tops[j], cum)
		}
	}
	c.Success, c.P50, c.P99 = succ.String(), p50.String(), p99.String()
	base := c.Top + 3*band
	for j, name := range names {
		var pts strings.Builder
		for i := range n {
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(float64(i)+0.5), base-band*tops[j][i])
		}
		for i := n - 1; i >= 0; i-- {
			below := 0.0
			if j > 0 {
				below = tops[j-1][i]
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(float64(i)+0.5), base-band*below)
		}
		c.Areas = append(c.Areas, area{Cloud: name, Points: pts.String(), Color: cloudColors[j%len(cloudColors)]})
	}
	if f := s.Fault; f != nil && f.At >= 0 {
		until := f.Until
		if until <= f.At {
			until = time.Duration(n) * time.Second
		}
		c.Faults = append(c.Faults, span{X: x(f.At.Seconds()), W: x(until.Seconds()) - x(f.At.Seconds())})
		if f.TimeToRecover >= 0 {
			c.Recovered = x((f.At + f.TimeToRecover).Seconds())
			c.RecoveredText = "recovered after " + dur(f.TimeToRecover)
		}
	}
	step := max(1, n/10)
	for i := 0; i <= n; i += step {
		c.Ticks = append(c.Ticks, tick{Pos: x(float64(i)), Label: fmt.Sprintf("%ds", i)})
	}
	if latMax > 0 {
		// Labels inside the latency band: the top one below its edge, the
		// bottom one above, so that they stay clear of the other bands'.
		for _, f := range []float64{0, 0.5, 1} {
			pos := c.Top + band + band*(1-f)
			switch f {
			case 1:
				pos += 12
			case 0:
				pos -= 3
			default:
				pos += 4
			}
			c.LatTicks = append(c.LatTicks, tick{Pos: pos, Label: axisMS(time.Duration(f * float64(latMax)))})
		}
	}
	return c
}

// axisMS writes a latency for an axis: "250ms", "1.5ms", "2s".
func axisMS(d time.Duration) string {
	if d >= time.Second {
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + "ms"
}

// niceDuration rounds d up to 1, 2 or 5 times a power of ten milliseconds
// (at least 1ms), for an axis.
func niceDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	m := float64(d) / float64(time.Millisecond)
	p := math.Pow(10, math.Floor(math.Log10(m)))
	for _, f := range []float64{1, 2, 5, 10} {
		if m <= f*p {
			return time.Duration(math.Max(1, f*p) * float64(time.Millisecond))
		}
	}
	return d
}

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":  pct,
	"ms":   ms,
	"axis": axisMS,
	"dur":  dur,
	"add":  func(a, b float64) float64 { return a + b },
	"third": func(c chart, k int) float64 {
		return c.Top + c.PlotH/3*float64(k)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;margin:24px auto;max-width:960px;color:#1d2127;padding:0 12px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 4px;border-top:1px solid #d8dde3;padding-top:16px}
.muted{color:#5b6570}.pass{color:#0a7a3b;font-weight:600}.fail{color:#b3261e;font-weight:600}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #d8dde3;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f3f5f7}
svg{width:100%;height:auto;background:#fff;border:1px solid #d8dde3;border-radius:4px}
.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="muted">{{.Rate}} requests/s for {{dur .Duration}} per scenario · service time {{ms .ServiceTime}} · cross-cloud RTT {{ms .CrossCloudRTT}} · {{.Host.OS}}/{{.Host.Arch}} {{.Host.CPUs}} CPU {{.Host.CPU}} · {{.Host.GoVersion}} · load {{.Host.LoadAvgBefore}} → {{.Host.LoadAvgAfter}}</p>
<table><tr><th>scenario</th><th>result</th></tr>
{{range .Scenarios}}<tr><td><a href="#{{.S.Name}}">{{.S.Name}}</a> — {{.S.Title}}</td><td>{{if .S.Checks}}{{$ok := true}}{{range .S.Checks}}{{if not .Pass}}{{$ok = false}}{{end}}{{end}}{{if $ok}}<span class="pass">PASS</span>{{else}}<span class="fail">FAIL</span>{{end}}{{else}}<span class="muted">no targets</span>{{end}}</td></tr>
{{end}}</table>
{{range .Scenarios}}{{$c := .Chart}}
<h2 id="{{.S.Name}}">{{.S.Name}}: {{.S.Title}}</h2>
{{if .S.Faulty}}<p class="muted">fault on {{range $i, $f := .S.Faulty}}{{if $i}}, {{end}}{{$f}}{{end}}</p>{{end}}
{{if $c.Seconds}}
<svg viewBox="0 0 {{$c.Width}} {{$c.Height}}" role="img" aria-label="timeline of {{.S.Name}}">
{{range $c.Faults}}<rect x="{{.X}}" y="{{$c.Top}}" width="{{.W}}" height="{{$c.PlotH}}" fill="#b3261e" fill-opacity="0.08"><title>fault</title></rect>{{end}}
<line x1="{{$c.Left}}" x2="{{add $c.Left $c.PlotW}}" y1="{{third $c 1}}" y2="{{third $c 1}}" stroke="#d8dde3"/>
<line x1="{{$c.Left}}" x2="{{add $c.Left $c.PlotW}}" y1="{{third $c 2}}" y2="{{third $c 2}}" stroke="#d8dde3"/>
<rect x="{{$c.Left}}" y="{{$c.Top}}" width="{{$c.PlotW}}" height="{{$c.PlotH}}" fill="none" stroke="#aab3bd"/>
<text x="6" y="{{add $c.Top 12}}" font-size="11" fill="#5b6570">100%</text>
<text x="6" y="{{add (third $c 1) -3}}" font-size="11" fill="#5b6570">90%</text>
{{range $c.LatTicks}}<text x="6" y="{{.Pos}}" font-size="11" fill="#5b6570">{{.Label}}</text>{{end}}
<text x="6" y="{{add (third $c 2) 12}}" font-size="11" fill="#5b6570">share</text>
{{range $c.Areas}}<polygon points="{{.Points}}" fill="{{.Color}}" fill-opacity="0.75"><title>{{.Cloud}}</title></polygon>{{end}}
<polyline points="{{$c.Success}}" fill="none" stroke="#0a7a3b" stroke-width="2"><title>success rate</title></polyline>
<polyline points="{{$c.P50}}" fill="none" stroke="#56b4e9" stroke-width="1.5"><title>p50</title></polyline>
<polyline points="{{$c.P99}}" fill="none" stroke="#d55e00" stroke-width="1.5"><title>p99</title></polyline>
{{if ge $c.Recovered 0.0}}<line x1="{{$c.Recovered}}" x2="{{$c.Recovered}}" y1="{{$c.Top}}" y2="{{add $c.Top $c.PlotH}}" stroke="#0a7a3b" stroke-dasharray="4 3"/><text x="{{add $c.Recovered 4}}" y="{{add $c.Top 12}}" font-size="11" fill="#0a7a3b">{{$c.RecoveredText}}</text>{{end}}
{{range $c.Ticks}}<text x="{{.Pos}}" y="{{add $c.Top (add $c.PlotH 16)}}" font-size="11" fill="#5b6570" text-anchor="middle">{{.Label}}</text>{{end}}
</svg>
<p class="legend"><span><i class="sw" style="background:#0a7a3b"></i>success rate (90–100%)</span><span><i class="sw" style="background:#56b4e9"></i>p50</span><span><i class="sw" style="background:#d55e00"></i>p99 (0–{{axis $c.LatencyMax}})</span>{{range $c.Areas}}<span><i class="sw" style="background:{{.Color}}"></i>{{.Cloud}}</span>{{end}}<span><i class="sw" style="background:#f6dedc"></i>fault</span></p>
{{else}}<p class="muted">no requests measured</p>{{end}}
{{if .S.Checks}}<table><tr><th>check</th><th>target</th><th>got</th><th></th></tr>
{{range .S.Checks}}<tr><td>{{.What}}</td><td>{{.Target}}</td><td>{{.Got}}</td><td>{{if .Pass}}<span class="pass">pass</span>{{else}}<span class="fail">fail</span>{{end}}</td></tr>
{{end}}</table>{{end}}
<table><tr><th>phase</th><th>from</th><th>to</th><th>requests</th><th>success</th><th>p50</th><th>p99</th><th>max</th></tr>
{{range .S.Phases}}<tr><td>{{.Name}}</td><td>{{dur .From}}</td><td>{{dur .To}}</td><td>{{.Requests}}</td><td>{{pct .SuccessRate}}</td><td>{{ms .P50}}</td><td>{{ms .P99}}</td><td>{{ms .Max}}</td></tr>
{{end}}</table>
{{with .S.Fault}}<p>Time to recover: <b>{{if ge .TimeToRecover 0}}{{dur .TimeToRecover}}{{else}}not recovered{{end}}</b>{{if ge .TimeToNoAttempts 0}} · last attempt to the faulty set {{dur .TimeToNoAttempts}} after the fault{{end}}</p>{{end}}
{{if .S.Errors}}<p class="fail">{{range .S.Errors}}{{.}}<br>{{end}}</p>{{end}}
{{end}}
</body>
</html>
`))
