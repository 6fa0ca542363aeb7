package report

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

var jan1 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func jan(d int) time.Time { return jan1.AddDate(0, 0, d-1) }

func newTestBuilder(t testing.TB, days int, l Limits) *Builder {
	t.Helper()
	b, err := NewBuilder(Meta{First: jan1, Last: jan(days), Host: "api.test", Service: Legacy, Made: jan(days + 1), Version: "test"}, l)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func add(t testing.TB, a Adder, k Kind, r Row) {
	t.Helper()
	if err := a.Add(k, r); err != nil {
		t.Fatal(err)
	}
}

func day1(id, name string, d int, c Counts) Row {
	return Row{ClientID: id, ClientName: name, Date: jan(d), Counts: c}
}

func TestTotalsAreTheRowsAndEmptyDaysZero(t *testing.T) {
	b := newTestBuilder(t, 5, Limits{})
	a := Counts{Requests: 10, Status200: 6, Status300: 1, Status400: 3, Status429: 2, Status500: 0}
	c := Counts{Requests: 7, Status200: 1, Status400: 4, Status429: 4, Status500: 2}
	add(t, b, ClientDay, day1("a", "A", 1, a))
	add(t, b, ClientDay, day1("b", "B", 1, c))
	add(t, b, ClientDay, day1("a", "A", 4, c))
	// A day's row need not be at midnight: its UTC day counts.
	add(t, b, ClientDay, day1("a", "A", 4, a).at(jan(4).Add(23*time.Hour)))
	s := b.Report().Sections[0]
	want := Counts{Requests: 34, Status200: 14, Status300: 2, Status400: 14, Status429: 12, Status500: 4}
	if s.Totals != want {
		t.Errorf("totals %+v, want %+v", s.Totals, want)
	}
	if len(s.Days) != 5 || s.Days[1] != (Counts{}) || s.Days[2] != (Counts{}) || s.Days[4] != (Counts{}) {
		t.Errorf("days %+v: want 5, the 2nd, 3rd and 5th zero", s.Days)
	}
	if s.Days[0].Requests != 17 || s.Days[3].Requests != 17 {
		t.Errorf("days %+v: want 17 requests on the 1st and 4th", s.Days)
	}
	if len(s.Clients) != 2 || s.Clients[0].ID != "a" || s.Clients[0].Requests != 27 || s.Clients[1].Requests != 7 {
		t.Errorf("clients %+v: want a (27 requests), then b (7)", s.Clients)
	}
	d := s.data("s0")
	if got := d.Errors[0].Data; got[0] != 1+0 || got[3] != 0+1 || got[1] != 0 {
		t.Errorf("4xx without 429 per day %v: want status400-status429 of each day, 0 without rows", got)
	}
	if got := d.Share; math.Abs(got[0]-100*6.0/17) > 1e-9 || got[1] != 0 {
		t.Errorf("429 share %v: want 6/17 on the 1st, 0 on a day without requests", got)
	}
}

func (r Row) at(t time.Time) Row { r.Date = t; return r }

func TestStacksSumToTheDayTotals(t *testing.T) {
	b := newTestBuilder(t, 30, Limits{})
	for i := range 20 {
		for d := 1; d <= 30; d++ {
			if (i+d)%7 == 0 {
				continue // days without rows
			}
			n := int64((i+1)*100 + d)
			add(t, b, ClientDay, day1(fmt.Sprintf("id%02d", i), fmt.Sprintf("client %d", i), d,
				Counts{Requests: n, Status200: n - n/10, Status400: n / 10, Status429: int64(20 - i)}))
		}
	}
	s := b.Report().Sections[0]
	d := s.data("s0")
	for _, c := range []struct {
		name   string
		series []series
		day    func(Counts) int64
	}{{"requests", d.Requests, func(c Counts) int64 { return c.Requests }}, {"429s", d.Throttled, func(c Counts) int64 { return c.Status429 }}} {
		if n := len(c.series); n != ChartClients+1 || c.series[n-1].Name != OtherClients {
			t.Fatalf("%s: %d series, the last %q: want %d clients and %q", c.name, n, c.series[n-1].Name, ChartClients, OtherClients)
		}
		for i, day := range s.Days {
			var sum int64
			for _, se := range c.series {
				sum += se.Data[i]
			}
			if sum != c.day(day) {
				t.Errorf("%s on day %d: the series sum to %d, the rows to %d", c.name, i+1, sum, c.day(day))
			}
		}
	}
	if d.Requests[0].Name != "client 19" || d.Throttled[0].Name != "client 0" {
		t.Errorf("first series %q and %q: want the client with the most requests, and with the most 429s", d.Requests[0].Name, d.Throttled[0].Name)
	}
	if len(d.Sparks) != 20 || d.Sparks[0][0] != s.series[0][0] || len(d.Sparks[0]) != 30 {
		t.Errorf("sparks: want one of 30 days per client in the table")
	}
}

func TestClientsByIDLabelledWithTheLatestName(t *testing.T) {
	b := newTestBuilder(t, 10, Limits{})
	one := Counts{Requests: 1, Status200: 1}
	for _, r := range []Row{
		day1("x", "old", 2, one), day1("x", "newest", 9, one), day1("x", "middle", 5, one),
		day1("y", "first read", 3, one), day1("y", "last read", 3, one),
		// Names repeat across ids: both get the start of their id.
		day1("aaaaaaaa-1111", "Twin", 1, one), day1("bbbbbbbb-2222", "Twin", 1, one),
		day1("z", "", 1, one), day1("", "", 1, one),
		day1("o", OtherClients, 1, one),
	} {
		add(t, b, ClientDay, r)
	}
	s := b.Report().Sections[0]
	got := map[string]string{}
	for i, c := range s.Clients {
		got[c.ID] = s.labels[i]
	}
	want := map[string]string{"x": "newest", "y": "last read", "aaaaaaaa-1111": "Twin · aaaaaaaa-…",
		"bbbbbbbb-2222": "Twin · bbbbbbbb-…", "z": "z", "": "(no client id)", "o": OtherClients + " · o"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("labels %v\nwant   %v", got, want)
	}
	if s.Clients[0].ID != "x" || s.Clients[0].Requests != 3 {
		t.Errorf("first client %+v: want x with the 3 requests of its three names", s.Clients[0])
	}
}

func TestRowsRefused(t *testing.T) {
	b := newTestBuilder(t, 3, Limits{})
	big := Counts{Requests: math.MaxInt64 - 1}
	add(t, b, ClientDay, day1("a", "A", 1, big))
	add(t, b, Endpoint, Row{TemplateURI: "api/v2/x", HTTPMethod: "GET", Counts: big})
	for _, c := range []struct {
		kind Kind
		row  Row
		want string
	}{
		{ClientDay, day1("a", "A", 2, Counts{Requests: 2}), "the sum of requests passes the largest int64"},
		{ClientDay, day1("b", "B", 2, Counts{Requests: 2}), "the sum of requests passes the largest int64"},
		{Endpoint, Row{TemplateURI: "api/v2/y", HTTPMethod: "GET", Counts: Counts{Requests: 2}}, "the sum of requests passes the largest int64"},
		{ClientDay, day1("a", "A", 2, Counts{Status429: -1}), "status429 is -1: counts are never negative"},
		{ClientDay, day1("a", "A", 4, Counts{}), "is dated 2025-01-04, outside the interval 2025-01-01 to 2025-01-03"},
		{ClientDay, day1("a", "A", 0, Counts{}), "is dated 2024-12-31, outside"},
		{ClientDay, Row{ClientID: "a"}, "has no date"},
		{Kind(9), day1("a", "A", 1, Counts{}), "unknown kind"},
	} {
		err := b.Add(c.kind, c.row)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %+v: error %v, want %q", c.kind, c.row, err, c.want)
		}
	}
	s := b.Report().Sections[0]
	if s.Totals != big || s.EndpointTotals != big || len(s.Clients) != 1 || s.Days[1] != (Counts{}) {
		t.Errorf("a refused row was counted: totals %+v, endpoints %+v, %d clients", s.Totals, s.EndpointTotals, len(s.Clients))
	}
	// A row that fits its section but not the section across all is
	// refused in both.
	sec := b.Section("org")
	if err := sec.Add(ClientDay, day1("c", "C", 1, Counts{Requests: 5})); err == nil {
		t.Error("a row past the largest int64 of the section across all was taken")
	}
	if s := b.Report().Sections[1]; s.Totals != (Counts{}) {
		t.Errorf("the section counted a row the section across all refused: %+v", s.Totals)
	}
}

