package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Names a hostile server could send, which the page must show as text.
var hostile = []string{
	`</script><script>window.__pwned=1</script>`,
	`<img src=x onerror="window.__pwned=2">`,
	`"><svg onload=window.__pwned=3>`,
	`{{.CSP}}`,
	`\u003c/script>'"` + "\u2028",
}

func hostileReport(t testing.TB) *Report {
	b := newTestBuilder(t, 3, Limits{})
	for i, name := range hostile {
		for d := 1; d <= 3; d++ {
			add(t, b, ClientDay, day1(name+fmt.Sprint(i), name, d, Counts{Requests: int64(10 + i), Status400: 2, Status429: 1}))
		}
		add(t, b, Endpoint, Row{TemplateURI: name, HTTPMethod: name, Counts: Counts{Requests: 30 + 3*int64(i), Status429: 3}})
	}
	return b.Report()
}

func render(t testing.TB, r *Report) string {
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

var scripts = regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script`)

func TestHostileTextIsInert(t *testing.T) {
	page := render(t, hostileReport(t))
	// The markup, less the library's and the code's own text.
	low := strings.ToLower(strings.NewReplacer(echartsJS, "", appJS, "").Replace(page))
	if n := strings.Count(low, "<script"); n != 3 {
		t.Errorf("%d <script> elements, want 3 (data, library, code)", n)
	}
	for _, bad := range []string{"<img", "<svg", `onerror="`} {
		if strings.Contains(low, bad) {
			t.Errorf("the page holds %q as markup", bad)
		}
	}
	m := scripts.FindAllStringSubmatch(page, -1)
	if len(m) != 3 || !strings.Contains(m[0][1], `type="application/json"`) {
		t.Fatalf("scripts %d: want the data first, as application/json", len(m))
	}
	var data pageData
	if err := json.Unmarshal([]byte(m[0][2]), &data); err != nil {
		t.Fatalf("the data is not JSON: %v", err)
	}
	var names []string
	for _, s := range data.Sections[0].Requests {
		names = append(names, s.Name)
	}
	for _, name := range hostile {
		found := false
		for _, n := range names {
			found = found || n == name
		}
		if !found {
			t.Errorf("the data lost the name %q: %q", name, names)
		}
		// In the tables it is text: html/template escaped each < and ".
		if esc := template.HTMLEscapeString(name); !strings.Contains(page, `<span class="label">`+esc+`</span>`) {
			t.Errorf("the table does not show %q escaped as %q", name, esc)
		}
	}
	// Exactly the library and the code may run: the policy names their
	// hashes, and html/template inserted both unchanged.
	csp := regexp.MustCompile(`http-equiv="Content-Security-Policy" content="([^"]*)"`).FindStringSubmatch(page)
	if csp == nil {
		t.Fatal("no Content-Security-Policy")
	}
	policy := strings.ReplaceAll(csp[1], "&#39;", "'")
	for i, s := range []string{echartsJS, appJS} {
		if m[i+1][2] != s {
			t.Errorf("script %d was changed on its way into the page", i+1)
		}
		h := sha256.Sum256([]byte(m[i+1][2]))
		if !strings.Contains(policy, "'sha256-"+base64.StdEncoding.EncodeToString(h[:])+"'") {
			t.Errorf("script %d's hash is not in the policy %q", i+1, policy)
		}
	}
	for _, d := range []string{"default-src 'none'", "img-src data:", "base-uri 'none'"} {
		if !strings.Contains(policy, d) {
			t.Errorf("policy %q lacks %q", policy, d)
		}
	}
}

