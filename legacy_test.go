package gcusage_test

// Contract tests of the per-client query and summary and of simple search,
// through specCheck as the others: every exchange is validated against
// api/usage.yaml.

import (
	"context"
	"errors"
	"iter"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// today is the stub's today in these tests: rows stop the day before.
var today = time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC)

func atToday() usagetest.Option { return usagetest.WithNow(func() time.Time { return today }) }

// rowsJSON is rows as JSON, for comparison.
func rowsJSON(t *testing.T, rows iter.Seq[gen.APIUsageRow]) []string {
	t.Helper()
	var out []string
	for r := range rows {
		out = append(out, rowJSON(t, r))
	}
	return out
}

// readAll reads a result's rows as JSON.
func readAll(t *testing.T, res *client.Result) ([]string, error) {
	t.Helper()
	var got []string
	for r, err := range res.Rows() {
		if err != nil {
			return got, err
		}
		got = append(got, rowJSON(t, r))
	}
	return got, nil
}

// mustRows reads the rows of a result as JSON, failing the test on an
// error: mustRows(t)(c.Wait(ctx, id)).
func mustRows(t *testing.T) func(*client.Result, error) []string {
	return func(res *client.Result, err error) []string {
		t.Helper()
		var got []string
		if err == nil {
			got, err = readAll(t, res)
		}
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
}

// requests lists the API requests the stub received, as "METHOD path?query".
func (h *harness) requests() []string {
	var out []string
	for _, r := range h.srv.Requests() {
		if strings.HasPrefix(r.Path, "/api/") {
			s := r.Method + " " + r.Path
			if r.Query != "" {
				s += "?" + r.Query
			}
			out = append(out, s)
		}
	}
	return out
}

func sameRows(t *testing.T, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("the stub serves no rows: the test proves nothing")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows differ from the stub's\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestClientQueryGroupedByUserIsRefusedBeforeSending(t *testing.T) {
	h := newHarness(t, "", nil)
	q := client.Query{Interval: week.Interval, GroupBy: []gen.GroupBy{gen.GroupByTemplateURI, gen.GroupByUserID}}
	_, err := h.c.RunClient(t.Context(), h.srv.ClientIDs()[0], q)
	var ve *client.ValidationError
	if !errors.As(err, &ve) || ve.Field != "groupBy[1]" || ve.Value != "UserId" ||
		strings.Join(ve.Allowed, ",") != "OAuthClientId,OrganizationId,TemplateUri,HttpMethod" {
		t.Fatalf("want a ValidationError naming groupBy[1] UserId and the values allowed, got %#v", err)
	}
	mustContainAll(t, err.Error(), `groupBy[1] "UserId"`, "allowed OAuthClientId, OrganizationId, TemplateUri, HttpMethod")
	if n := len(h.srv.Requests()); n != 0 {
		t.Errorf("a refused query sent %d requests", n)
	}
	// The same query is fine for the organization.
	if err := q.Validate(); err != nil {
		t.Errorf("the organization's query refused: %v", err)
	}
}

func mustContainAll(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q lacks %q", s, sub)
		}
	}
}

// A query of one client is the organization's query, grouped by client,
// of that client; a wait that times out is resumed with both ids.
func TestClientQueryIsTheOrganizationsOfThatClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{usagetest.WithRunning(0, 10*time.Minute), atToday()})
		id := h.srv.ClientIDs()[1]
		q := client.Query{Interval: "2024-01-01/2024-01-07", Granularity: gen.GranularityDay, GroupBy: []gen.GroupBy{gen.GroupByTemplateURI}}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		_, err := h.c.RunClient(ctx, id, q)
		var ee *client.ExecutionError
		if !errors.As(err, &ee) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want a timed-out ExecutionError, got %v", err)
		}
		got := mustRows(t)(h.c.WaitClient(t.Context(), id, ee.ExecutionID))
		org, err := h.srv.Rows(gen.APIUsageQuery{Interval: q.Interval, Granularity: &q.Granularity,
			GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID, gen.GroupByTemplateURI}})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for r := range org {
			if r.ClientID == id {
				want = append(want, rowJSON(t, r))
			}
		}
		sameRows(t, got, want)
		reqs := h.requests()
		prefix := "/api/v2/oauth/clients/" + id + "/usage/query"
		if reqs[0] != "POST "+prefix || !strings.HasPrefix(reqs[len(reqs)-1], "GET "+prefix+"/results/"+ee.ExecutionID) {
			t.Errorf("requests %q, want the client's POST and results paths", reqs)
		}
		// An execution of one client is not found on the organization's path.
		_, err = h.c.Wait(t.Context(), ee.ExecutionID)
		var api *client.APIError
		if !errors.As(err, &api) || api.StatusCode != 404 {
			t.Errorf("the organization's path gave %v, want 404", err)
		}
	})
}

