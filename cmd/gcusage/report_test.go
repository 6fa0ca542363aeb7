package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"iter"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/cmd/internal/report"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// The default report at the tests' clock (2024-01-08): the last 30 full
// UTC days.
const (
	reportFirst, reportLast = "2023-12-09", "2024-01-07"
	reportName              = "gcusage-report-2023-12-09-to-2024-01-07.html"
)

// gcusageOpening runs the command as gcusage does, with open as the
// browser.
func gcusageOpening(t *testing.T, env map[string]string, transport http.RoundTripper, open func(string) error, args ...string) out {
	t.Helper()
	var stdout, stderr bytes.Buffer
	f := &Factory{Getenv: func(k string) string { return env[k] }, Stdout: &stdout, Stderr: &stderr, Transport: transport, Now: clock, OpenInBrowser: open}
	code := f.run(context.Background(), args)
	return out{code, stdout.String(), stderr.String()}
}

// reportPage is what a report file holds that the tests read: its header,
// the data its charts draw, and its sections.
type reportPage struct {
	html     string
	totals   report.Counts // the header's
	host     string
	sections []pageSection // of a page of several, the one across all first
	data     struct {
		Days     []string     `json:"days"`
		Sections []chartsData `json:"sections"`
	}
}

// chartsData is what a section's charts draw.
type chartsData struct {
	ID                          string `json:"id"`
	Requests, Throttled, Errors []struct {
		Name string  `json:"name"`
		Data []int64 `json:"data"`
	}
}

// pageSection is a section of a page of several.
type pageSection struct {
	id, name, host string
	failed         string // why it did not finish, unescaped
	totals         report.Counts
	labels         []string // of its top clients table
}

var (
	scriptRE  = regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script`)
	totalRE   = regexp.MustCompile(`data-total="(\w+)" data-value="(-?\d+)"`)
	hostRE    = regexp.MustCompile(`<dd id="host">([^<]*)</dd>`)
	sectionRE = regexp.MustCompile(`(?s)<section id="(s\d+)" data-section="([^"]*)"[^>]*>(.*?)</section>`)
	inHostRE  = regexp.MustCompile(`<span class="host">([^<]*)</span>`)
	whyRE     = regexp.MustCompile(`<span class="why">([^<]*)</span>`)
	labelRE   = regexp.MustCompile(`data-row="client"><td>\d+</td><td class="l name">(?:<span[^>]*></span>)?<span class="label">([^<]*)</span>`)
)

func readReport(t *testing.T, path string) reportPage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := reportPage{html: string(b)}
	s := scriptRE.FindAllStringSubmatch(p.html, -1)
	if len(s) != 3 || !strings.Contains(s[0][1], `type="application/json"`) {
		t.Fatalf("%s: %d scripts, want 3, the data first", path, len(s))
	}
	if err := json.Unmarshal([]byte(s[0][2]), &p.data); err != nil || len(p.data.Sections) == 0 {
		t.Fatalf("%s: the data element: %v", path, err)
	}
	p.totals = totalsIn(p.html) // the header's, first
	if m := hostRE.FindStringSubmatch(p.html); m != nil {
		p.host = html.UnescapeString(m[1])
	}
	for _, m := range sectionRE.FindAllStringSubmatch(p.html, -1) {
		sec := pageSection{id: m[1], name: html.UnescapeString(m[2]), totals: totalsIn(m[3])}
		if h := inHostRE.FindStringSubmatch(m[3]); h != nil {
			sec.host = html.UnescapeString(h[1])
		}
		if w := whyRE.FindStringSubmatch(m[3]); w != nil {
			sec.failed = html.UnescapeString(w[1])
		}
		for _, l := range labelRE.FindAllStringSubmatch(m[3], -1) {
			sec.labels = append(sec.labels, html.UnescapeString(l[1]))
		}
		p.sections = append(p.sections, sec)
	}
	return p
}

// totalsIn reads the first six totals of the markup: a header's.
func totalsIn(markup string) report.Counts {
	var c report.Counts
	fields := map[string]*int64{"requests": &c.Requests, "status200": &c.Status200, "status300": &c.Status300,
		"status400": &c.Status400, "status429": &c.Status429, "status500": &c.Status500}
	for _, m := range totalRE.FindAllStringSubmatch(markup, 6) {
		*fields[m[1]], _ = strconv.ParseInt(m[2], 10, 64)
	}
	return c
}

// rowsOf is a stub's organization: a Server's first, or an OrgServer.
type rowsOf interface {
	Rows(gen.APIUsageQuery) (iter.Seq[gen.APIUsageRow], error)
}

// stubDays are the stub's own rows of the report's query by day and OAuth
// client, of each org given, summed over the interval and per day.
func stubDays(t *testing.T, first, last string, orgs ...rowsOf) (total report.Counts, days []report.Counts) {
	t.Helper()
	f, _ := time.Parse(time.DateOnly, first)
	l, _ := time.Parse(time.DateOnly, last)
	q, _ := report.Queries(f, l)
	days = make([]report.Counts, int(l.Sub(f)/(24*time.Hour))+1)
	for _, org := range orgs {
		rows, err := org.Rows(gen.APIUsageQuery{Interval: q.Interval, Granularity: &q.Granularity, GroupBy: q.GroupBy})
		if err != nil {
			t.Fatal(err)
		}
		for r := range rows {
			c := report.FromUsageRow(r).Counts
			addCounts(&total, c)
			addCounts(&days[int(r.Date.Sub(f)/(24*time.Hour))], c)
		}
	}
	return total, days
}

