package report

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	//go:embed lib/echarts.min.js
	echartsJS string
	//go:embed lib/VERSION
	echartsVersion string
	//go:embed lib/NOTICE-echarts lib/LICENSE-*
	licenses embed.FS
	//go:embed app.js
	appJS string
	//go:embed report.html.tmpl
	pageTemplate string

	page = template.Must(template.New("report").Funcs(template.FuncMap{
		"num": num, "pct": pct, "date": date, "minus": func(a, b int) int { return a - b },
		"utc": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	}).Parse(pageTemplate))
)

// WriteHTML writes the report as one HTML page that needs nothing else:
// the charting library, the data and the code that draws it are inline,
// and its Content-Security-Policy lets it load nothing from anywhere.
// Server text reaches the page through html/template, which escapes it
// for where it goes.
func (r *Report) WriteHTML(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := page.Execute(bw, r.page()); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return bw.Flush()
}

// CheckPath says whether WriteFile could write a report at path: its
// directory exists and nothing has the name yet. Check before the queries,
// so that a run that could not keep its work does none.
func CheckPath(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("report: %w", exists(path))
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("report: %s is not a directory that exists", dir)
	}
	return nil
}

// WriteFile writes the report to path through a temporary file in the
// same directory, which takes the name path only once the page is whole:
// a failed run leaves no file behind, and an existing file at path is
// never replaced (the error then says so, and nothing is written).
func WriteFile(path string, r *Report) error {
	if err := writeNew(path, r.WriteHTML); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// writeNew writes a new file at path with write, through a temporary file
// beside it that is removed if anything fails.
func writeNew(path string, write func(io.Writer) error) (err error) {
	if _, err := os.Lstat(path); err == nil {
		return exists(path)
	}
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err == nil {
		if err = f.Sync(); err == nil {
			err = f.Close()
		}
	}
	if err != nil {
		return err
	}
	return place(tmp, path)
}

func exists(path string) error {
	return fmt.Errorf("%s exists: choose another file, or remove it first", path)
}

// place gives the complete file tmp the name path unless path exists:
// link fails on an existing path, atomically, where rename would replace
// it. Where links are not supported, a rename after a check is the best
// left.
func place(tmp, path string) error {
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		os.Remove(tmp) // the report is in place; a stray temporary name is no failure
		return nil
	case errors.Is(err, fs.ErrExist):
		return exists(path)
	}
	if _, err := os.Lstat(path); err == nil {
		return exists(path)
	}
	return os.Rename(tmp, path)
}

// DefaultName is the file name a report of m gets when none is given.
func DefaultName(m Meta) string {
	return "gcusage-report-" + date(m.First) + "-to-" + date(m.Last) + ".html"
}

// pageView is what the template reads.
type pageView struct {
	Meta     Meta
	Days     int
	Service  string
	Host     string // Meta.Host, or the sections' hosts
	Hosts    int    // how many Host names
	Totals   Counts
	Notes    []string
	Sections []sectionView
	Multi    bool
	Orgs     []orgRow // the sections but the first, with their totals: a page of several
	Clients  int      // of the section across all
	Done     int      // the sections that did not fail
	Data     pageData
	CSP      string
	Lib      template.JS
	App      template.JS
	Library  string
	Licenses string
}

type sectionView struct {
	ID, Title string
	*SectionReport
	Table     []tableRow
	More      *tableRow // the clients past the table's, when any
	ByRequest []EndpointTotal
	By429     []EndpointTotal
}

// orgRow is a section's line in the table of sections.
type orgRow struct {
	ID, Name, Host, Failed string
	Clients                int
	Counts                 Counts
	Share                  string // of all requests
}

type tableRow struct {
	Rank   int
	Label  string
	Color  string
	Counts Counts
	Share  string // of all requests
	Count  string // how many clients a More row sums
}

// pageData goes to the page's code as JSON: what each chart draws.
type pageData struct {
	Days     []string      `json:"days"`
	Sections []sectionData `json:"sections"`
}

type sectionData struct {
	ID        string    `json:"id"`
	Requests  []series  `json:"requests"`
	Throttled []series  `json:"throttled"`
	Share     []float64 `json:"share"` // 429s per day, % of requests
	Errors    []series  `json:"errors"`
	Sparks    [][]int64 `json:"sparks"` // requests per day of each table row
}

type series struct {
	Name  string  `json:"name"`
	Color string  `json:"color"`
	Data  []int64 `json:"data"`
}