func TestSummaryOf30Days(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{usagetest.WithRunning(2, 0), atToday()})
		id := h.srv.ClientIDs()[0]
		e, err := h.c.Summary(t.Context(), id, 30)
		if err != nil {
			t.Fatal(err)
		}
		if e.ClientID != id {
			t.Errorf("handle of client %q, want %q", e.ClientID, id)
		}
		got := mustRows(t)(e.Wait(t.Context()))
		// The last 30 full UTC days before today, by day.
		want, err := h.srv.ClientRows(id, gen.APIUsageClientQuery{Interval: "2023-12-16/2024-01-14", Granularity: new(gen.GranularityDay)})
		if err != nil {
			t.Fatal(err)
		}
		sameRows(t, got, rowsJSON(t, want))
		if len(got) < 20 || len(got) > 30 {
			t.Errorf("%d rows, want one per day with traffic out of 30", len(got))
		}
		reqs := h.requests()
		wantReqs := []string{"GET /api/v2/oauth/clients/" + id + "/usage/summary?days=30"}
		for range 3 { // 2 × Running, then Complete
			wantReqs = append(wantReqs, "GET /api/v2/oauth/clients/"+id+"/usage/query/results/"+e.ID)
		}
		if !slices.Equal(reqs, wantReqs) {
			t.Errorf("requests\n%q\nwant\n%q", reqs, wantReqs)
		}
	})
}

func TestBadArgumentsSendNothing(t *testing.T) {
	h := newHarness(t, "", nil)
	ctx := t.Context()
	for name, call := range map[string]func() error{
		"days 0":          func() error { _, err := h.c.Summary(ctx, "c1", 0); return err },
		"client id path":  func() error { _, err := h.c.Summary(ctx, "../c1", 7); return err },
		"empty client id": func() error { _, err := h.c.StartClient(ctx, "", week); return err },
		"resumed client":  func() error { _, err := h.c.WaitClient(ctx, "a/b", "e1"); return err },
		"search metric": func() error {
			_, err := h.c.StartSearch(ctx, client.SimpleSearch{Interval: week.Interval, Metrics: []gen.SimpleSearchMetric{"date"}})
			return err
		},
		"search method": func() error {
			_, err := h.c.StartSearch(ctx, client.SimpleSearch{Interval: week.Interval, HTTPMethods: []gen.HTTPMethod{"get"}})
			return err
		},
		"search interval": func() error {
			_, err := h.c.StartSearch(ctx, client.SimpleSearch{Interval: "2024-01-08/2024-01-01"})
			return err
		},
		"search page size": func() error {
			_, err := h.c.StartSearch(ctx, client.SimpleSearch{Interval: week.Interval, PageSize: 1001})
			return err
		},
		"empty name": func() error {
			_, err := h.c.StartSearch(ctx, client.SimpleSearch{Interval: week.Interval, ClientNames: []string{""}})
			return err
		},
		"resumed search": func() error { _, err := h.c.SearchExecution("e1", -1).Wait(ctx); return err },
	} {
		var ve *client.ValidationError
		if err := call(); !errors.As(err, &ve) {
			t.Errorf("%s: want a *client.ValidationError, got %v", name, err)
		}
	}
	if n := len(h.srv.Requests()); n != 0 {
		t.Errorf("bad arguments sent %d requests", n)
	}
}