// checkAgainstStub compares the page with the stub's rows: the header's
// totals, and each day's stacks of requests and 429s and its errors in
// the section across all.
func checkAgainstStub(t *testing.T, p reportPage, total report.Counts, days []report.Counts) {
	t.Helper()
	if total.Requests == 0 || p.totals != total {
		t.Errorf("the header's totals %+v, the stub's rows %+v", p.totals, total)
	}
	checkDays(t, p, "s0", days)
}

// checkDays compares the charts of section id with the stub's days.
func checkDays(t *testing.T, p reportPage, id string, days []report.Counts) {
	t.Helper()
	i := slices.IndexFunc(p.data.Sections, func(s chartsData) bool { return s.ID == id })
	if i < 0 {
		t.Fatalf("no chart of section %s", id)
	}
	s := p.data.Sections[i]
	if len(p.data.Days) != len(days) || len(s.Errors) != 2 {
		t.Fatalf("%s: %d days and %d error series, want %d and 2", id, len(p.data.Days), len(s.Errors), len(days))
	}
	for i, d := range days {
		var req, tooMany int64
		for _, ser := range s.Requests {
			req += ser.Data[i]
		}
		for _, ser := range s.Throttled {
			tooMany += ser.Data[i]
		}
		if req != d.Requests || tooMany != d.Status429 || s.Errors[0].Data[i] != d.Status400-d.Status429 || s.Errors[1].Data[i] != d.Status500 {
			t.Errorf("%s, %s: requests %d, 429 %d, errors %d and %d; the stub's %+v", id, p.data.Days[i], req, tooMany, s.Errors[0].Data[i], s.Errors[1].Data[i], d)
		}
	}
}

// ls names the files in dir, hidden ones (a temporary file) included.
func ls(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		paths[i] = filepath.Base(p)
	}
	return paths
}

// report --demo writes the last 30 full days of the stub's sample data
// (the same as every --demo's) under the default name, which the note on
// stderr gives with the service that counted the numbers.
func TestReportDemo(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithNow(clock)) // the demo's data
		total, days := stubDays(t, reportFirst, reportLast, srv)
		o := gcusage(t, nil, nil, "report", "--demo")
		want := "gcusage: demo: report of 2023-12-09/2024-01-07, sample data from an in-process stub; no account, nothing sent over the network\n" +
			"gcusage: wrote " + reportName + ": 30 UTC days, 2023-12-09 to 2024-01-07, " + strconv.FormatInt(total.Requests, 10) +
			" requests of 3 OAuth clients, counted by the usage query, which counts billable requests only\n"
		if o.code != 0 || o.stdout != "" || o.stderr != want {
			t.Fatalf("exit %d, stdout %q, stderr\n%s\nwant 0, nothing and\n%s", o.code, o.stdout, o.stderr, want)
		}
		p := readReport(t, filepath.Join(dir, reportName))
		checkAgainstStub(t, p, total, days)
		if p.host != "in-process stub (demo data)" || !strings.Contains(p.html, `<dd id="service">the usage query, which counts billable requests only</dd>`) ||
			!strings.Contains(p.html, `<dd id="interval">2023-12-09 to 2024-01-07, 30 full UTC days</dd>`) {
			t.Errorf("the header: host %q; want the stub, the legacy service and the interval", p.host)
		}
		if len(p.data.Sections[0].Requests) != 3 { // 3 clients, and no others
			t.Errorf("%d series of requests, want the demo's 3 clients", len(p.data.Sections[0].Requests))
		}

		// --quiet says nothing; --since and --out.
		o = gcusage(t, nil, nil, "report", "--demo", "--quiet", "--since", "7d", "--out", "week.html")
		if o.code != 0 || o.stderr != "" {
			t.Errorf("--quiet: exit %d, stderr %q; want 0 and nothing", o.code, o.stderr)
		}
		total, days = stubDays(t, "2024-01-01", reportLast, srv)
		checkAgainstStub(t, readReport(t, filepath.Join(dir, "week.html")), total, days)

		// An interval into today is cut, with the CLI's note.
		o = gcusage(t, nil, nil, "report", "--demo", "--interval", "2024-01-05/2099-01-01")
		if o.code != 0 || !strings.Contains(o.stderr, "\ngcusage: note: --interval 2024-01-05/2099-01-01 reaches into today or later: cut to 2024-01-05/2024-01-07,") ||
			!strings.Contains(o.stderr, "\ngcusage: wrote gcusage-report-2024-01-05-to-2024-01-07.html: 3 UTC days") {
			t.Errorf("a cut interval: exit %d, stderr %q", o.code, o.stderr)
		}
		if got := ls(t, dir); strings.Join(got, " ") != "gcusage-report-2023-12-09-to-2024-01-07.html gcusage-report-2024-01-05-to-2024-01-07.html week.html" {
			t.Errorf("files %q", got)
		}
	})
}

