package usagetest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// What Genesys' official SDKs (JavaScript, Python) send, which the stub
// accepts: a change of the spec's validation must not break them.
// usagetest/compat/js runs the JavaScript SDK itself against the stub.

var sdkToday = time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)

// sdkCall sends what an official SDK sends: Content-Type application/json
// on every request, GETs without a body included.
func (c *client) sdkCall(method, path, body string) (*http.Response, []byte) {
	c.t.Helper()
	return c.do(method, path, "application/json", body, c.bearer)
}

// results starts a legacy execution (a POST of body, or a GET of path when
// body is empty) on a stub that finishes it at once, and returns its
// results answer.
func (c *client) results(path, body string) []byte {
	c.t.Helper()
	method := http.MethodPost
	if body == "" {
		method = http.MethodGet
	}
	res, b := c.sdkCall(method, path, body)
	var e gen.UsageExecutionResult
	if err := json.Unmarshal(b, &e); err != nil || res.StatusCode != http.StatusOK || e.ResultsURI == nil {
		c.t.Fatalf("%s %s %s: %d %s", method, path, body, res.StatusCode, b)
	}
	res, b = c.sdkCall(http.MethodGet, *e.ResultsURI, "")
	if res.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"queryStatus":"Complete"`)) || !bytes.Contains(b, []byte(`"requests":`)) {
		c.t.Fatalf("GET %s: %d %.300s; want 200, Complete, with rows", *e.ResultsURI, res.StatusCode, b)
	}
	return b
}

// entities runs a job on a stub that finishes it at once and returns the
// entities of all its pages.
func (c *client) entities(path, body string) []json.RawMessage {
	c.t.Helper()
	res, b := c.sdkCall(http.MethodPost, path, body)
	var job gen.UsageQueryJob
	if err := json.Unmarshal(b, &job); err != nil || res.StatusCode != http.StatusOK {
		c.t.Fatalf("POST %s %s: %d %s", path, body, res.StatusCode, b)
	}
	var all []json.RawMessage
	for next := *job.ResultsURI; next != ""; {
		res, b := c.sdkCall(http.MethodGet, next, "")
		var page struct {
			QueryStatus string            `json:"queryStatus"`
			Entities    []json.RawMessage `json:"entities"`
			NextURI     string            `json:"nextUri"`
		}
		if err := json.Unmarshal(b, &page); err != nil || res.StatusCode != http.StatusOK || page.QueryStatus != "Succeeded" {
			c.t.Fatalf("GET %s: %d %.300s", next, res.StatusCode, b)
		}
		all = append(all, page.Entities...)
		next = page.NextURI
	}
	if len(all) == 0 {
		c.t.Fatalf("job %s %s has no entity", path, body)
	}
	return all
}

func sameEntities(a, b []json.RawMessage) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// Every GET of the usage endpoints, each with the Content-Type header that
// the official SDKs send without a body, gets its answer.
func TestOfficialSDKGetsWithContentType(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithRunning(0, 0), usagetest.WithNow(func() time.Time { return sdkToday }))
	c := newClient(t, s, false)
	id := s.ClientIDs()[0]
	c.results("/api/v2/usage/query", `{"interval":"2024-01-01/2024-01-07"}`)
	c.results("/api/v2/oauth/clients/"+id+"/usage/query", `{"interval":"2024-01-01/2024-01-07"}`)
	c.results("/api/v2/oauth/clients/"+id+"/usage/summary?days=7", "")
	c.results("/api/v2/usage/simplesearch", `{"interval":"2024-01-01/2024-01-02"}`)
	c.entities("/api/v2/usage/aggregates/query/jobs", `{"interval":"2025-06-01/2025-06-07"}`)
	c.entities("/api/v2/usage/client/"+id+"/aggregates/query/jobs", `{"interval":"2025-06-01/2025-06-07"}`)
}

// The official SDKs send days as a string, as the spec declares it: days=30
// counts the last 30 full days, and no days the last 7.
func TestOfficialSDKSummaryDays(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithRunning(0, 0), usagetest.WithNow(func() time.Time { return sdkToday }))
	c := newClient(t, s, false)
	id := s.ClientIDs()[0]
	for query, days := range map[string]int{"?days=30": 30, "": 7} {
		var r gen.APIUsageQueryResult
		if err := json.Unmarshal(c.results("/api/v2/oauth/clients/"+id+"/usage/summary"+query, ""), &r); err != nil {
			t.Fatal(err)
		}
		first, last := sdkToday.AddDate(0, 0, -days), sdkToday.AddDate(0, 0, -1)
		dates := map[time.Time]bool{}
		for _, row := range r.Results {
			if row.Date.Before(first) || row.Date.After(last) || row.ClientID != id {
				t.Errorf("summary%s: a row of %s, client %s; want days %s to %s of %s", query, row.Date, row.ClientID,
					first.Format(time.DateOnly), last.Format(time.DateOnly), id)
			}
			dates[row.Date] = true
		}
		// A client is idle about one day in seven: most days have a row.
		if len(dates) < days*2/3 {
			t.Errorf("summary%s: rows on %d days, want most of %d", query, len(dates), days)
		}
	}
}

// Empty lists, as Genesys' docs write them in their examples, are no
// filter, no metrics list (all metrics) and no groupBy (per OAuth client),
// as if they were left out.
func TestOfficialSDKEmptyLists(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithRunning(0, 0), usagetest.WithNow(func() time.Time { return sdkToday }))
	c := newClient(t, s, false)
	id := s.ClientIDs()[1]
	for _, tc := range []struct{ path, bare, empty string }{
		{"/api/v2/usage/query", `{"interval":"2024-01-01/2024-01-07"}`,
			`{"interval":"2024-01-01/2024-01-07","metrics":[],"groupBy":[]}`},
		{"/api/v2/oauth/clients/" + id + "/usage/query", `{"interval":"2024-01-01/2024-01-07","granularity":"Day"}`,
			`{"interval":"2024-01-01/2024-01-07","granularity":"Day","metrics":[],"groupBy":[]}`},
		{"/api/v2/usage/simplesearch", `{"interval":"2024-01-01/2024-01-02"}`,
			`{"interval":"2024-01-01/2024-01-02","metrics":[],"oauthClientNames":[],"httpMethods":[],"templateUris":[]}`},
	} {
		if bare, empty := c.results(tc.path, tc.bare), c.results(tc.path, tc.empty); !bytes.Equal(bare, empty) {
			t.Errorf("POST %s\n%s answers\n%.300s\n%s answers\n%.300s", tc.path, tc.bare, bare, tc.empty, empty)
		}
	}
	for _, tc := range []struct{ path, bare, empty string }{
		{"/api/v2/usage/aggregates/query/jobs", `{"interval":"2025-06-01/2025-06-03","groupBy":["HttpMethod"]}`,
			`{"interval":"2025-06-01/2025-06-03","groupBy":["HttpMethod"],"metrics":[],"sortBy":[],"templateUris":[],"httpMethods":[],"platforms":[],"userIds":[],"oauthClientIds":[]}`},
		{"/api/v2/usage/client/" + id + "/aggregates/query/jobs", `{"interval":"2025-06-01/2025-06-03","groupBy":["HttpMethod"]}`,
			`{"interval":"2025-06-01/2025-06-03","groupBy":["HttpMethod"],"metrics":[],"sortBy":[],"templateUris":[],"httpMethods":[],"platforms":[],"organizationIds":[]}`},
	} {
		if bare, empty := c.entities(tc.path, tc.bare), c.entities(tc.path, tc.empty); !sameEntities(bare, empty) {
			t.Errorf("POST %s\n%s answers %d entities, %s %d, or others", tc.path, tc.bare, len(bare), tc.empty, len(empty))
		}
	}
}

// An interval of date-times without a zone, as Genesys' docs write it
// (yyyy-MM-ddTHH:mm:ss/yyyy-MM-ddTHH:mm:ss), is read in UTC.
func TestOfficialSDKIntervalWithoutZone(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithRunning(0, 0), usagetest.WithNow(func() time.Time { return sdkToday }))
	c := newClient(t, s, false)
	for _, path := range []string{"/api/v2/usage/query", "/api/v2/oauth/clients/" + s.ClientIDs()[0] + "/usage/query", "/api/v2/usage/simplesearch"} {
		utc := c.results(path, `{"interval":"2024-01-01T00:00:00Z/2024-01-08T00:00:00Z"}`)
		if local := c.results(path, `{"interval":"2024-01-01T00:00:00/2024-01-08T00:00:00"}`); !bytes.Equal(utc, local) {
			t.Errorf("POST %s: an interval without a zone answers\n%.300s\nwith Z\n%.300s", path, local, utc)
		}
	}
	utc := c.entities("/api/v2/usage/aggregates/query/jobs", `{"interval":"2025-06-01T00:00:00Z/2025-06-03T00:00:00Z","granularity":"Day"}`)
	if local := c.entities("/api/v2/usage/aggregates/query/jobs", `{"interval":"2025-06-01T00:00:00/2025-06-03T00:00:00","granularity":"Day"}`); !sameEntities(utc, local) {
		t.Errorf("a job's interval without a zone answers %d entities, with Z %d, or others", len(local), len(utc))
	}
}

// Enum values keep the exact case the spec documents. The Python SDK lets
// granularity "day" through; whether the real API takes lower case is
// unverified, so the stub refuses it, naming the values allowed.
func TestOfficialSDKLowerCaseGranularity(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithNow(func() time.Time { return sdkToday }))
	c := newClient(t, s, false)
	const want = "Value [day] is not valid for field type [granularity]. Allowable values are: Day, Week, Month"
	for _, tc := range []struct{ path, body string }{
		{"/api/v2/usage/query", `{"interval":"2024-01-01/2024-01-07","granularity":"day"}`},
		{"/api/v2/oauth/clients/" + s.ClientIDs()[0] + "/usage/query", `{"interval":"2024-01-01/2024-01-07","granularity":"day"}`},
		{"/api/v2/usage/aggregates/query/jobs", `{"interval":"2025-06-01/2025-06-07","granularity":"day"}`},
	} {
		res, b := c.sdkCall(http.MethodPost, tc.path, tc.body)
		if e := errorBody(t, res, b); res.StatusCode != http.StatusBadRequest || *e.Code != "invalid.value" ||
			fieldOf(e) != "granularity" || !strings.Contains(*e.Message, want) {
			t.Errorf("POST %s %s: %d %s; want 400 invalid.value saying %q", tc.path, tc.body, res.StatusCode, b, want)
		}
	}
}