func TestPageShowsTheTotals(t *testing.T) {
	r := hostileReport(t)
	page := render(t, r)
	tot := r.Sections[0].Totals
	for name, v := range map[string]int64{"requests": tot.Requests, "status200": tot.Status200, "status400": tot.Status400, "status429": tot.Status429, "status500": tot.Status500} {
		if want := fmt.Sprintf(`data-total="%s" data-value="%d">%s`, name, v, num(v)); !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	for _, want := range []string{"2025-01-01 to 2025-01-03, 3 full UTC days", "api.test", "billable requests only", "2025-01-04 00:00 UTC by gcusage test",
		"Apache ECharts " + strings.TrimSpace(echartsVersion), "Licensed to the Apache Software Foundation"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// TestSize90DaysBy50Clients: the file a large report makes stays far
// under 5 MB, whatever the count of clients, since the page shows the top
// ones only.
func TestSize90DaysBy50Clients(t *testing.T) {
	for _, clients := range []int{50, 500} {
		b := newTestBuilder(t, 90, Limits{})
		for i := range clients {
			for d := 1; d <= 90; d++ {
				add(t, b, ClientDay, day1(fmt.Sprintf("2b9c8f4e-1d3a-4c5b-8e7f-%012d", i), fmt.Sprintf("Integration number %d", i), d,
					Counts{Requests: 123456 + int64(i*d), Status200: 120000, Status400: 3000 + int64(d), Status429: 1000 + int64(i), Status500: 12}))
			}
		}
		for i := range 500 {
			add(t, b, Endpoint, Row{TemplateURI: fmt.Sprintf("api/v2/analytics/conversations/%d/details/query", i), HTTPMethod: "POST", Counts: Counts{Requests: int64(i), Status429: int64(i % 7)}})
		}
		n := len(render(t, b.Report()))
		t.Logf("90 days x %d clients: %d bytes (%.2f MB)", clients, n, float64(n)/(1<<20))
		if n > 5<<20 {
			t.Errorf("90 days x %d clients make %d bytes, want under 5 MB", clients, n)
		}
	}
}

func TestWriteNewNeverLeavesAHalfFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.html")
	boom := errors.New("disk full")
	err := writeNew(path, func(w io.Writer) error {
		io.WriteString(w, "<!doctype html><half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want the write's", err)
	}
	if left := ls(t, dir); len(left) != 0 {
		t.Fatalf("a failed write left %q", left)
	}
	if err := CheckPath(path); err != nil {
		t.Errorf("CheckPath of a new file: %v", err)
	}
	if err := WriteFile(path, hostileReport(t)); err != nil {
		t.Fatal(err)
	}
	if err := CheckPath(path); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("CheckPath of an existing file: %v", err)
	}
	if err := CheckPath(filepath.Join(dir, "no", "x.html")); err == nil || !strings.Contains(err.Error(), "is not a directory that exists") {
		t.Errorf("CheckPath in a missing directory: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 || fi.Size() < 500_000 {
		t.Fatalf("the report: %v, mode %v, %d bytes", err, fi.Mode(), fi.Size())
	}
	// An existing file is never replaced, and nothing else is left.
	before, _ := os.ReadFile(path)
	err = WriteFile(path, hostileReport(t))
	if err == nil || !strings.Contains(err.Error(), "r.html exists: choose another file") {
		t.Errorf("writing over a file: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the existing file was changed")
	}
	// Even when it appears while the report is written.
	late := filepath.Join(dir, "late.html")
	err = writeNew(late, func(w io.Writer) error {
		io.WriteString(w, "new")
		return os.WriteFile(late, []byte("theirs"), 0o644)
	})
	if got, _ := os.ReadFile(late); err == nil || string(got) != "theirs" {
		t.Errorf("a file made during the write: error %v, content %q", err, got)
	}
	if left := ls(t, dir); len(left) != 2 {
		t.Errorf("files left: %q, want r.html and late.html", left)
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir.html"), hostileReport(t)); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func ls(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestLibraryPinned: the embedded library is the version assets/ pins,
// and can be inlined. (make check-generate checks it is the very file.)
func TestLibraryPinned(t *testing.T) {
	var pkg struct{ Dependencies map[string]string }
	var lock struct {
		Packages map[string]struct{ Version string }
	}
	for f, v := range map[string]any{"assets/package.json": &pkg, "assets/package-lock.json": &lock} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	v := strings.TrimSpace(echartsVersion)
	if pkg.Dependencies["echarts"] != v || lock.Packages["node_modules/echarts"].Version != v {
		t.Errorf("lib/ holds echarts %s; package.json pins %q, the lock %q", v, pkg.Dependencies["echarts"], lock.Packages["node_modules/echarts"].Version)
	}
	if !strings.Contains(echartsJS, `version="`+v+`"`) {
		t.Errorf("lib/echarts.min.js is not echarts %s", v)
	}
	for _, s := range []string{echartsJS, appJS} {
		low := strings.ToLower(s)
		for _, bad := range []string{"</script", "<!--", "<script"} {
			if strings.Contains(low, bad) {
				t.Errorf("an inline script holds %q", bad)
			}
		}
	}
}
