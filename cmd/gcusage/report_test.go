package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
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
// and the data its charts draw.
type reportPage struct {
	html   string
	totals report.Counts // the header's
	host   string
	data   struct {
		Days     []string `json:"days"`
		Sections []struct {
			Requests, Throttled, Errors []struct {
				Name string  `json:"name"`
				Data []int64 `json:"data"`
			}
		} `json:"sections"`
	}
}

var (
	scriptRE = regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script`)
	totalRE  = regexp.MustCompile(`data-total="(\w+)" data-value="(-?\d+)"`)
	hostRE   = regexp.MustCompile(`<dd id="host">([^<]*)</dd>`)
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
	fields := map[string]*int64{"requests": &p.totals.Requests, "status200": &p.totals.Status200, "status300": &p.totals.Status300,
		"status400": &p.totals.Status400, "status429": &p.totals.Status429, "status500": &p.totals.Status500}
	for _, m := range totalRE.FindAllStringSubmatch(p.html, 6) { // the header's six
		*fields[m[1]], _ = strconv.ParseInt(m[2], 10, 64)
	}
	if m := hostRE.FindStringSubmatch(p.html); m != nil {
		p.host = template.HTMLEscapeString(m[1])
	}
	return p
}

// stubDays are the stub's own rows of the report's query by day and OAuth
// client, summed over the interval and per day.
func stubDays(t *testing.T, srv *usagetest.Server, first, last string) (total report.Counts, days []report.Counts) {
	t.Helper()
	f, _ := time.Parse(time.DateOnly, first)
	l, _ := time.Parse(time.DateOnly, last)
	q, _ := report.Queries(f, l)
	rows, err := srv.Rows(gen.APIUsageQuery{Interval: q.Interval, Granularity: &q.Granularity, GroupBy: q.GroupBy})
	if err != nil {
		t.Fatal(err)
	}
	days = make([]report.Counts, int(l.Sub(f)/(24*time.Hour))+1)
	add := func(to *report.Counts, c report.Counts) {
		to.Requests += c.Requests
		to.Status200 += c.Status200
		to.Status300 += c.Status300
		to.Status400 += c.Status400
		to.Status429 += c.Status429
		to.Status500 += c.Status500
	}
	for r := range rows {
		c := report.FromUsageRow(r).Counts
		add(&total, c)
		add(&days[int(r.Date.Sub(f)/(24*time.Hour))], c)
	}
	return total, days
}

// checkAgainstStub compares the page with the stub's rows: the header's
// totals, and each day's stacks of requests and 429s and its errors.
func checkAgainstStub(t *testing.T, p reportPage, total report.Counts, days []report.Counts) {
	t.Helper()
	if total.Requests == 0 || p.totals != total {
		t.Errorf("the header's totals %+v, the stub's rows %+v", p.totals, total)
	}
	s := p.data.Sections[0]
	if len(p.data.Days) != len(days) || len(s.Errors) != 2 {
		t.Fatalf("%d days and %d error series, want %d and 2", len(p.data.Days), len(s.Errors), len(days))
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
			t.Errorf("%s: requests %d, 429 %d, errors %d and %d; the stub's %+v", p.data.Days[i], req, tooMany, s.Errors[0].Data[i], s.Errors[1].Data[i], d)
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
		total, days := stubDays(t, srv, reportFirst, reportLast)
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
		total, days = stubDays(t, srv, "2024-01-01", reportLast)
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
		total, days := stubDays(t, srv, reportFirst, reportLast)
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
