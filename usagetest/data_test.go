package usagetest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// rowKeys are the keys of a real row, in the real order.
var rowKeys = []string{"clientId", "clientName", "organizationId", "userId", "templateUri", "httpMethod",
	"status200", "status300", "status400", "status500", "status429", "requests", "date"}

var utcDate = regexp.MustCompile(`^\d{4}-\d\d-\d\dT00:00:00Z$`)

// keysOf returns the keys of each row of a results body, in order.
func keysOf(t testing.TB, body []byte) [][]string {
	t.Helper()
	var raw struct{ Results []json.RawMessage }
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, r := range raw.Results {
		d := json.NewDecoder(bytes.NewReader(r))
		d.Token() // {
		var keys []string
		for d.More() {
			k, _ := d.Token()
			keys = append(keys, k.(string))
			var v any
			d.Decode(&v)
		}
		out = append(out, keys)
	}
	return out
}

func TestRows(t *testing.T) {
	pop := usagetest.Population{Clients: 7, Organizations: 2}
	s := usagetest.NewServer(t, usagetest.WithPopulation(pop), usagetest.WithRunning(0, 0))
	c := newClient(t, s, false)
	for _, tc := range []struct {
		query   string
		dated   bool
		grouped []string // the dimensions that are set; the others are ""
	}{
		{`{"interval":"2024-01-01T00:00:00.000Z/2024-01-04T00:00:00.000Z","granularity":"Day","groupBy":["OAuthClientId"]}`,
			true, []string{"clientId", "clientName"}},
		{`{"interval":"2024-01-03/2024-01-20","granularity":"Week","groupBy":["UserId","HttpMethod"],"metrics":["Status429","Requests"]}`,
			true, []string{"userId", "httpMethod"}},
		{`{"interval":"2024-01-15T12:00:00+02:00/2024-03-02","granularity":"Month","metrics":["Status200"]}`,
			true, []string{"clientId", "clientName"}},
		{`{"interval":"2023-12-31T23:00:00-02:00/2024-01-01T12:00:00Z","groupBy":["OrganizationId","TemplateUri","OrganizationId"]}`,
			false, []string{"organizationId", "templateUri"}},
		{`{"interval":"2024-01/2024-02"}`, false, []string{"clientId", "clientName"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			_, e := c.post(tc.query)
			res, body := c.poll(*e.ExecutionID)
			if res.StatusCode != 200 || !bytes.HasPrefix(body, []byte(`{"results":[{"clientId":`)) ||
				!bytes.HasSuffix(body, []byte(`}],"queryStatus":"Complete"}`)) {
				t.Fatalf("%d %.80s...%s: want rows first and queryStatus Complete last", res.StatusCode, body, body[max(0, len(body)-40):])
			}
			want := rowKeys
			if !tc.dated {
				want = rowKeys[:len(rowKeys)-1]
			}
			for i, keys := range keysOf(t, body) {
				if !slices.Equal(keys, want) {
					t.Fatalf("row %d has keys %v, want %v", i, keys, want)
				}
			}
			var result struct{ Results []map[string]any }
			if err := json.Unmarshal(body, &result); err != nil {
				t.Fatal(err)
			}
			if len(result.Results) == 0 {
				t.Fatal("no rows")
			}
			q := mustQuery(t, tc.query)
			seen := map[string]bool{}
			for i, row := range result.Results {
				for _, k := range rowKeys[:6] {
					if set := row[k] != ""; set != slices.Contains(tc.grouped, k) {
						t.Errorf("row %d: %s is %q; want it set only when grouped by", i, k, row[k])
					}
				}
				for _, k := range rowKeys[6:12] {
					asked := len(q.Metrics) == 0 || slices.ContainsFunc(q.Metrics, func(m gen.Metric) bool { return strings.EqualFold(string(m), k) })
					if v := row[k].(float64); !asked && v != 0 {
						t.Errorf("row %d: %s is %v; want 0 when not asked for", i, k, v)
					}
				}
				if d, _ := row["date"].(string); tc.dated && !utcDate.MatchString(d) {
					t.Errorf("row %d: date %v, want UTC midnight without a fraction", i, row["date"])
				}
				key := fmt.Sprint(row["date"], row["clientId"], row["userId"], row["organizationId"], row["templateUri"], row["httpMethod"])
				if seen[key] {
					t.Errorf("row %d repeats the bucket and group %s", i, key)
				}
				seen[key] = true
			}
			if got, want := reencode(t, result.Results), reencode(t, rowsOf(t, s, tc.query)); got != want {
				t.Errorf("Rows disagrees with the results endpoint:\n%s\n%s", got, want)
			}
		})
	}
}