func (r *Report) page() pageView {
	m := r.Meta
	v := pageView{
		Meta: m, Days: m.Days(), Service: m.Service.Describe(),
		Totals: r.Sections[0].Totals, Multi: len(r.Sections) > 1,
		Lib: template.JS(echartsJS), App: template.JS(appJS),
		Library: "Apache ECharts " + strings.TrimSpace(echartsVersion),
	}
	for i := range v.Days {
		v.Data.Days = append(v.Data.Days, date(m.First.AddDate(0, 0, i)))
	}
	var hosts []string
	for i, s := range r.Sections {
		sv := s.view(fmt.Sprintf("s%d", i), v.Multi)
		v.Sections = append(v.Sections, sv)
		for _, n := range s.Notes {
			v.Notes = append(v.Notes, prefix(sv.Title, v.Multi)+n)
		}
		if s.Host != "" && !slices.Contains(hosts, s.Host) {
			hosts = append(hosts, s.Host)
		}
		if i > 0 {
			v.Orgs = append(v.Orgs, orgRow{ID: sv.ID, Name: s.Name, Host: cmp.Or(s.Host, m.Host), Failed: s.Failed,
				Clients: len(s.Clients), Counts: s.Totals, Share: pct(s.Totals.Requests, v.Totals.Requests)})
		}
		if s.Failed != "" { // no chart: its sums count nowhere
			continue
		}
		v.Done++
		v.Data.Sections = append(v.Data.Sections, s.data(sv.ID))
	}
	v.Done-- // the section across all
	v.Clients = len(r.Sections[0].Clients)
	v.Host, v.Hosts = m.Host, 1
	if len(hosts) > 0 {
		v.Host, v.Hosts = strings.Join(hosts, ", "), len(hosts)
	}
	v.CSP = "default-src 'none'; script-src " + hash(echartsJS) + " " + hash(appJS) +
		"; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
	var b strings.Builder
	for _, name := range []string{"NOTICE-echarts", "LICENSE-echarts", "LICENSE-d3", "LICENSE-zrender", "LICENSE-tslib"} {
		t, _ := licenses.ReadFile("lib/" + name)
		fmt.Fprintf(&b, "==> %s <==\n%s\n\n", name, t)
	}
	v.Licenses = b.String()
	return v
}

func prefix(title string, multi bool) string {
	if !multi {
		return ""
	}
	return title + ": "
}

// hash is the CSP source that lets exactly the script s run.
func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}

func (s *SectionReport) view(id string, multi bool) sectionView {
	v := sectionView{ID: id, Title: s.Name, SectionReport: s}
	if s.Name == "" && multi {
		v.Title = "All organizations"
	}
	var shown Counts
	for i, c := range s.Clients[:min(TableClients, len(s.Clients))] {
		v.Table = append(v.Table, tableRow{Rank: i + 1, Label: s.labels[i], Color: s.colors[i], Counts: c.Counts,
			Share: pct(c.Requests, s.Totals.Requests)})
		shown.add(c.Counts)
	}
	if rest := len(s.Clients) - len(v.Table); rest > 0 || s.LumpedRows > 0 {
		count := num(int64(rest)) + " more clients"
		if s.LumpedRows > 0 {
			count = "more than " + count
		}
		others := s.Totals
		others.sub(shown)
		more := tableRow{Label: OtherClients, Color: colorOther, Counts: others, Count: count}
		more.Share = pct(more.Counts.Requests, s.Totals.Requests)
		v.More = &more
	}
	v.ByRequest = s.Endpoints[:min(TableEndpoints, len(s.Endpoints))]
	v.By429 = s.endpointsBy429[:min(TableEndpoints, len(s.endpointsBy429))]
	return v
}

func (s *SectionReport) data(id string) sectionData {
	days := len(s.Days)
	d := sectionData{ID: id, Share: make([]float64, days)}
	d.Requests = s.stack(s.byRequests, 0, func(c Counts) int64 { return c.Requests })
	d.Throttled = s.stack(s.by429, days, func(c Counts) int64 { return c.Status429 })
	x4 := series{Name: "4xx without 429", Color: color4xx, Data: make([]int64, days)}
	x5 := series{Name: "5xx", Color: color5xx, Data: make([]int64, days)}
	for i, c := range s.Days {
		x4.Data[i], x5.Data[i] = c.Status400-c.Status429, c.Status500
		if c.Requests > 0 {
			d.Share[i] = 100 * float64(c.Status429) / float64(c.Requests)
		}
	}
	d.Errors = []series{x4, x5}
	for i := range s.Clients[:min(TableClients, len(s.Clients))] {
		d.Sparks = append(d.Sparks, s.series[i][:days])
	}
	return d
}

// stack is the series of the clients idx, from their per-day series at
// offset off, and one of the other clients: the day's total of the same
// counter less theirs, when it is not zero every day.
func (s *SectionReport) stack(idx []int, off int, total func(Counts) int64) []series {
	days := len(s.Days)
	other := series{Name: OtherClients, Color: colorOther, Data: make([]int64, days)}
	for i, c := range s.Days {
		other.Data[i] = total(c)
	}
	out := make([]series, 0, len(idx)+1)
	for _, i := range idx {
		data := s.series[i][off : off+days]
		for j, v := range data {
			other.Data[j] -= v
		}
		out = append(out, series{Name: s.labels[i], Color: s.colors[i], Data: data})
	}
	for _, v := range other.Data {
		if v != 0 {
			return append(out, other)
		}
	}
	return out
}

// num writes n with a comma between thousands: 1,234,567.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// pct writes a as a percentage of b, to a tenth: "12.3 %", "<0.1 %" for a
// part too small to show, and "–" of nothing.
func pct(a, b int64) string {
	switch {
	case b == 0:
		return "–"
	case a == 0:
		return "0 %"
	}
	p := 100 * float64(a) / float64(b)
	if p < 0.05 && p > 0 {
		return "<0.1 %"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + " %"
}
