package usagetest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

var jobToday = time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)

func (c *client) postJob(path, body string) (*http.Response, []byte) {
	c.t.Helper()
	return c.do(http.MethodPost, path, "application/json", body, c.bearer)
}

// The API's limits are answered with its 400: a start more than a year
// ago, and an end more than 90 days after the start.
func TestJobLimits(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithNow(func() time.Time { return jobToday }))
	c := newClient(t, s, false)
	for body, want := range map[string]string{
		`{"interval":"2025-06-14/2025-07-01"}`:                             "more than a year ago",
		`{"interval":"2026-01-01/2026-04-02"}`:                             "more than 90 days",
		`{"interval":"2026-01-01/2026-04-01","groupBy":["OAuthClientId"]}`: "OauthClientId",
	} {
		res, b := c.postJob("/api/v2/usage/aggregates/query/jobs", body)
		if e := errorBody(t, res, b); res.StatusCode != 400 || !strings.Contains(*e.Message, want) {
			t.Errorf("%s: %d %s, want 400 saying %q", body, res.StatusCode, b, want)
		}
	}
	if res, b := c.postJob("/api/v2/usage/aggregates/query/jobs", `{"interval":"2025-06-15/2025-09-13"}`); res.StatusCode != 202 {
		t.Errorf("a year ago, 90 days after: %d %s, want 202", res.StatusCode, b)
	}
	if res, b := c.postJob("/api/v2/usage/client/no-such-client/aggregates/query/jobs", `{"interval":"2026-01-01/2026-01-02"}`); res.StatusCode != 404 {
		t.Errorf("unknown client: %d %s, want 404", res.StatusCode, b)
	}
}

// A job is Queued, then Running (202), then Succeeded (200) with pages
// linked by nextUri; a page size above MaxResponseSize's limit gets 400
// max.response.size.reached.
func TestJobStatesAndPages(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithNow(func() time.Time { return jobToday }),
		usagetest.WithFault(usagetest.RouteJobResults, 0, usagetest.MaxResponseSize(20)))
	c := newClient(t, s, false)
	res, b := c.postJob("/api/v2/usage/aggregates/query/jobs", `{"interval":"2026-06-01/2026-06-14","granularity":"Day","groupBy":["OauthClientName"]}`)
	var job gen.UsageQueryJob
	if err := json.Unmarshal(b, &job); err != nil || res.StatusCode != 202 || job.ID == "" || *job.ResultsURI != "/api/v2/usage/aggregates/query/jobs/"+job.ID {
		t.Fatalf("POST: %d %s", res.StatusCode, b)
	}
	var states []string
	var page gen.OrganizationPublicAPIUsageResultsResponse
	next := *job.ResultsURI + "?pageSize=20"
	for range 3 {
		res, b = c.do(http.MethodGet, next, "", "", c.bearer)
		page = gen.OrganizationPublicAPIUsageResultsResponse{}
		json.Unmarshal(b, &page)
		states = append(states, res.Status[:3]+" "+string(page.QueryStatus))
	}
	if got := strings.Join(states, ", "); got != "202 Queued, 202 Running, 200 Succeeded" {
		t.Errorf("states %s", got)
	}
	n := len(page.Entities)
	for page.NextURI != nil {
		res, b = c.do(http.MethodGet, *page.NextURI, "", "", c.bearer)
		page = gen.OrganizationPublicAPIUsageResultsResponse{}
		if err := json.Unmarshal(b, &page); err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", *page.NextURI, res.StatusCode, b)
		}
		n += len(page.Entities)
	}
	if n < 30 || n > 42 || !strings.Contains(string(b), `"date":"2026-06-`) || !strings.Contains(string(b), `"oauthClient":{"name":`) {
		t.Errorf("%d entities over the pages (want 14 days × 3 clients, less the days without traffic); last page %s", n, b)
	}
	res, b = c.do(http.MethodGet, *job.ResultsURI+"?pageSize=21", "", "", c.bearer)
	if e := errorBody(t, res, b); res.StatusCode != 400 || *e.Code != "max.response.size.reached" {
		t.Errorf("pageSize above the limit: %d %s", res.StatusCode, b)
	}
}

func TestJobFaultsApplyToJobRoutesOnly(t *testing.T) {
	for _, tc := range []struct {
		route usagetest.Route
		f     usagetest.Fault
	}{
		{usagetest.RouteQuery, usagetest.JobFailed(true)},
		{usagetest.RouteJobResults, usagetest.JobCancelled()},
		{usagetest.RouteJobs, usagetest.MaxResponseSize(10)},
	} {
		if _, err := usagetest.Start(usagetest.WithFault(tc.route, 1, tc.f)); err == nil || !strings.Contains(err.Error(), "does not apply") {
			t.Errorf("%v on %s: want an error, got %v", tc.f, tc.route, err)
		}
	}
}