// --jobs counts with the 2025 service through the same code: the page and
// the note say so. The stub's jobs count what its legacy query does.
func TestReportJobs(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(1, 0), usagetest.WithNow(clock))
		path := filepath.Join(dir, "jobs.html")
		o := gcusage(t, stubEnv(srv), srv.Transport(), at(srv, "report", "--jobs", "--out", path)...)
		if o.code != 0 || !strings.HasSuffix(o.stderr, ", counted by the usage query jobs of 2025, which count all requests\n") {
			t.Fatalf("exit %d, stderr %q; want 0 and the jobs service named", o.code, o.stderr)
		}
		var jobs int
		for _, r := range srv.Requests() {
			if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/usage/aggregates/query/jobs") {
				jobs++
			} else if strings.HasPrefix(r.Path, "/api/v2/usage/query") {
				t.Errorf("%s %s: --jobs sent a legacy query", r.Method, r.Path)
			}
		}
		p := readReport(t, path)
		total, days := stubDays(t, reportFirst, reportLast, srv)
		checkAgainstStub(t, p, total, days)
		if jobs != 2 || p.host != "127.0.0.1:0" || !strings.Contains(p.html, `<dd id="service">the usage query jobs of 2025, which count all requests</dd>`) {
			t.Errorf("%d jobs, host %q; want 2, the host of --api-url and the jobs service", jobs, p.host)
		}
	})
}

// Bad flags, and a file that exists, exit 2 before anything is sent or
// written: one line on stderr, no request, no file, the file as it was.
func TestReportUsageErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	const mine = "my own notes"
	if err := os.WriteFile("taken.html", []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(reportName, []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithNow(clock))
		env := stubEnv(srv)
		const yesterday = "usage is counted up to yesterday, 2024-01-07"
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--out", "taken.html"}, "gcusage: report: taken.html exists: choose another file, or remove it first\n"},
			{nil, "gcusage: report: " + reportName + " exists: choose another file, or remove it first; --out names another\n"},
			{[]string{"--demo", "--out", "taken.html"}, "taken.html exists"},
			{[]string{"--out", filepath.Join("no", "such.html")}, "report: no is not a directory that exists"},
			{[]string{"--bogus"}, "report: unknown flag --bogus (see gcusage report --help)"},
			{[]string{"--oepn"}, "did you mean --open?"},
			{[]string{"now"}, `report takes no arguments, got "now"`},
			{[]string{"--since", "36h", "--out", "x.html"}, "gcusage: --since 36h: whole UTC days are counted here: give dates (2024-01-31) or days back from today (30d)\n"},
			{[]string{"--until", "2024-01-05T12:00:00Z", "--out", "x.html"}, "gcusage: --until 2024-01-05T12:00:00Z: whole UTC days are counted here"},
			{[]string{"--interval", "2024-01-01T00:00:00+02:00/2024-01-05", "--out", "x.html"}, "gcusage: --interval 2024-01-01T00:00:00+02:00/2024-01-05: whole UTC days"},
			{[]string{"--interval", "2024-01-01/2024-01-05", "--since", "3d"}, "--interval cannot be combined with --since or --until"},
			{[]string{"--since", "0d"}, "gcusage: --since 0d starts today: " + yesterday + "\n"},
			{[]string{"--interval", "2099-01-01/2099-02-01"}, "gcusage: --interval 2099-01-01/2099-02-01 is in the future: " + yesterday + "\n"},
			{[]string{"--since", "2010-01-01", "--out", "x.html"}, "the interval 2010-01-01 to 2024-01-07 has 5120 days; a report covers at most 3660"},
			{[]string{"--jobs", "--since", "400d", "--out", "x.html"}, "starts more than a year ago"},
			{[]string{"--timeout", "-1m", "--out", "x.html"}, "--timeout -1m0s: want a positive duration"},
			{[]string{"--demo", "--region", "eu-west-1", "--out", "x.html"}, "--demo runs against an in-process stub"},
			{[]string{"--region", "mars-1", "--out", "x.html"}, `--region "mars-1": unknown region`},
			{[]string{"--all-profiles", "--config", "none.toml", "--out", "x.html"}, "gcusage: none.toml: no such file: `gc profiles new` writes one"},
			{[]string{"--profile", "a,b", "--config", "none.toml"}, "gcusage: report: " + reportName + " exists"},
			{[]string{"--parallel", "2", "--out", "x.html"}, "--parallel: give --profile a,b or --all-profiles"},
			{[]string{"--demo", "--all-profiles", "--parallel", "0", "--out", "x.html"}, "--parallel 0: want at least 1"},
			{[]string{"--demo", "--all-profiles", "--config", "taken.html", "--out", "x.html"}, "--demo runs the built-in demo profiles (demo-prod, demo-test, demo-sandbox): drop --config"},
			{[]string{"--demo", "--profile", "acme", "--out", "x.html"}, `no profile "acme": the profiles are demo-prod, demo-test, demo-sandbox`},
		} {
			var tr refusing
			args := append([]string{"report"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "-region") && !strings.Contains(strings.Join(tc.args, " "), "--demo") {
				args = at(srv, args...)
			}
			o := gcusage(t, env, &tr, args...)
			if o.code != 2 || o.stdout != "" || !strings.Contains(o.stderr, tc.want) || strings.Count(o.stderr, "\n") != 1 {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and one line with %q", tc.args, o.code, o.stdout, o.stderr, tc.want)
			}
			if n := len(srv.Requests()) + int(tr.n.Load()); n != 0 {
				t.Errorf("%q: %d requests sent, want none", tc.args, n)
			}
		}
	})
	if got := ls(t, dir); len(got) != 2 {
		t.Errorf("files %q, want the two there before", got)
	}
	for _, name := range []string{"taken.html", reportName} {
		if b, _ := os.ReadFile(name); string(b) != mine {
			t.Errorf("%s was changed: %q", name, b)
		}
	}
}

