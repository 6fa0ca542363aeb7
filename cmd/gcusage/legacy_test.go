package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// apiRequests lists the API requests the stub received from the n-th on,
// as "METHOD path?query".
func apiRequests(srv *usagetest.Server, n int) []string {
	var out []string
	for _, r := range srv.Requests()[n:] {
		if strings.HasPrefix(r.Path, "/api/") {
			out = append(out, strings.TrimSuffix(r.Method+" "+r.Path+"?"+r.Query, "?"))
		}
	}
	return out
}

func TestQueryOfOneClient(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.WithRunning(0, 0))
	id := srv.ClientIDs()[2]
	o := gcusage(t, stubEnv(srv), nil, at(srv, "query", "--client", id, "--interval", jan, "--group-by", "templateuri", "--format", "json")...)
	if o.code != 0 {
		t.Fatalf("exit %d: %s", o.code, o.stderr)
	}
	var rows []gen.APIUsageRow
	if err := json.Unmarshal([]byte(o.stdout), &rows); err != nil || len(rows) == 0 {
		t.Fatalf("%v: %s", err, o.stdout)
	}
	for _, r := range rows {
		if r.ClientID != id || r.TemplateURI == "" {
			t.Errorf("row %+v is not of client %s by template", r, id)
		}
	}
	if reqs := apiRequests(srv, 0); len(reqs) != 2 || reqs[0] != "POST /api/v2/oauth/clients/"+id+"/usage/query" ||
		!strings.HasPrefix(reqs[1], "GET /api/v2/oauth/clients/"+id+"/usage/query/results/") {
		t.Errorf("requests %q, want the client's endpoints", reqs)
	}
	n := len(srv.Requests())
	o = gcusage(t, stubEnv(srv), nil, at(srv, "query", "--client", id, "--group-by", "templateuri,userid")...)
	if o.code != 2 || !strings.Contains(o.stderr, `gcusage: --group-by "UserId": a query of one OAuth client cannot group by it; allowed OAuthClientId, OrganizationId, TemplateUri, HttpMethod`) ||
		len(srv.Requests()) != n {
		t.Errorf("--group-by userid with --client: exit %d, stderr %q, %d requests; want 2, the allowed values and none", o.code, o.stderr, len(srv.Requests())-n)
	}
	o = gcusage(t, stubEnv(srv), nil, at(srv, "summary", "no-such-client")...)
	if o.code != 1 || !strings.Contains(o.stderr, "404") || !strings.HasSuffix(o.stderr, "check the ids, the credentials and the region\n") {
		t.Errorf("unknown client: exit %d, stderr %q; want 1, the 404 and what to check", o.code, o.stderr)
	}
}

// A summary that times out names the results command that resumes it on
// the client's endpoint, and that command prints the rows.
func TestSummaryResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, time.Hour))
		id := srv.ClientIDs()[0]
		o := gcusage(t, stubEnv(srv), srv.Transport(), at(srv, "summary", id, "--days", "30", "--format", "csv", "--timeout", "1m")...)
		m := regexp.MustCompile(`; resume with: (gcusage results \S+ --client ` + id + ` .*)\n$`).FindStringSubmatch(o.stderr)
		if o.code != 1 || m == nil {
			t.Fatalf("exit %d, stderr %q; want 1 and a resume command with --client", o.code, o.stderr)
		}
		if reqs := apiRequests(srv, 0); reqs[0] != "GET /api/v2/oauth/clients/"+id+"/usage/summary?days=30" {
			t.Errorf("requests %q, want the summary of 30 days first", reqs)
		}
		time.Sleep(time.Hour)
		o = gcusage(t, stubEnv(srv), srv.Transport(), strings.Fields(m[1])[1:]...)
		// results does not know the summary: it prints every field.
		recs, err := csv.NewReader(strings.NewReader(o.stdout)).ReadAll()
		if o.code != 0 || err != nil || len(recs) < 20 || strings.Join(recs[0], ",") != "clientId,clientName,organizationId,userId,templateUri,httpMethod,date,status200,status300,status400,status500,status429,requests" {
			t.Fatalf("%s: exit %d, stderr %q, stdout:\n%s", m[1], o.code, o.stderr, o.stdout)
		}
		for _, r := range recs[1:] {
			if r[0] != id {
				t.Errorf("row %q is not of client %s", r, id)
			}
		}
	})
}

func TestSummaryDemo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := gcusage(t, nil, nil, "summary", "--demo", "--days", "3")
		lines := strings.Split(strings.TrimSpace(o.stdout), "\n")
		if o.code != 0 || len(lines) < 3 || !strings.Contains(lines[0], "  DATE  ") || !strings.HasPrefix(lines[len(lines)-1], "TOTAL") {
			t.Fatalf("exit %d, stderr %q, stdout:\n%s", o.code, o.stderr, o.stdout)
		}
		for _, l := range lines[1 : len(lines)-1] {
			if d := regexp.MustCompile(`\d{4}-\d\d-\d\d`).FindString(l); d < "2024-01-05" || d > "2024-01-07" {
				t.Errorf("row %q outside the last 3 full days before 2024-01-08", l)
			}
		}
		if !regexp.MustCompile(`^gcusage: demo: client \S+, last 3 days, sample data`).MatchString(o.stderr) {
			t.Errorf("stderr %q, want the demo note naming the client", o.stderr)
		}
	})
}