// TestGranularitiesAgree: week, month and total rows are the sums of the
// day rows of the same query, so no granularity contradicts another.
func TestGranularitiesAgree(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithPopulation(usagetest.Population{Clients: 4, Methods: 2}))
	const base = `"interval":"2024-01-10/2024-03-20","groupBy":["OAuthClientId","HttpMethod"]`
	group := func(r gen.APIUsageRow) string { return r.ClientID + " " + r.HTTPMethod }
	days := rowsOf(t, s, `{`+base+`,"granularity":"Day"}`)
	if len(days) == 0 {
		t.Fatal("no day rows")
	}
	for _, tc := range []struct {
		granularity string
		bucket      func(time.Time) time.Time
	}{
		{"", func(time.Time) time.Time { return time.Time{} }},
		{`,"granularity":"Week"`, func(d time.Time) time.Time { return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)) }},
		{`,"granularity":"Month"`, func(d time.Time) time.Time { return d.AddDate(0, 0, 1-d.Day()) }},
	} {
		want := map[string]counters{}
		for _, d := range days {
			k := group(d) + " " + tc.bucket(d.Date).String()
			w := want[k]
			w.add(d)
			want[k] = w
		}
		got := rowsOf(t, s, `{`+base+tc.granularity+`}`)
		if len(got) != len(want) {
			t.Errorf("granularity %q: %d rows, want one per bucket with traffic: %d", tc.granularity, len(got), len(want))
		}
		for _, r := range got {
			var c counters
			c.add(r)
			if w := want[group(r)+" "+r.Date.String()]; c != w {
				t.Errorf("granularity %q: row %s %v has %v; the day rows sum to %v", tc.granularity, group(r), r.Date, c, w)
			}
		}
	}
}