// A run that fails leaves no file, not even a temporary one, and never
// replaces one: the rows cut short in the first query or the second, a
// failed query, a wait cut short by --timeout, and a file made by another
// hand while the report ran.
func TestReportFailureLeavesNoFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []usagetest.Option
		args []string
		want string // the end of stderr
	}{
		{"rows cut short", []usagetest.Option{usagetest.WithFault(usagetest.RouteResults, 1, usagetest.TruncatedJSON())}, nil,
			"gcusage: the query by day and OAuth client: execution "},
		{"the second query's rows cut short", []usagetest.Option{usagetest.WithFault(usagetest.RouteResults, 2, usagetest.TruncatedJSON())}, nil,
			"gcusage: the query by endpoint: execution "},
		{"failed", []usagetest.Option{usagetest.WithOutcome(func(gen.APIUsageQuery) gen.QueryStatus { return gen.QueryStatusFailed })}, nil,
			"query failed\n"},
		{"timeout", []usagetest.Option{usagetest.WithRunning(0, time.Hour)}, []string{"--timeout", "1m"},
			"context deadline exceeded; run it again with a --timeout longer than 1m0s\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			synctest.Test(t, func(t *testing.T) {
				srv := usagetest.NewServer(t, append([]usagetest.Option{usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithNow(clock)}, tc.opts...)...)
				o := gcusage(t, stubEnv(srv), srv.Transport(), at(srv, append([]string{"report", "--out", filepath.Join(dir, "r.html")}, tc.args...)...)...)
				if o.code != 1 || !strings.Contains(o.stderr, tc.want) || strings.Contains(o.stderr, "resume") || strings.Contains(o.stderr, "wrote") {
					t.Errorf("exit %d, stderr %q; want 1 and %q, no resume hint", o.code, o.stderr, tc.want)
				}
			})
			if got := ls(t, dir); len(got) != 0 {
				t.Errorf("a failed run left %q", got)
			}
		})
	}
	t.Run("a file made meanwhile", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "r.html")
		synctest.Test(t, func(t *testing.T) {
			srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithNow(clock))
			tr := &hook{next: srv.Transport(), path: "/api/v2/usage/query", fn: func() { os.WriteFile(path, []byte("theirs"), 0o644) }}
			o := gcusage(t, stubEnv(srv), tr, at(srv, "report", "--out", path)...)
			if o.code != 1 || !strings.HasSuffix(o.stderr, "r.html exists: choose another file, or remove it first\n") {
				t.Errorf("exit %d, stderr %q; want 1: the file exists", o.code, o.stderr)
			}
		})
		if b, _ := os.ReadFile(path); string(b) != "theirs" || len(ls(t, dir)) != 1 {
			t.Errorf("the file made during the run holds %q; files %q", b, ls(t, dir))
		}
	})
}

// hook calls fn before the first request to path.
type hook struct {
	next http.RoundTripper
	path string
	fn   func()
	once sync.Once
}

func (h *hook) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == h.path {
		h.once.Do(h.fn)
	}
	return h.next.RoundTrip(r)
}

// --open opens the file written, by its absolute path; a browser that
// cannot be opened is a warning, even with --quiet, and the run succeeds.
func TestReportOpen(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	synctest.Test(t, func(t *testing.T) {
		var opened []string
		open := func(p string) error { opened = append(opened, p); return nil }
		o := gcusageOpening(t, nil, nil, open, "report", "--demo", "--open", "--quiet")
		if o.code != 0 || o.stderr != "" || len(opened) != 1 || opened[0] != filepath.Join(dir, reportName) {
			t.Fatalf("exit %d, stderr %q, opened %q; want %s", o.code, o.stderr, opened, filepath.Join(dir, reportName))
		}
		if b, err := os.ReadFile(opened[0]); err != nil || !bytes.HasPrefix(b, []byte("<!doctype html>")) {
			t.Errorf("the file opened: %v", err)
		}
		fail := func(string) error { return errors.New("xdg-open: exit status 3") }
		o = gcusageOpening(t, nil, nil, fail, "report", "--demo", "--open", "--quiet", "--out", "b.html")
		if o.code != 0 || o.stderr != "gcusage: warning: could not open b.html in a browser (xdg-open: exit status 3): open it yourself\n" {
			t.Errorf("a failed opener: exit %d, stderr %q; want 0 and a warning", o.code, o.stderr)
		}
		if _, err := os.Stat("b.html"); err != nil {
			t.Errorf("the report of a failed opener: %v", err)
		}
		o = gcusageOpening(t, nil, nil, open, "report", "--demo", "--quiet", "--out", "c.html")
		if len(opened) != 1 {
			t.Errorf("opened %q without --open", opened)
		}
	})
}

