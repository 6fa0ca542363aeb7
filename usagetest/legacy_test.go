package usagetest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// An execution is read on the path of its kind, and of its client, only.
func TestExecutionsAreReadOnTheirOwnPath(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithRunning(0, 0), usagetest.WithSeed(3))
	c := newClient(t, s, false)
	ids := s.ClientIDs()
	res, b := c.do(http.MethodGet, "/api/v2/oauth/clients/"+ids[0]+"/usage/summary?days=2", "", "", c.bearer)
	var e gen.UsageExecutionResult
	if err := json.Unmarshal(b, &e); err != nil || res.StatusCode != http.StatusOK || e.ExecutionID == nil ||
		*e.ResultsURI != "/api/v2/oauth/clients/"+ids[0]+"/usage/query/results/"+*e.ExecutionID {
		t.Fatalf("summary: %d %s", res.StatusCode, b)
	}
	for path, want := range map[string]int{
		*e.ResultsURI: http.StatusOK,
		"/api/v2/oauth/clients/" + ids[1] + "/usage/query/results/" + *e.ExecutionID: http.StatusNotFound,
		"/api/v2/usage/query/" + *e.ExecutionID + "/results":                         http.StatusNotFound,
		"/api/v2/usage/simplesearch/" + *e.ExecutionID + "/results":                  http.StatusNotFound,
	} {
		if res, b := c.do(http.MethodGet, path, "", "", c.bearer); res.StatusCode != want {
			t.Errorf("GET %s: %d %s, want %d", path, res.StatusCode, b, want)
		}
	}
	for _, path := range []string{"/api/v2/oauth/clients/nobody/usage/summary", "/api/v2/oauth/clients/nobody/usage/query"} {
		method := http.MethodGet
		if strings.HasSuffix(path, "query") {
			method = http.MethodPost
		}
		res, b := c.do(method, path, "application/json", `{"interval":"2024-01-01/2024-01-02"}`, c.bearer)
		if e := errorBody(t, res, b); res.StatusCode != http.StatusNotFound || fieldOf(e) != "clientId" {
			t.Errorf("%s %s: %d %s, want 404 naming clientId", method, path, res.StatusCode, b)
		}
	}
}

func TestSearchCursors(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithRunning(0, 0))
	c := newClient(t, s, false)
	res, b := c.do(http.MethodPost, "/api/v2/usage/simplesearch", "application/json", `{"interval":"2024-01-01/2024-01-02","httpMethods":["GET"]}`, c.bearer)
	var e gen.UsageExecutionResult
	if err := json.Unmarshal(b, &e); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("search: %d %s", res.StatusCode, b)
	}
	var got []gen.APIUsageRow
	for next := "?pageSize=4"; next != ""; {
		res, b := c.do(http.MethodGet, *e.ResultsURI+next, "", "", c.bearer)
		var page gen.APIUsageQueryResult
		if err := json.Unmarshal(b, &page); err != nil || res.StatusCode != http.StatusOK || page.Cursors == nil || page.Cursors.After == nil || len(page.Results) > 4 {
			t.Fatalf("page %q: %d %s", next, res.StatusCode, b)
		}
		got = append(got, page.Results...)
		next = ""
		if *page.Cursors.After != "" {
			next = "?pageSize=4&after=" + *page.Cursors.After
		}
	}
	rows, err := s.SearchRows(gen.APIUsageSimpleSearch{Interval: "2024-01-01/2024-01-02", HTTPMethods: []gen.HTTPMethod{gen.HTTPMethodGET}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r := range rows {
		if n >= len(got) || got[n] != r {
			t.Fatalf("record %d differs from SearchRows", n)
		}
		n++
	}
	if n != len(got) || n < 5 {
		t.Errorf("%d records paged, SearchRows has %d", len(got), n)
	}
	for _, after := range []string{"bm90LWEtY3Vyc29y", "!!"} {
		res, b := c.do(http.MethodGet, *e.ResultsURI+"?after="+after, "", "", c.bearer)
		if e := errorBody(t, res, b); res.StatusCode != http.StatusBadRequest || *e.Code != "invalid.query.param.value" || fieldOf(e) != "after" {
			t.Errorf("after=%s: %d %s, want 400 naming after", after, res.StatusCode, b)
		}
	}
}

func TestLegacyOptionsAndFaults(t *testing.T) {
	if _, err := usagetest.Start(usagetest.WithMaxResponseBytes(0)); err == nil || !strings.Contains(err.Error(), "WithMaxResponseBytes(0)") {
		t.Errorf("WithMaxResponseBytes(0): %v", err)
	}
	if _, err := usagetest.Start(usagetest.WithFault(usagetest.RouteSummary, 1, usagetest.UnknownStatus("Queued"))); err == nil {
		t.Error("UnknownStatus on the summary, which starts an execution, was accepted")
	}
	s := usagetest.NewServer(t, usagetest.WithRunning(0, 0), usagetest.WithFault(usagetest.RouteSearchResults, 1, usagetest.UnknownStatus("Queued")))
	c := newClient(t, s, false)
	_, b := c.do(http.MethodPost, "/api/v2/usage/simplesearch", "application/json", `{"interval":"2024-01-01/2024-01-02"}`, c.bearer)
	var e gen.UsageExecutionResult
	json.Unmarshal(b, &e)
	if _, b := c.do(http.MethodGet, *e.ResultsURI, "", "", c.bearer); !strings.Contains(string(b), `"queryStatus":"Queued","cursors"`) {
		t.Errorf("UnknownStatus on a search page: %.200s", b)
	}
}