// TestTotalsDoNotDependOnGrouping: the organization's traffic over an
// interval is the same however a query groups it and whatever its
// granularity, as in the real API, so that the sum over methods equals the
// sum over clients (issue 9: the stub's totals used to depend on the
// grouping). The population reaches past what one client calls, and the
// interval past today. A client's own queries sum to its share, and the
// jobs, which count six methods, to the same traffic on those.
func TestTotalsDoNotDependOnGrouping(t *testing.T) {
	now := time.Date(2024, 3, 10, 15, 0, 0, 0, time.UTC)
	s := usagetest.NewServer(t, usagetest.WithNow(func() time.Time { return now }), usagetest.WithRunning(0, 0),
		usagetest.WithPopulation(usagetest.Population{Clients: 7, Users: 7, Organizations: 2, TemplateURIs: 9, Methods: 7}))
	const interval = "2024-01-10/2024-03-20"
	var want counters
	for _, r := range rowsOf(t, s, `{"interval":"`+interval+`"}`) {
		want.add(r)
	}
	if want[5] == 0 || want[4] == 0 || want[5] != want[0]+want[1]+want[2]+want[3] {
		t.Fatalf("the totals per client sum to %v: want traffic, 429s, and requests the sum of the four statuses", want)
	}
	all := `,"groupBy":["HttpMethod","OrganizationId","TemplateUri","UserId","OAuthClientId"]` // a row per cell-day
	for _, groupBy := range []string{``, `,"groupBy":["OAuthClientId"]`, `,"groupBy":["UserId"]`, `,"groupBy":["OrganizationId"]`,
		`,"groupBy":["TemplateUri"]`, `,"groupBy":["HttpMethod"]`, `,"groupBy":["OAuthClientId","HttpMethod"]`, `,"groupBy":["UserId","TemplateUri"]`, all} {
		for _, granularity := range []string{``, `,"granularity":"Day"`, `,"granularity":"Week"`, `,"granularity":"Month"`} {
			if groupBy == all && granularity != `,"granularity":"Day"` {
				continue // slow, and no different
			}
			q := `{"interval":"` + interval + `"` + groupBy + granularity + `}`
			var got counters
			for _, r := range rowsOf(t, s, q) {
				got.add(r)
			}
			if got != want {
				t.Errorf("%s: the rows sum to %v; the totals per client to %v", q, got, want)
			}
		}
	}
	var clients counters
	for _, id := range s.ClientIDs() {
		rows, err := s.ClientRows(id, gen.APIUsageClientQuery{Interval: interval, GroupBy: []gen.ClientGroupBy{gen.ClientGroupByHTTPMethod}})
		if err != nil {
			t.Fatal(err)
		}
		for r := range rows {
			clients.add(r)
		}
	}
	if clients != want {
		t.Errorf("the clients' own queries sum to %v; the organization's to %v", clients, want)
	}

	// The jobs leave out OPTIONS, CONNECT and TRACE.
	var counted counters
	for _, r := range rowsOf(t, s, `{"interval":"`+interval+`","groupBy":["HttpMethod"]}`) {
		if !slices.Contains([]string{"OPTIONS", "CONNECT", "TRACE"}, r.HTTPMethod) {
			counted.add(r)
		}
	}
	c := newClient(t, s, false)
	_, b := c.postJob("/api/v2/usage/aggregates/query/jobs", `{"interval":"`+interval+`","groupBy":["Platform"]}`)
	var job gen.UsageQueryJob
	if err := json.Unmarshal(b, &job); err != nil {
		t.Fatalf("POST job: %s", b)
	}
	_, b = c.do(http.MethodGet, *job.ResultsURI, "", "", c.bearer)
	var page gen.OrganizationPublicAPIUsageResultsResponse
	if err := json.Unmarshal(b, &page); err != nil || page.QueryStatus != gen.JobStatusSucceeded || page.NextURI != nil {
		t.Fatalf("job results: %s", b)
	}
	var jobs counters
	for _, e := range page.Entities {
		jobs.add(gen.APIUsageRow{Status200: e.Status200, Status300: e.Status300, Status400: e.Status400,
			Status500: e.Status500, Status429: e.Status429, Requests: e.RequestCount})
	}
	if jobs != counted || len(page.Entities) != 2 {
		t.Errorf("the job's %d platforms sum to %v; the legacy query's six methods to %v", len(page.Entities), jobs, counted)
	}
}

func TestCounters(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithPopulation(usagetest.Population{Clients: 20, Methods: 9}))
	for _, g := range []string{`,"granularity":"Day"`, `,"granularity":"Week"`, `,"granularity":"Month"`, ``} {
		var some429 bool
		for i, r := range rowsOf(t, s, `{"interval":"2024-01-01/2024-03-01","groupBy":["OAuthClientId","HttpMethod"]`+g+`}`) {
			if r.Status429 > r.Status400 || r.Requests != r.Status200+r.Status300+r.Status400+r.Status500 || r.Requests <= 0 {
				t.Fatalf("%s: row %d breaks the counter invariants: %+v", g, i, r)
			}
			if r.ClientName == "" || r.Date.Location() != time.UTC || r.Date.IsZero() != (g == "") {
				t.Fatalf("%s: row %d: clientName %q, date %v", g, i, r.ClientName, r.Date)
			}
			some429 = some429 || r.Status429 > 0
		}
		if !some429 {
			t.Errorf("%s: no row has a 429: the data would not exercise rate-limit reports", g)
		}
	}
	// Asking for fewer metrics sends the others as 0, and the same values.
	all := rowsOf(t, s, `{"interval":"2024-01-01/2024-03-01","granularity":"Day","groupBy":["OAuthClientId","HttpMethod"]}`)
	only := rowsOf(t, s, `{"interval":"2024-01-01/2024-03-01","granularity":"Day","groupBy":["OAuthClientId","HttpMethod"],"metrics":["Status429"]}`)
	if len(only) != len(all) {
		t.Fatalf("%d rows with one metric, %d with all", len(only), len(all))
	}
	for i, r := range only {
		if r.Requests != 0 || r.Status400 != 0 || r.Status200 != 0 || r.Status429 != all[i].Status429 {
			t.Fatalf("row %d of the Status429 query: %+v; the full query has status429 %d", i, r, all[i].Status429)
		}
	}
}