// A hostile client name and template are text in the file: escaped in the
// tables, and JSON in the data element, which they cannot end. (The report
// package's browser test shows such a name inert in Chromium.)
func TestReportHostileNameIsInert(t *testing.T) {
	const evil = `</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">`
	name, _ := json.Marshal(evil)
	row := func(id string, n int) string {
		return fmt.Sprintf(`{"clientId":%q,"clientName":%s,"templateUri":%[2]s,"httpMethod":"GET","status200":%d,"status300":0,"status400":0,`+
			`"status500":0,"status429":0,"requests":%[3]d,"date":"2024-01-01T00:00:00Z"}`, id, name, n)
	}
	srv := hostile(t, http.StatusAccepted, started, row("c1", 3)+","+row("c2", 4))
	path := filepath.Join(t.TempDir(), "r.html")
	o := gcusage(t, map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": "t"}, nil, "report", "--api-url", srv.URL, "--interval", "2024-01-01/2024-01-03", "--out", path)
	if o.code != 0 {
		t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
	}
	p := readReport(t, path) // three scripts: the name ended none
	var names []string
	for _, s := range p.data.Sections[0].Requests {
		names = append(names, s.Name)
	}
	if p.totals.Requests != 7 || !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, evil) }) {
		t.Errorf("%d requests; the data's clients %q lack the hostile name", p.totals.Requests, names)
	}
	esc := template.HTMLEscapeString(evil)
	if !strings.Contains(p.html, `<span class="label">`+esc+` `) || !strings.Contains(p.html, `<td class="l tpl">`+esc+`</td>`) {
		t.Error("the tables do not show the name and the template escaped")
	}
	markup := scriptRE.ReplaceAllString(p.html, "")
	for _, bad := range []string{"<script", "<img", `onerror="`} {
		if strings.Contains(markup, bad) {
			t.Errorf("the page holds %q outside its scripts", bad)
		}
	}
}

// The header names the API host of --api-url, else the region's key.
func TestReportHost(t *testing.T) {
	f := &Factory{Getenv: func(k string) string { return map[string]string{regionVar: "mypurecloud.de"}[k] }}
	for _, tc := range []struct {
		c    ConnOptions
		want string
	}{
		{ConnOptions{}, "eu-central-1"},
		{ConnOptions{Region: "mypurecloud.ie"}, "eu-west-1"},
		{ConnOptions{Region: "us-east-1", APIURL: "https://api.example.com:8443/x"}, "api.example.com:8443"},
		{ConnOptions{Demo: true}, "in-process stub (demo data)"},
	} {
		if got := f.apiHost(&tc.c); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.c, got, tc.want)
		}
	}
}

func TestReportFlagsBindToOptions(t *testing.T) {
	f := &Factory{Getenv: func(string) string { return "" }, Stdout: io.Discard, Stderr: io.Discard, Now: clock}
	var r *ReportOptions
	cmd := NewCmdReport(f, func(o *ReportOptions) error { r = o; return nil })
	cmd.SetArgs([]string{"--since", "90d", "--until", "2024-01-01", "--out", "q.html", "--open", "--jobs", "--region", "eu-west-1", "--timeout", "1h", "--verbose"})
	if err := cmd.Execute(); err != nil || r == nil {
		t.Fatal(err)
	}
	if r.Span.Since != "90d" || r.Span.Until != "2024-01-01" || r.Out != "q.html" || !r.Open || !r.Jobs || r.Conn.Region != "eu-west-1" ||
		r.Conn.Timeout != time.Hour || !r.Conn.Verbose || r.Conn.Demo {
		t.Errorf("options %+v", r)
	}
}

// toStub sends every request to srv whatever its host, so that profiles
// whose environments name real regions and domains reach the stub without
// --api-url, and each org's section names the host of its environment.
type toStub struct{ srv *usagetest.Server }

func (s toStub) RoundTrip(r *http.Request) (*http.Response, error) {
	u, err := url.Parse(s.srv.URL)
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, u.Host
	return s.srv.Transport().RoundTrip(r)
}

// environmentsFile writes a profiles file of srv's orgs with the
// environments envs gives them.
func environmentsFile(t *testing.T, srv *usagetest.Server, envs map[string]string) string {
	t.Helper()
	var b strings.Builder
	for _, o := range srv.Orgs() {
		fmt.Fprintf(&b, "[%s]\nclient_credentials = %q\nclient_secret = %q\nenvironment = %q\n\n", o.Name, o.ClientID, o.ClientSecret, envs[o.Name])
	}
	return writeFile(t, b.String())
}

// The hosts of partnerOrgs' environments in environmentsFile.
var (
	partnerEnvs  = map[string]string{"demo-prod": "eu-west-1", "demo-test": "mypurecloud.de", "demo-sandbox": "", "globex": "usage.globex.example"}
	partnerHosts = []string{"eu-west-1", "eu-central-1", "us-east-1", "api.usage.globex.example"}
)

// wroteRE reads the note of a report written.
var wroteRE = regexp.MustCompile(`^gcusage: wrote (.+): 30 UTC days, 2023-12-09 to 2024-01-07, (\d+) requests of (\d+) OAuth clients( in .+)?, counted by the usage query, which counts billable requests only$`)

