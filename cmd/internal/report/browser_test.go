//go:build browser

// The report in a real browser: headless Chromium, driven by chromedp.
// Run it with `make test-browser` (go test -tags browser); it fails, and
// says how to install Chromium, where there is none.

package report

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gcusage/gcusage/usagetest"
)

// chromium is the browser to run: $CHROMIUM, or chromium on the PATH.
func chromium(t *testing.T) string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the browser test needs Chromium, and none is on the PATH: install it (Debian: apt-get install -y chromium) or set CHROMIUM to its path")
	return ""
}

// The hostile name the stub's "Wallboard" gets on its way to the client.
const evil = `</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">`

// renameWallboard rewrites the stub's answers as a hostile server would:
// its client "Wallboard" comes back named evil.
type renameWallboard struct{ http.RoundTripper }

func (r renameWallboard) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.RoundTripper.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "/results") {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	name, _ := json.Marshal(evil)
	b = bytes.ReplaceAll(b, []byte(`"clientName":"Wallboard"`), append([]byte(`"clientName":`), name...))
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func rename(name string) string {
	if name == "Wallboard" {
		return evil
	}
	return name
}

// What the page says of itself, read by inspectJS.
type inspected struct {
	Ready    string           `json:"ready"`
	Pwned    *string          `json:"pwned"`
	Images   int              `json:"images"`
	Script   int              `json:"scripts"`
	Totals   map[string]total `json:"totals"`
	Labels   []string         `json:"labels"`
	Charts   []drawn          `json:"charts"`
	Sections []shownSection   `json:"sections"`
}

// shownSection is a section of the page as it shows.
type shownSection struct {
	ID     string           `json:"id"`
	Name   string           `json:"name"`
	Height float64          `json:"height"`
	Host   string           `json:"host"`
	Why    string           `json:"why"`
	Totals map[string]total `json:"totals"`
	Labels []string         `json:"labels"`
}

type total struct {
	Value string `json:"value"`
	Text  string `json:"text"`
}

type drawn struct {
	ID     string  `json:"id"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	Shapes int     `json:"shapes"`
	Series []struct {
		Name string    `json:"name"`
		Type string    `json:"type"`
		Data []float64 `json:"data"`
	} `json:"series"`
}

// inspectJS asks each chart's ECharts instance for its series, and the
// page for its header totals and table labels.
const inspectJS = `(() => {
	const q = (s) => [...document.querySelectorAll(s)];
	const totalsOf = (els) => Object.fromEntries(els.map((el) => [el.dataset.total, {value: el.dataset.value, text: el.textContent}]));
	const totals = totalsOf(q('header [data-total]'));
	const text = (el) => (el ? el.textContent : '');
	return {
		sections: q('section[data-section]').map((s) => ({
			id: s.id, name: s.dataset.section, height: s.getBoundingClientRect().height,
			host: text(s.querySelector('.host')), why: text(s.querySelector('.why')),
			totals: totalsOf([...s.querySelectorAll('.totals [data-total]')]),
			labels: [...s.querySelectorAll('tr[data-row=client] .label')].map((e) => e.textContent),
		})),
		ready: document.documentElement.dataset.ready || '',
		pwned: window.__pwned === undefined ? null : String(window.__pwned),
		images: q('img, image, iframe, object, embed').length,
		scripts: q('script').length,
		totals,
		labels: q('#s0-clients tr[data-row=client] .label').map((e) => e.textContent),
		charts: q('[data-chart], [data-spark]').map((el) => {
			const c = echarts.getInstanceByDom(el);
			const r = el.getBoundingClientRect();
			return {
				id: el.id, width: r.width, height: r.height,
				shapes: el.querySelectorAll('svg path, svg rect').length,
				series: c ? c.getOption().series.map((s) => ({name: s.name || '', type: s.type, data: s.data})) : null,
			};
		}),
	};
})()`

func TestBrowser(t *testing.T) {
	started := time.Now()
	exe := chromium(t)
	srv, clean := stubClient(t, usagetest.Population{Clients: 12}, nil)
	orgs, orgsReport := stubOrgsReport(t, evil)
	dir := t.TempDir()
	pages := map[string]*Report{
		"clean.html":   stubReport(t, clean, Legacy, 30, 1),
		"hostile.html": stubReport(t, stubClientOf(t, srv, func(rt http.RoundTripper) http.RoundTripper { return renameWallboard{rt} }), Legacy, 30, 1),
		"orgs.html":    orgsReport,
	}
	for name, r := range pages {
		if err := WriteFile(filepath.Join(dir, name), r); err != nil {
			t.Fatal(err)
		}
	}

	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true))
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	seen := watch(ctx)

	t.Run("orgs", func(t *testing.T) {
		checkOrgsPage(t, load(t, ctx, filepath.Join(dir, "orgs.html")), orgs, orgsReport)
	})
	for _, name := range []string{"hostile.html", "clean.html"} {
		t.Run(strings.TrimSuffix(name, ".html"), func(t *testing.T) {
			r := pages[name]
			ren := rename
			if name == "clean.html" {
				ren = nil
			}
			want := stubExpected(t, srv, r.Meta, ren)
			got := load(t, ctx, filepath.Join(dir, name))
			checkPage(t, got, want, r)
			if name == "hostile.html" {
				checkHostile(t, ctx, got)
				return
			}
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(shot))
			if err != nil || img.Bounds().Dx() < 1000 || img.Bounds().Dy() < 2000 {
				t.Fatalf("screenshot: %v, %v", err, img.Bounds())
			}
			path := cmp.Or(os.Getenv("REPORT_SCREENSHOT"), filepath.Join(dir, "report.png"))
			if err := os.WriteFile(path, shot, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot %v in %s", img.Bounds().Size(), path)
		})
	}

	// Nothing but the files was asked for, and the console stayed
	// quiet: no error, no warning (a refusal of the page's policy is one).
	requests, messages := seen()
	for _, u := range requests {
		if !strings.HasPrefix(u, "file://"+dir+"/") {
			t.Errorf("the page asked for %s", u)
		}
	}
	if len(requests) != len(pages) {
		t.Errorf("requests %q: want the %d files only", requests, len(pages))
	}
	for _, m := range messages {
		t.Errorf("console %s", m)
	}
	t.Logf("the browser test took %v", time.Since(started).Round(time.Millisecond))
}

// load opens the file at path and says what it shows.
func load(t *testing.T, ctx context.Context, path string) inspected {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate((&url.URL{Scheme: "file", Path: path}).String())); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[inspected](inspectJS))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// watch records every request the pages send and every console message of
// a kind worse than info, from now until the returned function is called.
func watch(ctx context.Context) func() (requests, messages []string) {
	ctx, stop := context.WithCancel(ctx)
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		req, msg []string
	)
	sent, console := chromedp.Events(ctx, network.RequestWillBeSent), chromedp.Console(ctx)
	wg.Go(func() {
		for ev, err := range sent {
			if err != nil {
				return
			}
			mu.Lock()
			req = append(req, ev.Request.URL)
			mu.Unlock()
		}
	})
	wg.Go(func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				mu.Lock()
				msg = append(msg, m.String())
				mu.Unlock()
			}
		}
	})
	return func() ([]string, []string) {
		stop()
		wg.Wait()
		return req, msg
	}
}

func checkPage(t *testing.T, got inspected, want expected, r *Report) {
	t.Helper()
	if got.Ready != "true" {
		t.Fatalf("the page's code did not finish: ready %q", got.Ready)
	}
	// The header's totals are the stub's, as numbers and as text.
	w := want.totals
	for name, v := range map[string]int64{"requests": w.Requests, "status200": w.Status200, "status300": w.Status300,
		"status400": w.Status400, "status429": w.Status429, "status500": w.Status500} {
		g := got.Totals[name]
		if g.Value != fmt.Sprint(v) || !strings.HasPrefix(g.Text, num(v)) {
			t.Errorf("total %s on the page: %q, %q; the stub's %d", name, g.Value, g.Text, v)
		}
	}
	// The table lists every client, most requests first, by its name.
	ids := make([]string, 0, len(want.clients))
	for id := range want.clients {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(cmp.Compare(want.clients[b].Requests, want.clients[a].Requests), cmp.Compare(a, b))
	})
	var names []string
	for _, id := range ids {
		names = append(names, want.names[id])
	}
	if !slices.Equal(got.Labels, names) {
		t.Errorf("table clients %q\nthe stub's, by requests %q", got.Labels, names)
	}
	days := r.Meta.Days()
	charts := map[string]drawn{}
	for _, c := range got.Charts {
		if c.Width <= 0 || c.Height <= 0 || c.Shapes == 0 || c.Series == nil {
			t.Errorf("chart %s drawn %vx%v with %d shapes", c.ID, c.Width, c.Height, c.Shapes)
		}
		charts[c.ID] = c
	}
	if len(got.Charts) != 3+len(ids) {
		t.Errorf("%d charts, want 3 and a sparkline per client (%d)", len(got.Charts), len(ids))
	}
	// One series per client shown, and the others; the stacks add up to
	// the stub's day totals.
	stacks := []struct {
		id    string
		top   []string
		day   func(Counts) int64
		extra int
	}{
		{"s0-requests", names[:ChartClients], func(c Counts) int64 { return c.Requests }, 0},
		{"s0-throttled", by429(want), func(c Counts) int64 { return c.Status429 }, 1},
	}
	for _, s := range stacks {
		c := charts[s.id]
		var got []string
		for _, se := range c.Series {
			got = append(got, se.Name)
		}
		wantNames := append(slices.Clone(s.top), OtherClients)
		if s.extra == 1 {
			wantNames = append(wantNames, "429 share")
		}
		if !slices.Equal(got, wantNames) {
			t.Errorf("%s: series %q\nwant %q", s.id, got, wantNames)
			continue
		}
		for i := range days {
			var sum float64
			for _, se := range c.Series[:len(c.Series)-s.extra] {
				sum += se.Data[i]
			}
			if int64(sum) != s.day(want.days[i]) {
				t.Errorf("%s, day %d: the series sum to %v, the stub's rows to %d", s.id, i, sum, s.day(want.days[i]))
			}
		}
	}
	errs := charts["s0-errors"]
	if len(errs.Series) != 2 {
		t.Fatalf("errors chart: %d series", len(errs.Series))
	}
	for i, d := range want.days {
		if int64(errs.Series[0].Data[i]) != d.Status400-d.Status429 || int64(errs.Series[1].Data[i]) != d.Status500 {
			t.Errorf("errors chart, day %d: %v and %v, the stub's %d and %d", i, errs.Series[0].Data[i], errs.Series[1].Data[i], d.Status400-d.Status429, d.Status500)
		}
	}
	for i, id := range ids {
		var sum float64
		for _, v := range charts[fmt.Sprintf("s0-spark-%d", i)].Series[0].Data {
			sum += v
		}
		if int64(sum) != want.clients[id].Requests {
			t.Errorf("sparkline of %q sums to %v, the stub's %d", names[i], sum, want.clients[id].Requests)
		}
	}
}

// by429 names the clients with the most 429s, as the 429 chart does.
func by429(want expected) []string {
	var ids []string
	for id, c := range want.clients {
		if c.Status429 > 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		x, y := want.clients[a], want.clients[b]
		return cmp.Or(cmp.Compare(y.Status429, x.Status429), cmp.Compare(y.Requests, x.Requests), cmp.Compare(a, b))
	})
	var names []string
	for _, id := range ids[:min(ChartClients, len(ids))] {
		names = append(names, want.names[id])
	}
	return names
}

// checkHostile: the hostile name is text everywhere, in the table, the
// legend and a tooltip, and no script of it ran.
func checkHostile(t *testing.T, ctx context.Context, got inspected) {
	t.Helper()
	if !slices.Contains(got.Labels, evil) {
		t.Errorf("the table does not show %q literally: %q", evil, got.Labels)
	}
	tip, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`(() => {
		const el = document.getElementById('s0-requests');
		const c = echarts.getInstanceByDom(el);
		const i = c.getOption().series.findIndex((s) => s.name === `+jsString(evil)+`);
		c.dispatchAction({type: 'showTip', seriesIndex: i, dataIndex: 3});
		return {
			index: i,
			legend: [...el.querySelectorAll('svg text')].some((e) => e.textContent.includes('</script>')),
			tooltip: [...el.querySelectorAll('div')].map((d) => d.innerText).join('\n'),
			images: document.querySelectorAll('img, image').length,
			pwned: window.__pwned === undefined ? null : String(window.__pwned),
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Pwned != nil || tip["pwned"] != nil {
		t.Errorf("the hostile name ran: window.__pwned is %v, %v", *got.Pwned, tip["pwned"])
	}
	if got.Images != 0 || tip["images"] != float64(0) || got.Script != 3 {
		t.Errorf("the hostile name made markup: %d images, then %v; %d scripts (want 3)", got.Images, tip["images"], got.Script)
	}
	if tip["index"] == float64(-1) || tip["legend"] != true || !strings.Contains(fmt.Sprint(tip["tooltip"]), evil) {
		t.Errorf("the chart does not show the hostile name as text: series %v, legend %v, tooltip %q", tip["index"], tip["legend"], tip["tooltip"])
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// checkOrgsPage: a report of several orgs shows the section across all,
// then one per org, each with its name and host, and a chart set per
// section that finished, each chart drawn with a non-zero size, whose
// stacks are its org's stub rows, or their sum across all, as are the
// totals; the failed section shows why, as text, and no chart.
func checkOrgsPage(t *testing.T, got inspected, srv *usagetest.Server, r *Report) {
	t.Helper()
	if got.Ready != "true" || got.Pwned != nil || got.Images != 0 || got.Script != 3 {
		t.Fatalf("ready %q, pwned %v, %d images, %d scripts: want the code done, the hostile reason inert", got.Ready, got.Pwned, got.Images, got.Script)
	}
	names := []string{"All organizations", "demo-prod", "demo-test", "demo-sandbox", "globex"}
	if len(got.Sections) != len(names) {
		t.Fatalf("%d sections, want %d", len(got.Sections), len(names))
	}
	charts := map[string]drawn{}
	for _, c := range got.Charts {
		if c.Width <= 0 || c.Height <= 0 || c.Shapes == 0 || c.Series == nil {
			t.Errorf("chart %s drawn %vx%v with %d shapes", c.ID, c.Width, c.Height, c.Shapes)
		}
		charts[c.ID] = c
	}
	wants := map[string]expected{}
	sum := expected{days: make([]Counts, r.Meta.Days())}
	for _, org := range srv.Orgs() {
		w := stubExpected(t, org, r.Meta, nil)
		wants[org.Name] = w
		sum.totals.add(w.totals)
		for d := range w.days {
			sum.days[d].add(w.days[d])
		}
	}
	wants[""] = sum
	var spark int
	for i, sec := range got.Sections {
		id := fmt.Sprintf("s%d", i)
		if sec.ID != id || sec.Name != names[i] || sec.Height <= 0 {
			t.Errorf("section %d: %s %q, %v high; want %s %q", i, sec.ID, sec.Name, sec.Height, id, names[i])
		}
		if sec.Name == "globex" {
			if sec.Why != evil || sec.Host != "api.globex.example" || len(sec.Totals) != 0 || charts[id+"-requests"].ID != "" {
				t.Errorf("the failed section: why %q, host %q, %d totals, charts %v: want the reason as text, no total, no chart", sec.Why, sec.Host, len(sec.Totals), charts[id+"-requests"].ID)
			}
			continue
		}
		org := ""
		if i > 0 {
			org = sec.Name
		}
		want := wants[org]
		totals := sec.Totals
		if i == 0 {
			totals = got.Totals // the header's
		} else if sec.Host != "api."+org+".example" {
			t.Errorf("%s: host %q", org, sec.Host)
		}
		w := want.totals
		for name, v := range map[string]int64{"requests": w.Requests, "status200": w.Status200, "status300": w.Status300,
			"status400": w.Status400, "status429": w.Status429, "status500": w.Status500} {
			if g := totals[name]; g.Value != fmt.Sprint(v) || !strings.HasPrefix(g.Text, num(v)) {
				t.Errorf("%s: total %s on the page %q, %q; the stub's %d", sec.Name, name, g.Value, g.Text, v)
			}
		}
		for _, kind := range []string{"requests", "throttled", "errors"} {
			if _, ok := charts[id+"-"+kind]; !ok {
				t.Errorf("%s: no %s chart", sec.Name, kind)
			}
		}
		for d, day := range want.days {
			var req float64
			for _, se := range charts[id+"-requests"].Series {
				req += se.Data[d]
			}
			if int64(req) != day.Requests {
				t.Errorf("%s, day %d: the stack sums to %v, the stub's %d", sec.Name, d, req, day.Requests)
			}
		}
		if i == 0 {
			for _, l := range sec.Labels {
				if o, _, ok := strings.Cut(l, " / "); !ok || !slices.Contains(names[1:4], o) {
					t.Errorf("client %q across all: want its org, then its name", l)
				}
			}
		}
		spark += len(sec.Labels)
	}
	if len(got.Charts) != 3*4+spark {
		t.Errorf("%d charts, want 3 for each of the 4 sections drawn and %d sparklines", len(got.Charts), spark)
	}
}