// TestSparse: some groups have no traffic on some days, and then no row;
// a week exists when any of its days has traffic, and a total when any
// day of the interval has.
func TestSparse(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithPopulation(usagetest.Population{Clients: 50}))
	const jan = `"interval":"2024-01-01/2024-01-31"`
	days := rowsOf(t, s, `{`+jan+`,"granularity":"Day"}`)
	if n := len(days); n >= 50*31 || n < 50*31*3/4 {
		t.Errorf("%d day rows of 50 clients x 31 days; want some, not all, group-days empty", n)
	}
	active := map[string]bool{}
	for _, d := range days {
		active[d.ClientID+d.Date.AddDate(0, 0, -((int(d.Date.Weekday())+6)%7)).String()] = true
	}
	weeks := rowsOf(t, s, `{`+jan+`,"granularity":"Week"}`)
	if len(weeks) != len(active) {
		t.Errorf("%d week rows; want %d, one per client-week with a day of traffic", len(weeks), len(active))
	}
	for _, w := range weeks {
		if !active[w.ClientID+w.Date.String()] {
			t.Errorf("week %v of %s has a row but no day of traffic", w.Date, w.ClientID)
		}
	}
	if n := len(rowsOf(t, s, `{"interval":"2024-01-01/2024-01-01"}`)); n >= 50 || n == 0 {
		t.Errorf("%d totals of 50 clients over one day; want those with no traffic left out", n)
	}
}

// TestNoDataTodayOrBefore2018 fixes the clock with WithNow.
func TestNoDataTodayOrBefore2018(t *testing.T) {
	now := time.Date(2024, 3, 10, 15, 0, 0, 0, time.UTC)
	s := usagetest.NewServer(t, usagetest.WithNow(func() time.Time { return now }),
		usagetest.WithPopulation(usagetest.Population{Clients: 20}), usagetest.WithRunning(0, 0))
	dates := func(q string) (first, last string) {
		rows := rowsOf(t, s, q)
		if len(rows) == 0 {
			return "", ""
		}
		first, last = rows[0].Date.Format(time.DateOnly), first
		for _, r := range rows {
			first, last = min(first, r.Date.Format(time.DateOnly)), max(last, r.Date.Format(time.DateOnly))
		}
		return first, last
	}
	if first, last := dates(`{"interval":"2024-03-01/2024-03-31","granularity":"Day"}`); first != "2024-03-01" || last != "2024-03-09" {
		t.Errorf("March days from %s to %s; want 2024-03-01 to 2024-03-09, the day before today", first, last)
	}
	if first, last := dates(`{"interval":"2017-12-20/2018-01-03","granularity":"Day"}`); first != "2018-01-01" || last != "2018-01-03" {
		t.Errorf("days from %s to %s; want none before 2018-01-01", first, last)
	}
	if first, _ := dates(`{"interval":"2024-03-10/2025"}`); first != "" {
		t.Errorf("today and later have rows (%s)", first)
	}
	c := newClient(t, s, false)
	if r := c.run(`{"interval":"2030/2031"}`); *r.QueryStatus != gen.QueryStatusComplete || r.Results == nil || len(r.Results) != 0 {
		t.Errorf("a future interval: %s with %d rows; want Complete with an empty results list", *r.QueryStatus, len(r.Results))
	}
}