// The report of several orgs: first the section across all, whose totals
// and charts are the sum of the orgs' stub rows, with each org's clients
// apart, labelled "profile / client"; then a section per org, with the
// host of its environment, whose totals and charts are its own rows. The
// orgs run at once: no query starts until all four are posted together.
// The GENESYSCLOUD_* variables are ignored, with a note.
func TestReportOrgs(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(1, 0), usagetest.WithNow(clock), usagetest.WithOrgs(partnerOrgs()...),
			usagetest.WithFault(usagetest.RouteQuery, 0, usagetest.Barrier(4)))
		path := environmentsFile(t, srv, partnerEnvs)
		out := filepath.Join(dir, "orgs.html")
		o := gcusage(t, stubEnv(srv), toStub{srv}, "report", "--all-profiles", "--config", path, "--out", out, "--timeout", "1h")
		lines := strings.Split(strings.TrimSpace(o.stderr), "\n")
		if o.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "gcusage: note: the profiles give the credentials and the region: GENESYSCLOUD_OAUTHCLIENT_ID") {
			t.Fatalf("exit %d, stderr\n%s\nwant 0, the note of the variables ignored and the file written", o.code, o.stderr)
		}
		wrote := wroteRE.FindStringSubmatch(lines[1])
		if wrote == nil || wrote[1] != out || wrote[4] != " in 4 organizations" {
			t.Fatalf("stderr %q: want %s written, of 4 organizations", lines[1], out)
		}

		p := readReport(t, out)
		names := []string{"All organizations", "demo-prod", "demo-test", "demo-sandbox", "globex"}
		if len(p.sections) != len(names) || len(p.data.Sections) != len(names) {
			t.Fatalf("%d sections, %d drawn; want %d", len(p.sections), len(p.data.Sections), len(names))
		}
		if p.host != strings.Join(partnerHosts, ", ") || !strings.Contains(p.html, "<dt>API hosts</dt>") {
			t.Errorf("the header's hosts %q, want %q", p.host, partnerHosts)
		}
		var sum report.Counts
		sumDays := make([]report.Counts, 30)
		var clients int
		for i, sec := range p.sections {
			if sec.name != names[i] || sec.failed != "" {
				t.Errorf("section %d: %q, failed %q; want %s", i, sec.name, sec.failed, names[i])
			}
			if i == 0 {
				continue
			}
			total, days := stubDays(t, reportFirst, reportLast, srv.Org(sec.name))
			if sec.totals != total || total.Requests == 0 || sec.host != partnerHosts[i-1] {
				t.Errorf("%s: totals %+v on host %q; the stub's rows %+v, the host of its environment %q", sec.name, sec.totals, sec.host, total, partnerHosts[i-1])
			}
			checkDays(t, p, sec.id, days)
			addCounts(&sum, total)
			for d := range days {
				addCounts(&sumDays[d], days[d])
			}
			clients += len(sec.labels)
		}
		checkAgainstStub(t, p, sum, sumDays)

		// Across all, each org's clients are its own, under its name:
		// "Nightly export" of demo-prod is not demo-test's.
		all := p.sections[0].labels
		for _, l := range all {
			if org, _, ok := strings.Cut(l, " / "); !ok || !slices.Contains(names[1:], org) {
				t.Errorf("client %q across all: want its profile, then its name", l)
			}
		}
		if len(all) != clients || fmt.Sprint(clients) != wrote[3] || !slices.Contains(all, "demo-prod / Nightly export") || !slices.Contains(all, "demo-test / Nightly export") {
			t.Errorf("clients across all %q: want the %d of the orgs, said on stderr (%s)", all, clients, wrote[3])
		}
	})
}

func addCounts(to *report.Counts, c report.Counts) {
	to.Requests += c.Requests
	to.Status200 += c.Status200
	to.Status300 += c.Status300
	to.Status400 += c.Status400
	to.Status429 += c.Status429
	to.Status500 += c.Status500
}

// One profile makes the report of its org alone, as the environment's
// credentials would: no sections, the host of its environment.
func TestReportOneProfile(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(1, 0), usagetest.WithNow(clock), usagetest.WithOrgs(partnerOrgs()...))
		out := filepath.Join(dir, "globex.html")
		o := gcusage(t, nil, toStub{srv}, "report", "--profile", "globex", "--config", environmentsFile(t, srv, partnerEnvs), "--out", out)
		if m := wroteRE.FindStringSubmatch(strings.TrimSpace(o.stderr)); o.code != 0 || m == nil || m[4] != "" {
			t.Fatalf("exit %d, stderr %q; want 0 and the file written, of no organizations", o.code, o.stderr)
		}
		p := readReport(t, out)
		total, days := stubDays(t, reportFirst, reportLast, srv.Org("globex"))
		checkAgainstStub(t, p, total, days)
		if p.host != "api.usage.globex.example" || len(p.sections) != 1 || len(p.data.Sections) != 1 || strings.Contains(p.html, "globex /") {
			t.Errorf("host %q, %d sections: want globex's API host and one section, no profile in the labels", p.host, len(p.sections))
		}
	})
}