// search sends the filters in the API's spelling, reads every page and
// prints the records of the metrics asked for.
func TestSearch(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.WithRunning(0, 0))
	const iv = "2024-01-01/2024-01-07"
	o := gcusage(t, stubEnv(srv), nil, at(srv, "search", "--interval", iv, "--client-name", "Nightly export, CRM sync", "--http-method", "get",
		"--template-uri", "api/v2/users/{userId}", "--metrics", "date,clientname,HTTPMETHOD,status429", "--page-size", "5", "--format", "csv")...)
	if o.code != 0 || o.stderr != "" {
		t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
	}
	q := gen.APIUsageSimpleSearch{Interval: iv, OauthClientNames: []string{"Nightly export", "CRM sync"}, HTTPMethods: []gen.HTTPMethod{gen.HTTPMethodGET},
		TemplateUris: []string{"api/v2/users/{userId}"}, Metrics: []gen.SimpleSearchMetric{gen.SimpleSearchMetricDate,
			gen.SimpleSearchMetricClientName, gen.SimpleSearchMetricHTTPMethod, gen.SimpleSearchMetricStatus429}}
	b, _ := json.Marshal(q)
	reqs := apiRequests(srv, 0)
	if string(srv.Requests()[1].Body) != string(b) || reqs[0] != "POST /api/v2/usage/simplesearch" {
		t.Errorf("sent %s %s, want %s", reqs[0], srv.Requests()[1].Body, b)
	}
	rows, err := srv.SearchRows(q)
	if err != nil {
		t.Fatal(err)
	}
	want := "clientName,httpMethod,date,status429\n"
	n := 0
	for r := range rows {
		want += fmt.Sprintf("%s,%s,%s,%d\n", r.ClientName, r.HTTPMethod, r.Date.Format(time.DateOnly), r.Status429)
		n++
	}
	if n < 6 || o.stdout != want {
		t.Errorf("stdout:\n%s\nwant %d records:\n%s", o.stdout, n, want)
	}
	if len(reqs) != 1+(n+4)/5 || !strings.HasSuffix(reqs[1], "?pageSize=5") || !strings.Contains(reqs[2], "after=") {
		t.Errorf("requests %q, want the POST and a GET a page of 5", reqs)
	}
}

func TestSearchDemoAndCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := gcusage(t, nil, nil, "search", "--demo", "--since", "3d", "--client-name", "Nightly export", "--http-method", "POST")
		lines := strings.Split(strings.TrimSpace(o.stdout), "\n")
		if o.code != 0 || len(lines) < 3 || strings.Join(strings.Fields(lines[0]), " ") != "CLIENT NAME TEMPLATE URI METHOD DATE 2XX 3XX 4XX 5XX 429" ||
			!strings.Contains(lines[1], "Nightly export") || !strings.Contains(lines[1], " POST ") {
			t.Errorf("demo: exit %d, stderr %q, stdout:\n%s", o.code, o.stderr, o.stdout)
		}
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0),
			usagetest.WithPopulation(usagetest.Population{Clients: 25, TemplateURIs: 8, Methods: 9}))
		o = gcusage(t, stubEnv(srv), srv.Transport(), at(srv, "search", "--interval", "2023-12-25/2024-01-07", "--format", "ndjson", "--quiet")...)
		if o.code != 0 || strings.Count(o.stdout, "\n") != client.MaxSearchRecords ||
			o.stderr != "gcusage: warning: the search stopped at the API's cap of 20000 records, so the rows may be a part only: narrow the interval or add filters\n" {
			t.Errorf("cap: exit %d, %d lines, stderr %q; want 0, 20000 lines and the warning", o.code, strings.Count(o.stdout, "\n"), o.stderr)
		}
		// Without --quiet too, the warning is said once: the SDK's own
		// record of it is not printed as well.
		o = gcusage(t, stubEnv(srv), srv.Transport(), at(srv, "search", "--interval", "2023-12-25/2024-01-07", "--format", "ndjson")...)
		if o.code != 0 || strings.Count(o.stderr, "cap") != 1 || !strings.HasSuffix(o.stderr, "so the rows may be a part only: narrow the interval or add filters\n") {
			t.Errorf("cap, not quiet: exit %d, stderr %q; want the warning once", o.code, o.stderr)
		}
	})
}

func TestSearchTooLargeAndResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithMaxResponseBytes(2000))
		o := gcusage(t, stubEnv(srv), srv.Transport(), at(srv, "search", "--interval", jan)...)
		if o.code != 1 || !strings.Contains(o.stderr, "500") || !strings.HasSuffix(o.stderr, "narrow the interval or add filters\n") || strings.Contains(o.stderr, "resume") {
			t.Errorf("too large: exit %d, stderr %q; want 1 and what to do", o.code, o.stderr)
		}
		srv = usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, time.Hour))
		o = gcusage(t, stubEnv(srv), srv.Transport(), at(srv, "search", "--interval", jan, "--page-size", "7", "--timeout", "1m", "--format", "csv")...)
		m := regexp.MustCompile(`; resume with: (gcusage results \S+ --search --api-url .*)\n$`).FindStringSubmatch(o.stderr)
		if o.code != 1 || m == nil || !strings.Contains(m[1], "--page-size 7") {
			t.Fatalf("exit %d, stderr %q; want 1 and a resume command with --search and --page-size", o.code, o.stderr)
		}
		time.Sleep(time.Hour)
		n := len(srv.Requests())
		o = gcusage(t, stubEnv(srv), srv.Transport(), strings.Fields(m[1])[1:]...)
		if o.code != 0 || !strings.HasPrefix(o.stdout, "clientName,templateUri,httpMethod,date,status200,status300,status400,status500,status429\n") {
			t.Fatalf("%s: exit %d, stderr %q, stdout:\n%s", m[1], o.code, o.stderr, o.stdout)
		}
		if reqs := apiRequests(srv, n); len(reqs) < 2 || !strings.HasSuffix(reqs[0], "?pageSize=7") {
			t.Errorf("resumed with %q, want pages of 7", reqs)
		}
	})
}

func TestLegacyUsageErrorsSendNothing(t *testing.T) {
	srv := usagetest.NewServer(t)
	env := stubEnv(srv)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{at(srv, "summary"), "summary takes one OAuth client id, got 0 arguments"},
		{at(srv, "summary", "a", "b"), "summary takes one OAuth client id, got 2 arguments"},
		{at(srv, "summary", "c1", "--days", "0"), "--days 0: want a positive number of days"},
		{at(srv, "summary", "a/b"), `gcusage: the OAuth client id "a/b": must not contain /`},
		{at(srv, "search", "--metrics", "requests"), `--metrics "requests": allowed Date, ClientName`},
		{at(srv, "search", "--http-method", "fetch"), `--http-method "fetch": allowed GET, POST`},
		{at(srv, "search", "--page-size", "1001"), `gcusage: --page-size 1001: want 1 to 1000` + "\n"},
		{at(srv, "search", "--interval", "2024-02-01/2024-01-01"), "end is before start"},
		{at(srv, "search", "x"), `search takes no arguments, got "x"`},
		{at(srv, "search", "--demo"), "--demo runs against an in-process stub"},
		{at(srv, "results", "e1", "--client", "c1", "--search"), "--client and --search name different kinds of execution"},
		{at(srv, "results", "e1", "--client", "c/1"), `gcusage: --client "c/1": must not contain /`},
		{at(srv, "query", "--client", "c/1"), `gcusage: --client "c/1": must not contain /`},
	} {
		var tr refusing
		o := gcusage(t, env, &tr, tc.args...)
		if o.code != 2 || o.stdout != "" || !strings.Contains(o.stderr, tc.want) || strings.Count(o.stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, o.code, o.stdout, o.stderr, tc.want)
		}
		if n := len(srv.Requests()) + int(tr.n.Load()); n != 0 {
			t.Errorf("%q: %d requests sent, want none", tc.args, n)
		}
	}
}

func TestLegacyHelpAndHints(t *testing.T) {
	for _, cmd := range []string{"summary", "search"} {
		o := gcusage(t, nil, nil, cmd, "--help")
		if o.code != 0 || !strings.HasPrefix(o.stdout, "Usage:\n  gcusage "+cmd) || !strings.Contains(o.stdout, "Examples:\n") {
			t.Errorf("%s --help: exit %d, stdout:\n%s", cmd, o.code, o.stdout)
		}
	}
	if o := gcusage(t, nil, nil, "--help"); !strings.Contains(o.stdout, "\n  summary ") || !strings.Contains(o.stdout, "\n  search ") {
		t.Errorf("help lacks the new commands:\n%s", o.stdout)
	}
	forbidden := func(path string) error {
		return &client.APIError{StatusCode: http.StatusForbidden, Method: "POST", Path: path}
	}
	if err := (&Factory{Getenv: func(string) string { return "" }}).hint(forbidden("/api/v2/oauth/clients/c1/usage/query")); !strings.HasSuffix(err.Error(), "; the credentials need the permission any of oauth:client:view, usage:client:view") {
		t.Errorf("per-client 403: %v", err)
	}
	if err := (&Factory{Getenv: func(string) string { return "" }}).hint(forbidden("/api/v2/usage/simplesearch")); !strings.HasSuffix(err.Error(), "; the credentials need the permission any of oauth:client:view, usage:simpleSearch:view") ||
		!errors.As(err, new(*client.APIError)) {
		t.Errorf("search 403: %v", err)
	}
}
