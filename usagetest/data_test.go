package usagetest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

var utcBucketDate = regexp.MustCompile(`"date":"\d{4}-\d\d-\d\dT00:00:00\.000Z"`)

func TestRows(t *testing.T) {
	pop := usagetest.Population{Clients: 7, Organizations: 2}
	s := usagetest.NewServer(t, usagetest.WithPopulation(pop), usagetest.WithRunning(0, 0))
	c := newClient(t, s, false)
	for _, tc := range []struct {
		query   string
		buckets []string // UTC bucket starts
		combos  int
		fields  []string // row fields set besides date and metrics
		metrics []string
	}{
		{`{"interval":"2024-01-01T00:00:00.000Z/2024-01-04T00:00:00.000Z","groupBy":["OAuthClientId"]}`,
			[]string{"2024-01-01", "2024-01-02", "2024-01-03"}, 7, []string{"clientId", "clientName"}, nil},
		{`{"interval":"2024-01-03/2024-01-20","granularity":"Week","groupBy":["UserId","HttpMethod"],"metrics":["Status429","Requests"]}`,
			[]string{"2024-01-01", "2024-01-08", "2024-01-15"}, 5 * 3, []string{"userId", "httpMethod"}, []string{"status429", "requests"}},
		{`{"interval":"2024-01-15T12:00:00+02:00/2024-03-02","granularity":"Month","metrics":["Status200"]}`,
			[]string{"2024-01-01", "2024-02-01", "2024-03-01"}, 1, nil, []string{"status200"}},
		{`{"interval":"2023-12-31T23:00:00-02:00/2024-01-01T12:00:00Z","groupBy":["OrganizationId","TemplateUri","OrganizationId"]}`,
			[]string{"2024-01-01"}, 2 * 4, []string{"organizationId", "templateUri"}, nil},
	} {
		t.Run(tc.query, func(t *testing.T) {
			_, e := c.post(tc.query)
			res, body := c.poll(*e.ExecutionID)
			if res.StatusCode != 200 || bytes.Index(body, []byte(`"queryStatus":"Complete"`)) != 1 {
				t.Fatalf("%d %.80s: want queryStatus Complete first", res.StatusCode, body)
			}
			if n := len(utcBucketDate.FindAll(body, -1)); n != len(tc.buckets)*tc.combos {
				t.Errorf("%d dates written as UTC midnight with milliseconds; want %d", n, len(tc.buckets)*tc.combos)
			}
			var result struct{ Results []map[string]any }
			if err := json.Unmarshal(body, &result); err != nil {
				t.Fatal(err)
			}
			if len(result.Results) != len(tc.buckets)*tc.combos {
				t.Fatalf("%d rows, want %d buckets x %d combinations", len(result.Results), len(tc.buckets), tc.combos)
			}
			metrics := tc.metrics
			if metrics == nil {
				metrics = []string{"status200", "status300", "status400", "status500", "status429", "requests"}
			}
			seen := map[string]bool{}
			for i, row := range result.Results {
				if want := tc.buckets[i/tc.combos] + "T00:00:00.000Z"; row["date"] != want {
					t.Errorf("row %d: date %v, want %s", i, row["date"], want)
				}
				for _, f := range append(append([]string{"date"}, tc.fields...), metrics...) {
					if _, ok := row[f]; !ok {
						t.Errorf("row %d lacks %s: %v", i, f, row)
					}
				}
				if len(row) != 1+len(tc.fields)+len(metrics) {
					t.Errorf("row %d has fields beyond date, %v and %v: %v", i, tc.fields, metrics, row)
				}
				key := fmt.Sprint(row["date"], row["clientId"], row["userId"], row["organizationId"], row["templateUri"], row["httpMethod"])
				if seen[key] {
					t.Errorf("row %d repeats the combination %s", i, key)
				}
				seen[key] = true
			}
			rows, err := s.Rows(mustQuery(t, tc.query))
			if err != nil {
				t.Fatal(err)
			}
			var fromRows []gen.APIUsageRow
			for r := range rows {
				fromRows = append(fromRows, r)
			}
			if got, want := reencode(t, result.Results), reencode(t, fromRows); got != want {
				t.Errorf("Rows disagrees with the results endpoint:\n%s\n%s", got, want)
			}
		})
	}
}

func TestCounters(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithPopulation(usagetest.Population{Clients: 20, Methods: 9}))
	all := rowsOf(t, s, `{"interval":"2024-01-01/2024-03-01","groupBy":["OAuthClientId","HttpMethod"]}`)
	if len(all) != 60*20*9 {
		t.Fatalf("%d rows, want 10800", len(all))
	}
	var some429 bool
	for i, r := range all {
		if *r.Status429 > *r.Status400 || *r.Requests != *r.Status200+*r.Status300+*r.Status400+*r.Status500 || *r.Status200 < 0 {
			t.Fatalf("row %d breaks the counter invariants: %s", i, reencode(t, []gen.APIUsageRow{r}))
		}
		if r.Date.Location() != time.UTC || r.ClientName == nil || *r.ClientName == "" {
			t.Fatalf("row %d: date %v, clientName %v", i, r.Date, r.ClientName)
		}
		some429 = some429 || *r.Status429 > 0
	}
	if !some429 {
		t.Error("no row has a 429: the data would not exercise rate-limit reports")
	}
	// Asking for fewer metrics changes which are set, not their values.
	only := rowsOf(t, s, `{"interval":"2024-01-01/2024-03-01","groupBy":["OAuthClientId","HttpMethod"],"metrics":["Status429"]}`)
	for i, r := range only {
		if r.Requests != nil || r.Status400 != nil || *r.Status429 != *all[i].Status429 {
			t.Fatalf("row %d of the Status429 query: %s; the full query has status429 %d", i, reencode(t, []gen.APIUsageRow{r}), *all[i].Status429)
		}
	}
}

func TestDeterminism(t *testing.T) {
	const q = `{"interval":"2024-01-01/2024-02-01","granularity":"Week","groupBy":["OAuthClientId","UserId"]}`
	body := func(opts ...usagetest.Option) string {
		s := usagetest.NewServer(t, append(opts, usagetest.WithRunning(0, 0))...)
		c := newClient(t, s, false)
		_, e := c.post(q)
		_, b := c.poll(*e.ExecutionID)
		return string(b)
	}
	a, b := body(usagetest.WithSeed(7)), body(usagetest.WithSeed(7))
	if a != b {
		t.Error("two servers with the same seed answer the same query differently")
	}
	if a == body(usagetest.WithSeed(8)) {
		t.Error("another seed gives the very same rows")
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