func TestMetaChecked(t *testing.T) {
	ok := Meta{First: jan1, Last: jan(30), Service: Jobs}
	for _, c := range []struct {
		edit func(*Meta)
		want string
	}{
		{func(m *Meta) { m.First = time.Time{} }, "needs its first and last day"},
		{func(m *Meta) { m.Last = jan(0) }, "last day 2024-12-31 is before its first 2025-01-01"},
		{func(m *Meta) { m.Last = jan(MaxDays + 1) }, "has 3661 days; a report covers at most 3660"},
		{func(m *Meta) { m.Service = "" }, `service "": want "legacy" or "jobs"`},
	} {
		m := ok
		c.edit(&m)
		if _, err := NewBuilder(m, Limits{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", m, err, c.want)
		}
	}
	if _, err := NewBuilder(ok, Limits{Clients: -1}); err == nil {
		t.Error("negative limits were taken")
	}
	// One day, given with clocks: the clocks are ignored.
	m := Meta{First: jan1.Add(13 * time.Hour), Last: jan1.Add(time.Hour), Service: Legacy}
	if m.Days() != 1 {
		t.Errorf("%d days, want 1", m.Days())
	}
	if b, err := NewBuilder(m, Limits{}); err != nil || b.Add(ClientDay, day1("a", "A", 1, Counts{})) != nil {
		t.Errorf("a one-day report: %v", err)
	}
}

// TestClientsBounded: a server that sends more clients than the limit
// costs no more memory for them; their rows go to "other", and every
// total stays exact.
func TestClientsBounded(t *testing.T) {
	b := newTestBuilder(t, 30, Limits{Clients: 100, Endpoints: 10})
	var want Counts
	for i := range 10_000 {
		r := day1(fmt.Sprintf("client-%05d", i), strings.Repeat("n", 10_000), 1+i%30, Counts{Requests: int64(i), Status200: int64(i)})
		add(t, b, ClientDay, r)
		want.add(r.Counts)
		add(t, b, Endpoint, Row{TemplateURI: fmt.Sprintf("api/v2/t%d", i%50), HTTPMethod: "GET", Counts: Counts{Requests: 1}})
	}
	a := b.all
	if len(a.clients) != 100 || len(a.byKey) != 100 || len(a.endpoints) != 10 || len(a.byEndpoint) != 10 {
		t.Fatalf("kept %d clients (%d keys) and %d endpoints (%d keys): want 100 and 10", len(a.clients), len(a.byKey), len(a.endpoints), len(a.byEndpoint))
	}
	s := b.Report().Sections[0]
	if s.Totals != want || s.LumpedRows != 9900 || s.EndpointTotals.Requests != 10_000 {
		t.Errorf("totals %+v (want %+v), %d rows lumped (want 9900), endpoints %+v", s.Totals, want, s.LumpedRows, s.EndpointTotals)
	}
	if len(s.Clients[0].Name) > maxName {
		t.Errorf("a name of %d bytes was kept whole", len(s.Clients[0].Name))
	}
	v := s.view("s0", false)
	var sum Counts
	for _, r := range v.Table {
		sum.add(r.Counts)
	}
	sum.add(v.More.Counts)
	if sum != s.Totals || !strings.HasPrefix(v.More.Count, "more than 50 more") {
		t.Errorf("table rows sum to %+v, want the totals %+v; the other row says %q", sum, s.Totals, v.More.Count)
	}
	if len(s.Notes) != 3 || !strings.Contains(s.Notes[0], "9,900 rows") || !strings.Contains(s.Notes[1], "endpoints") {
		t.Errorf("notes %q: want the lumped clients and endpoints said, and the totals of the two queries differing", s.Notes)
	}
}

func TestLongServerTextClipped(t *testing.T) {
	b := newTestBuilder(t, 1, Limits{})
	long := strings.Repeat("é", 1<<20)
	one := Counts{Requests: 1}
	add(t, b, ClientDay, day1(long+"a", long, 1, one))
	add(t, b, ClientDay, day1(long+"b", "\xff\xfe bad", 1, one))
	add(t, b, Endpoint, Row{TemplateURI: long + "1", HTTPMethod: long, Counts: one})
	add(t, b, Endpoint, Row{TemplateURI: long + "2", HTTPMethod: long, Counts: one})
	s := b.Report().Sections[0]
	if len(s.Clients) != 2 || len(s.Endpoints) != 2 {
		t.Fatalf("%d clients and %d endpoints: two long ids that differ at their end are two", len(s.Clients), len(s.Endpoints))
	}
	for _, c := range s.Clients {
		for _, txt := range []string{c.ID, c.Name} {
			if len(txt) > maxID+maxName || !strings.HasSuffix(c.ID, "…") && len(c.ID) > maxID {
				t.Errorf("kept %d bytes of server text", len(txt))
			}
		}
	}
	if got := s.Clients[1].Name; got != "\uFFFD bad" && s.Clients[0].Name != "\uFFFD bad" {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
	for k := range b.all.byKey {
		if len(k) > maxID {
			t.Errorf("a key of %d bytes", len(k))
		}
	}
}

func TestSections(t *testing.T) {
	b := newTestBuilder(t, 2, Limits{})
	orgA, orgB := b.Section("acme"), b.Section("globex")
	if b.Section("acme") != orgA {
		t.Fatal("Section made a second section of one name")
	}
	orgA.SetHost("eu-west-1")
	orgB.SetHost("api.globex.example")
	var wg sync.WaitGroup
	for i, s := range []*Section{orgA, orgB, orgA} {
		wg.Go(func() {
			for d := 1; d <= 2; d++ {
				if err := s.Add(ClientDay, day1(fmt.Sprint("c", i), "C", d, Counts{Requests: int64(10*i + d), Status429: 1})); err != nil {
					t.Error(err)
				}
				if err := s.Add(Endpoint, Row{TemplateURI: "api/v2/x", HTTPMethod: "GET", Counts: Counts{Requests: 1}}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	r := b.Report()
	if len(r.Sections) != 3 || r.Sections[1].Name != "acme" || r.Sections[2].Name != "globex" {
		t.Fatalf("sections %d: want all, acme, globex", len(r.Sections))
	}
	all, a, g := r.Sections[0], r.Sections[1], r.Sections[2]
	if all.Totals.Requests != 3+23+43 || a.Totals.Requests != 3+43 || g.Totals.Requests != 23 || len(all.Clients) != 3 || len(a.Clients) != 2 {
		t.Errorf("requests all %d, acme %d, globex %d; clients %d and %d", all.Totals.Requests, a.Totals.Requests, g.Totals.Requests, len(all.Clients), len(a.Clients))
	}
	if all.EndpointTotals.Requests != 6 || len(all.Endpoints) != 1 || all.Endpoints[0].Requests != 6 {
		t.Errorf("endpoints across all %+v: want the one endpoint of both sections, summed", all.Endpoints)
	}
	if a.Host != "eu-west-1" || g.Host != "api.globex.example" || all.Host != "" {
		t.Errorf("hosts %q, %q, %q", all.Host, a.Host, g.Host)
	}
	v := r.page()
	if !v.Multi || v.Sections[0].Title != "All organizations" || v.Sections[1].Title != "acme" || len(v.Data.Sections) != 3 {
		t.Errorf("page of sections: multi %v, titles %q, %q", v.Multi, v.Sections[0].Title, v.Sections[1].Title)
	}
	if v.Host != "eu-west-1, api.globex.example" || v.Hosts != 2 || len(v.Orgs) != 2 || v.Orgs[0].Counts != a.Totals || v.Orgs[1].Share != "33.3 %" {
		t.Errorf("header hosts %q (%d); organizations %+v", v.Host, v.Hosts, v.Orgs)
	}
	page := render(t, r)
	for _, want := range []string{"<h2>All organizations</h2>", "<h2>acme</h2>", `id="s2-requests"`, `data-total="requests" data-value="23">23<`,
		`<dt>API hosts</dt><dd id="host">eu-west-1, api.globex.example</dd>`, `<span class="host">api.globex.example</span>`,
		`<a href="#s2">globex</a></td><td class="l">api.globex.example</td><td>1</td><td>23</td>`,
		`<td class="l">All organizations</td><td></td><td>3</td><td>69</td>`, `<span class="label">acme / C · c2</span>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page of sections lacks %s", want)
		}
	}
}

// In the section across all, each section's clients are its own: the
// same client id in two organizations is two clients, labelled by the
// section's name, so that no total merges two organizations' clients.
func TestSectionsKeepTheirClientsApart(t *testing.T) {
	b := newTestBuilder(t, 1, Limits{})
	add(t, b.Section("acme-prod"), ClientDay, day1("same-id", "CRM sync", 1, Counts{Requests: 5}))
	add(t, b.Section("acme-test"), ClientDay, day1("same-id", "CRM sync", 1, Counts{Requests: 7}))
	add(t, b.Section("acme-test"), ClientDay, day1("other", "", 1, Counts{Requests: 1}))
	all := b.Report().Sections[0]
	var got []string
	for _, c := range all.Clients {
		got = append(got, fmt.Sprintf("%s %s %d", c.Org, c.ID, c.Requests))
	}
	if strings.Join(got, ", ") != "acme-test same-id 7, acme-prod same-id 5, acme-test other 1" {
		t.Errorf("clients across all: %q", got)
	}
	if strings.Join(all.labels, ", ") != "acme-test / CRM sync, acme-prod / CRM sync, acme-test / other" {
		t.Errorf("labels %q: want the organization, then the client's name (or id)", all.labels)
	}
}

// A failed section counts nowhere, the rows it took before included: the
// section across all is the sum of the others, the page shows why it
// failed (escaped) and draws no chart of it, and the sums of the
// sections that finished may take what its rows took.
func TestFailedSection(t *testing.T) {
	b := newTestBuilder(t, 2, Limits{})
	prod, test, sandbox := b.Section("prod"), b.Section("test"), b.Section("sandbox")
	add(t, prod, ClientDay, day1("p", "P", 1, Counts{Requests: 10, Status200: 10}))
	add(t, prod, Endpoint, Row{TemplateURI: "api/v2/x", HTTPMethod: "GET", Counts: Counts{Requests: 10}})
	add(t, test, ClientDay, day1("t", "T", 2, Counts{Requests: math.MaxInt64 - 20}))
	add(t, sandbox, ClientDay, day1("s", "S", 2, Counts{Requests: 5}))
	if err := sandbox.Add(ClientDay, day1("s", "S", 2, Counts{Requests: 6})); err == nil {
		t.Fatal("a sum past the largest int64 across all was taken")
	}
	test.Fail(`token request failed: <b>401</b>`)
	if err := test.Add(ClientDay, day1("t", "T", 1, Counts{Requests: 1})); err == nil || !strings.Contains(err.Error(), `section "test" failed`) {
		t.Errorf("a failed section took a row: %v", err)
	}
	add(t, sandbox, ClientDay, day1("s", "S", 2, Counts{Requests: 6})) // fits, now that test's rows count nowhere
	r := b.Report()
	all, p, f, s := r.Sections[0], r.Sections[1], r.Sections[2], r.Sections[3]
	if f.Failed != `token request failed: <b>401</b>` || f.Totals != (Counts{}) || len(f.Clients) != 0 || test.agg != nil {
		t.Errorf("the failed section: %+v", f)
	}
	want := p.Totals
	want.add(s.Totals)
	if all.Totals != want || all.Totals.Requests != 21 || len(all.Clients) != 2 || all.EndpointTotals.Requests != 10 {
		t.Errorf("across all %+v, %d clients; want the sum of prod and sandbox, %+v", all.Totals, len(all.Clients), want)
	}
	if len(all.Notes) == 0 || !strings.Contains(all.Notes[len(all.Notes)-1], "1 of 3 organizations did not finish, and count nowhere in this report: test (see its section below)") {
		t.Errorf("notes across all %q", all.Notes)
	}
	v := r.page()
	if len(v.Data.Sections) != 3 || v.Data.Sections[2].ID != "s3" || v.Done != 2 || v.Orgs[1].Failed == "" {
		t.Errorf("the page draws sections %+v, %d done: want every one but the failed s2", v.Data.Sections, v.Done)
	}
	page := render(t, r)
	for _, want := range []string{`<section id="s2" data-section="test" class="org" data-failed="true">`,
		`<span class="why">token request failed: &lt;b&gt;401&lt;/b&gt;</span>`, `<td class="l failed" colspan="9">did not finish`,
		`<dd id="orgs">3, each in a section below the one across all; 1 did not finish</dd>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(page, `id="s2-requests"`) || strings.Contains(page, "<b>401") {
		t.Error("the failed section has charts, or its reason is not escaped")
	}
}

// The section across all keeps apart, within the builder's Limits, the
// clients and endpoints with the most requests of every section, and
// counts the others under "other": its memory is bounded as a section's.
func TestAcrossAllBounded(t *testing.T) {
	b := newTestBuilder(t, 1, Limits{Clients: 3, Endpoints: 2})
	for i, org := range []string{"a", "b"} {
		s := b.Section(org)
		for j := range 3 {
			add(t, s, ClientDay, day1(fmt.Sprint("c", j), "", 1, Counts{Requests: int64(1 + j + 10*i)}))
			if j < 2 { // two endpoints each, four in all
				add(t, s, Endpoint, Row{TemplateURI: fmt.Sprint("t", j+2*i), HTTPMethod: "GET", Counts: Counts{Requests: int64(1 + j + 10*i)}})
			}
		}
	}
	all := b.Report().Sections[0]
	var got []string
	for _, c := range all.Clients {
		got = append(got, fmt.Sprint(c.Org, c.ID, c.Requests))
	}
	if strings.Join(got, " ") != "bc213 bc112 bc011" || all.LumpedRows != 3 || all.Lumped.Requests != 1+2+3 || all.Totals.Requests != 6+36 {
		t.Errorf("clients %q, %d rows of %d requests lumped; totals %+v", got, all.LumpedRows, all.Lumped.Requests, all.Totals)
	}
	if len(all.Endpoints) != 2 || all.Endpoints[0].TemplateURI != "t3" || all.Endpoints[1].TemplateURI != "t2" ||
		all.lumpedEPRows != 2 || all.lumpedEP.Requests != 1+2 || all.EndpointTotals.Requests != 26 {
		t.Errorf("endpoints %+v, %d lumped", all.Endpoints, all.lumpedEPRows)
	}
}

func TestEndpointsRanked(t *testing.T) {
	b := newTestBuilder(t, 1, Limits{})
	for i := range 20 {
		add(t, b, Endpoint, Row{TemplateURI: fmt.Sprintf("api/v2/t%02d", i), HTTPMethod: "GET",
			Counts: Counts{Requests: int64(100 + i), Status400: int64(i % 5), Status429: int64(i % 5)}})
	}
	s := b.Report().Sections[0]
	v := s.view("s0", false)
	if len(v.ByRequest) != TableEndpoints || v.ByRequest[0].TemplateURI != "api/v2/t19" || v.ByRequest[14].TemplateURI != "api/v2/t05" {
		t.Errorf("by requests: %d, first %q", len(v.ByRequest), v.ByRequest[0].TemplateURI)
	}
	if len(v.By429) != 15 || v.By429[0].TemplateURI != "api/v2/t19" || v.By429[0].Status429 != 4 || v.By429[14].Status429 != 1 {
		t.Errorf("by 429s: %d, first %+v", len(v.By429), v.By429[0])
	}
	for _, e := range s.endpointsBy429 {
		if e.Status429 == 0 {
			t.Errorf("%q has no 429 and is ranked by 429s", e.TemplateURI)
		}
	}
}

func TestNumbers(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", math.MaxInt64: "9,223,372,036,854,775,807"} {
		if got := num(n); got != want {
			t.Errorf("num(%d) = %q, want %q", n, got, want)
		}
	}
	for _, c := range []struct {
		a, b int64
		want string
	}{{0, 0, "–"}, {0, 5, "0 %"}, {1, 3, "33.3 %"}, {1, 10_000, "<0.1 %"}, {5, 5, "100.0 %"}} {
		if got := pct(c.a, c.b); got != c.want {
			t.Errorf("pct(%d, %d) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}