// TestIntervals: every form the spec admits, an end of reduced precision
// inclusive and a date-time end exclusive.
func TestIntervals(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithPopulation(usagetest.Population{Clients: 20}))
	for _, tc := range []struct{ interval, first, last string }{
		{"2020-02-01/2020-02-28", "2020-02-01", "2020-02-28"},
		{"2020-01/2020-02", "2020-01-01", "2020-02-29"},
		{"2019/2019", "2019-01-01", "2019-12-31"},
		{"2020-01-01/2020-01-01", "2020-01-01", "2020-01-01"},
		{"2024-01-01T00:00:00.000Z/2024-01-08T00:00:00.000Z", "2024-01-01", "2024-01-07"},
		{"2024-01-01T00:00:00Z/2024-01-08T00:00:00.5Z", "2024-01-01", "2024-01-08"},
		{"2024-01-01T23:30:00-01:00/2024-01-03T01:00+01:00", "2024-01-02", "2024-01-02"},
		{"2024-01-01T12/2024-01-02T00:00:01+0100", "2024-01-01", "2024-01-01"},
		{"2024-01-01T12+02/2024-01-02", "2024-01-01", "2024-01-02"},
	} {
		var days []string
		for _, r := range rowsOf(t, s, `{"interval":"`+tc.interval+`","granularity":"Day"}`) {
			if d := r.Date.Format(time.DateOnly); !slices.Contains(days, d) {
				days = append(days, d)
			}
		}
		slices.Sort(days)
		first, _ := time.Parse(time.DateOnly, tc.first)
		last, _ := time.Parse(time.DateOnly, tc.last)
		if n := int(last.Sub(first).Hours()/24) + 1; len(days) != n || days[0] != tc.first || days[n-1] != tc.last {
			t.Errorf("%s: days %v; want every day from %s to %s", tc.interval, days, tc.first, tc.last)
		}
	}
	for _, bad := range []string{"2024-13/2025", "2024-02-30/2024-03-02", "2024-01-01T24:00Z/2024-01-02", "2024-01-01T10:60/2024-01-02",
		"2024-01-01T00:00:00Z/2024-01-01T00:00:00Z", "2024-01/2023-12", "2024-01-01T00:00:00./2024-01-02", "2024-01-01+01/2024-01-02"} {
		if _, err := s.Rows(gen.APIUsageQuery{Interval: bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s: %v; want an error naming the interval", bad, err)
		}
	}
}

func TestDeterminism(t *testing.T) {
	const q = `{"interval":"2024-01-01/2024-02-01","granularity":"Week","groupBy":["OAuthClientId","UserId"]}`
	body := func(opts ...usagetest.Option) (string, string) {
		s := usagetest.NewServer(t, append(opts, usagetest.WithRunning(0, 0))...)
		c := newClient(t, s, false)
		_, e := c.post(q)
		_, b := c.poll(*e.ExecutionID)
		return *e.ExecutionID, string(b)
	}
	id1, a := body(usagetest.WithSeed(7))
	id2, b := body(usagetest.WithSeed(7))
	if a != b || id1 != id2 {
		t.Error("two servers with the same seed answer the same query differently")
	}
	if _, c := body(usagetest.WithSeed(8)); a == c {
		t.Error("another seed gives the very same rows")
	}
	id3, d := body()
	id4, _ := body()
	if id3 == id4 {
		t.Errorf("two servers without a seed gave the same execution id %s", id3)
	}
	if _, e := body(usagetest.WithSeed(1)); d != e {
		t.Error("the default rows are not those of seed 1")
	}
}

// counters are the sums of the counters of rows: status200, 300, 400, 500,
// 429 and requests.
type counters [6]int64

func (c *counters) add(r gen.APIUsageRow) {
	for i, v := range []int64{r.Status200, r.Status300, r.Status400, r.Status500, r.Status429, r.Requests} {
		c[i] += v
	}
}

func mustQuery(t testing.TB, q string) gen.APIUsageQuery {
	var out gen.APIUsageQuery
	if err := json.Unmarshal([]byte(q), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func rowsOf(t testing.TB, s *usagetest.Server, q string) []gen.APIUsageRow {
	t.Helper()
	rows, err := s.Rows(mustQuery(t, q))
	if err != nil {
		t.Fatal(err)
	}
	var out []gen.APIUsageRow
	for r := range rows {
		out = append(out, r)
	}
	return out
}

// reencode gives rows decoded in different ways one comparable form.
func reencode(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var rows []gen.APIUsageRow
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(rows)
	return string(b)
}