// One org failing loses nothing: the report is written with the others,
// whose sum is the section across all; the sections of the failed orgs
// say why, escaped, and count nowhere, not even the rows one got before it
// failed. Stderr ends as every command's over several profiles: a line
// per org that did not finish, why, and the command that makes its
// report alone, which works once its secret is fixed; then their count.
// Exit code 1. No secret of the file is in the page or on stderr.
func TestReportOneOrgFailing(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithNow(clock), usagetest.WithOrgs(partnerOrgs()...),
			usagetest.WithFault(usagetest.RouteQuery, 0, usagetest.Barrier(3)))
		// globex's rows by day come in whole; those by endpoint are cut short.
		srv.Org("globex").Inject(usagetest.RouteResults, 2, usagetest.TruncatedJSON())
		path := profilesFile(t, srv, map[string]string{"demo-test": "stale-secret-9d2c"})
		out := filepath.Join(dir, "orgs.html")
		o := gcusage(t, nil, srv.Transport(), at(srv, "report", "--all-profiles", "--config", path, "--out", out, "--verbose")...)
		lines := strings.Split(strings.TrimSpace(o.stderr), "\n")
		n := len(lines)
		if o.code != 1 || n < 4 || lines[n-1] != "gcusage: 2 of 4 profiles did not finish: demo-test, globex (why, and what picks each one up, above)" {
			t.Fatalf("exit %d, stderr\n%s\nwant 1, and the count of the two orgs that did not finish last", o.code, o.stderr)
		}
		if m := wroteRE.FindStringSubmatch(lines[n-4]); m == nil || m[1] != out || m[4] != " in 2 of 4 organizations" {
			t.Errorf("line %q: want %s written, of 2 of 4 organizations", lines[n-4], out)
		}
		whys := map[string]string{}
		for i, org := range []string{"demo-test", "globex"} {
			why, ok := strings.CutPrefix(lines[n-3+i], "gcusage: profile "+org+": ")
			if !ok {
				t.Fatalf("line %q: want %s's", lines[n-3+i], org)
			}
			whys[org] = why
		}
		wantWhy := map[string]string{
			"demo-test": `the query by day and OAuth client: token request failed: 401 Unauthorized: invalid_client: Bad client credentials; check client_credentials and client_secret of profile "demo-test" (` + path + `:8), and its environment; run it again with: gcusage report --interval 2023-12-09/2024-01-07 --out `,
			"globex":    "the query by endpoint: execution ",
		}
		for org, why := range whys {
			cmd, ok := strings.CutPrefix(why[strings.LastIndex(why, "; run it again with: ")+2:], "run it again with: ")
			words := shellWords(t, cmd)
			if !strings.HasPrefix(why, wantWhy[org]) || !ok || !slices.Equal(words[len(words)-2:], []string{"--profile", org}) ||
				!slices.Contains(words, filepath.Join(dir, "orgs-"+org+".html")) || !slices.Contains(words, path) || slices.Contains(words, out) {
				t.Errorf("%s: %q\nwant %q…, and the command that makes its report alone into a file of its own", org, why, wantWhy[org])
			}
		}

		p := readReport(t, out)
		if len(p.sections) != 5 || len(p.data.Sections) != 3 {
			t.Fatalf("%d sections, %d drawn: want 5, of which the 3 of all, demo-prod and demo-sandbox", len(p.sections), len(p.data.Sections))
		}
		prod, prodDays := stubDays(t, reportFirst, reportLast, srv.Org("demo-prod"))
		sandbox, sandboxDays := stubDays(t, reportFirst, reportLast, srv.Org("demo-sandbox"))
		sum := prod
		addCounts(&sum, sandbox)
		for d := range prodDays {
			addCounts(&prodDays[d], sandboxDays[d])
		}
		checkAgainstStub(t, p, sum, prodDays) // globex's rows by day count nowhere
		for _, sec := range p.sections[1:] {
			failed := whys[sec.name] != ""
			if sec.failed != whys[sec.name] || failed && (sec.totals != report.Counts{} || slices.ContainsFunc(p.data.Sections, func(c chartsData) bool { return c.ID == sec.id })) {
				t.Errorf("section %s: failed %q, totals %+v; want %q, and no chart or total", sec.name, sec.failed, sec.totals, whys[sec.name])
			}
		}
		if !strings.Contains(p.html, "<li>All organizations: 2 of 4 organizations did not finish, and count nowhere in this report: demo-test, globex (see their sections below).</li>") {
			t.Error("the page's notes do not say which orgs are missing")
		}
		for _, org := range srv.Orgs() {
			for _, secret := range []string{org.ClientSecret, "stale-secret-9d2c"} {
				if strings.Contains(p.html, secret) || strings.Contains(o.stderr, secret) {
					t.Errorf("a secret, %q, is in the page or on stderr", secret)
				}
			}
		}

		// demo-test's command, once its secret is fixed, makes its report
		// alone, which is its own rows, beside the report of the others.
		os.WriteFile(path, []byte(strings.Replace(mustRead(t, path), "stale-secret-9d2c", usagetest.DemoTestClientSecret, 1)), 0o600)
		clean := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithNow(clock), usagetest.WithOrgs(partnerOrgs()...))
		cmd := whys["demo-test"][strings.LastIndex(whys["demo-test"], "run it again with: ")+len("run it again with: "):]
		o = gcusage(t, nil, clean.Transport(), shellWords(t, cmd)[1:]...)
		if o.code != 0 || !strings.Contains(o.stderr, "gcusage: wrote "+filepath.Join(dir, "orgs-demo-test.html")+": ") {
			t.Fatalf("%s: exit %d, stderr %q", cmd, o.code, o.stderr)
		}
		alone := readReport(t, filepath.Join(dir, "orgs-demo-test.html"))
		total, days := stubDays(t, reportFirst, reportLast, clean.Org("demo-test"))
		checkAgainstStub(t, alone, total, days)
		if alone.host != p.sections[2].host || len(alone.sections) != 1 {
			t.Errorf("demo-test alone: host %q, %d sections; want its section's host %q, and one", alone.host, len(alone.sections), p.sections[2].host)
		}
	})
}