// A search pages lazily, one page held at a time, and stops on the page
// whose cursor is empty.
func TestSearchPagesToAnEmptyCursor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{atToday()})
		s := client.SimpleSearch{Interval: "2024-01-01/2024-01-07", ClientNames: []string{"Nightly export"},
			HTTPMethods: []gen.HTTPMethod{gen.HTTPMethodGET, gen.HTTPMethodPOST}, TemplateURIs: []string{"api/v2/users/{userId}", "api/v2/routing/queues"},
			Metrics: []gen.SimpleSearchMetric{gen.SimpleSearchMetricDate, gen.SimpleSearchMetricClientName, gen.SimpleSearchMetricHTTPMethod,
				gen.SimpleSearchMetricTemplateURI, gen.SimpleSearchMetricStatus200, gen.SimpleSearchMetricStatus429}}
		stub, err := h.srv.SearchRows(gen.APIUsageSimpleSearch{Interval: s.Interval, Metrics: s.Metrics, OauthClientNames: s.ClientNames,
			HTTPMethods: s.HTTPMethods, TemplateUris: s.TemplateURIs})
		if err != nil {
			t.Fatal(err)
		}
		want := rowsJSON(t, stub)
		s.PageSize = (len(want) + 2) / 3 // three pages
		e, err := h.c.StartSearch(t.Context(), s)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		pages := func() int { return h.count("GET", "/api/v2/usage/simplesearch/"+e.ID+"/results") - 1 } // the first GET finds it Running
		var got []string
		for r, err := range res.Rows() {
			if err != nil {
				t.Fatal(err)
			}
			if p := len(got)/s.PageSize + 1; pages() != p {
				t.Fatalf("row %d read with %d pages fetched, want %d: pages are fetched as the rows need them", len(got)+1, pages(), p)
			}
			got = append(got, rowJSON(t, r))
		}
		sameRows(t, got, want)
		if res.Capped() {
			t.Error("Capped after three pages")
		}
		reqs := h.requests()
		if len(reqs) != 1+1+3 || !strings.HasSuffix(reqs[2], "?pageSize="+strconv.Itoa(s.PageSize)) || !strings.Contains(reqs[3], "?after=") {
			t.Errorf("requests %q, want the POST, a Running poll and three pages", reqs)
		}
		answers := h.check.answers
		if last := answers[len(answers)-1]; !strings.HasSuffix(last, `"queryStatus":"Complete","cursors":{"after":""}}`) {
			t.Errorf("the last page ends %q, not on an empty cursor", last[max(0, len(last)-80):])
		}
		for _, r := range got {
			if !strings.Contains(r, `"clientId":""`) || !strings.Contains(r, `"status300":0`) || !strings.Contains(r, `"date":"2024-01-0`) {
				t.Errorf("row %s: want no client id, only the metrics asked for, and a date", r)
			}
		}
	})
}

// The API gives a search 20,000 records at most: Rows stops there and
// Capped says so.
func TestSearchStopsAtTheCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{atToday(), usagetest.WithRunning(0, 0),
			usagetest.WithPopulation(usagetest.Population{Clients: 25, TemplateURIs: 8, Methods: 9})})
		res, err := h.c.RunSearch(t.Context(), client.SimpleSearch{Interval: "2024-01-01/2024-01-14"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, err := range res.Rows() {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != client.MaxSearchRecords || !res.Capped() {
			t.Errorf("%d rows, capped %v; want %d and capped", n, res.Capped(), client.MaxSearchRecords)
		}
		if pages := h.count("GET", "/results"); pages != 20 {
			t.Errorf("%d pages, want 20 of 1000", pages)
		}
	})
}

// Results over the API's 5 MB limit are an error that says what to do.
func TestSearchTooLarge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{atToday(), usagetest.WithMaxResponseBytes(4 << 10)})
		_, err := h.c.RunSearch(t.Context(), client.SimpleSearch{Interval: "2024-01-01/2024-01-07"})
		var api *client.APIError
		var ee *client.ExecutionError
		if !errors.Is(err, client.ErrResponseTooLarge) || !errors.As(err, &api) || api.StatusCode != 500 ||
			api.Code != "max.response.size.reached" || !errors.As(err, &ee) || ee.ExecutionID == "" {
			t.Fatalf("want ErrResponseTooLarge around a 500 APIError, named by execution; got %v", err)
		}
		mustContainAll(t, err.Error(), "narrow the interval or add filters", ee.ExecutionID)
	})
}