// Ctrl-C stops every org. The orgs that finished are written, if any did
// (a whole file, never a part of one); stderr names the command that makes
// each other org's report alone; the exit code is 130.
func TestReportOrgsInterrupted(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		orgs := usagetest.DemoOrgs()
		orgs[2].Running = time.Hour // demo-sandbox's queries take an hour
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithNow(clock), usagetest.WithOrgs(orgs...))
		path := profilesFile(t, srv, nil)
		run := func(out string, args ...string) ([]string, int) {
			ctx, cancel := context.WithCancelCause(t.Context())
			time.AfterFunc(time.Minute, func() { cancel(interrupted{os.Interrupt}) })
			o := gcusageIn(t, ctx, nil, srv, nil, at(srv, append([]string{"report", "--config", path, "--out", filepath.Join(dir, out), "--timeout", "0"}, args...)...)...)
			return strings.Split(strings.TrimSpace(o.stderr), "\n"), o.code
		}
		const sandbox = `^gcusage: profile demo-sandbox: the query by day and OAuth client: execution \S+: wait canceled after 1m0s: context canceled; run it again with: gcusage report --interval 2023-12-09/2024-01-07 --out \S+-demo-sandbox.html .*--profile demo-sandbox$`

		// Nothing finished: no file.
		lines, code := run("none.html", "--profile", "demo-sandbox,demo-test", "--parallel", "1")
		if code != 130 || len(lines) != 3 || !regexp.MustCompile(sandbox).MatchString(lines[0]) ||
			!strings.HasPrefix(lines[1], "gcusage: profile demo-test: not started: interrupted by interrupt; run it again with: gcusage report ") ||
			lines[2] != "gcusage: 2 of 2 profiles did not finish: demo-sandbox, demo-test (why, and what picks each one up, above)" {
			t.Errorf("exit %d, stderr\n%s\nwant 130, and each org's line and the count", code, strings.Join(lines, "\n"))
		}
		if got := ls(t, dir); len(got) != 0 {
			t.Errorf("files %q, want none", got)
		}

		// Two finished before the third: they are written.
		lines, code = run("two.html", "--all-profiles", "--parallel", "2")
		if code != 130 || len(lines) != 3 || !strings.HasPrefix(lines[0], "gcusage: wrote "+filepath.Join(dir, "two.html")+": ") ||
			!strings.Contains(lines[0], " in 2 of 3 organizations, ") || !regexp.MustCompile(sandbox).MatchString(lines[1]) ||
			lines[2] != "gcusage: 1 of 3 profiles did not finish: demo-sandbox (why, and what picks each one up, above)" {
			t.Errorf("exit %d, stderr\n%s\nwant 130, the file written, demo-sandbox's line and the count", code, strings.Join(lines, "\n"))
		}
		p := readReport(t, filepath.Join(dir, "two.html"))
		total, _ := stubDays(t, reportFirst, reportLast, srv.Org("demo-prod"), srv.Org("demo-test"))
		if p.totals != total || len(p.sections) != 4 || p.sections[3].failed == "" {
			t.Errorf("totals %+v, want demo-prod's and demo-test's %+v; sections %d, demo-sandbox's failed %q", p.totals, total, len(p.sections), p.sections[3].failed)
		}
		if got := ls(t, dir); !slices.Equal(got, []string{"two.html"}) {
			t.Errorf("files %q, want two.html alone", got)
		}
	})
}

// --demo --all-profiles needs no file: the built-in demo profiles, each a
// section of the in-process stub's orgs; --demo --profile NAME is the
// report of that org alone.
func TestReportDemoProfiles(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithNow(clock), usagetest.WithOrgs(usagetest.DemoOrgs()...))
		o := gcusage(t, nil, nil, "report", "--demo", "--all-profiles")
		lines := strings.Split(strings.TrimSpace(o.stderr), "\n")
		if o.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "gcusage: demo: report of 2023-12-09/2024-01-07") ||
			!strings.HasSuffix(wroteRE.FindStringSubmatch(lines[1])[4], " in 3 organizations") {
			t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
		}
		p := readReport(t, reportName)
		var orgs []rowsOf
		for i, org := range srv.Orgs() {
			orgs = append(orgs, org)
			sec := p.sections[i+1]
			total, days := stubDays(t, reportFirst, reportLast, org)
			if sec.name != org.Name || sec.totals != total || sec.host != "in-process stub (demo data)" {
				t.Errorf("section %d: %s, %+v, host %q; want %s's %+v on the stub", i+1, sec.name, sec.totals, sec.host, org.Name, total)
			}
			checkDays(t, p, sec.id, days)
		}
		total, days := stubDays(t, reportFirst, reportLast, orgs...)
		checkAgainstStub(t, p, total, days)

		o = gcusage(t, nil, nil, "report", "--demo", "--profile", "demo-test", "--out", "test.html", "--quiet")
		p = readReport(t, "test.html")
		total, days = stubDays(t, reportFirst, reportLast, srv.Org("demo-test"))
		if o.code != 0 || o.stderr != "" || len(p.sections) != 1 || len(p.data.Sections[0].Requests) != 2 {
			t.Errorf("--profile demo-test: exit %d, stderr %q, %d sections; want demo-test's two clients alone", o.code, o.stderr, len(p.sections))
		}
		checkAgainstStub(t, p, total, days)
	})
}
