package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/cmd/internal/output"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// out is what one run of the command left.
type out struct {
	code           int
	stdout, stderr string
}

// gcusage runs the command as main does, with env as the whole environment.
// A non-nil transport stands in for the network (the stub's in-memory one,
// for synctest bubbles).
func gcusage(t *testing.T, env map[string]string, transport http.RoundTripper, args ...string) out {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &Factory{Getenv: func(k string) string { return env[k] }, Stdout: &stdout, Stderr: &stderr, Transport: transport, Now: clock}
	code := a.run(context.Background(), args)
	return out{code, stdout.String(), stderr.String()}
}

// clock is the command's clock in tests: a synctest bubble starts at
// 2000-01-01, before the stub's history (2018 on), so the clock is moved to
// Monday 2024-01-08 at the bubble's start, and moves with it. Default
// intervals are fixed, and have data, only inside a bubble.
func clock() time.Time { return time.Now().Add(bubbleShift) }

var bubbleShift = time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC).Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))

// stubEnv holds the credentials the stub accepts, as a user sets them.
func stubEnv(srv *usagetest.Server) map[string]string {
	return map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID": srv.ClientID, "GENESYSCLOUD_OAUTHCLIENT_SECRET": srv.ClientSecret}
}

// at points the command at the stub.
func at(srv *usagetest.Server, args ...string) []string {
	return append(args, "--api-url", srv.URL, "--login-url", srv.LoginURL)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/gcusage -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rerun with -update if intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

const jan = "2024-01-01T00:00:00Z/2024-01-04T00:00:00Z"

// TestFormats runs the README's "done when" command line, against a
// standalone-like stub on a real loopback socket, in every format.
func TestFormats(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.WithRunning(0, 0))
	for _, tc := range []struct{ name, format string }{
		{"table", "table"}, {"csv", "CSV"}, {"json", "json"}, {"ndjson", "ndjson"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := gcusage(t, stubEnv(srv), nil, at(srv, "query", "--interval", jan, "--format", tc.format)...)
			if o.code != 0 || o.stderr != "" {
				t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
			}
			golden(t, "query-"+tc.name, o.stdout)
		})
	}
}

// TestTableColumns checks that the table shows only what was grouped by or
// asked for, with totals that add up the rows.
func TestTableColumns(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.WithRunning(0, 0))
	o := gcusage(t, stubEnv(srv), nil, at(srv, "query", "--interval", "2024-01-01/2024-01-15",
		"--group-by", "httpmethod", "--metrics", "REQUESTS,status429", "--granularity", "week")...)
	if o.code != 0 {
		t.Fatalf("exit %d: %s", o.code, o.stderr)
	}
	golden(t, "query-week-method", o.stdout)
	lines := strings.Split(strings.TrimSpace(o.stdout), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "METHOD DATE 429 REQUESTS" {
		t.Errorf("header %q, want METHOD DATE 429 REQUESTS: dimensions, then the date, then the counts", got)
	}
	var sum [2]int64
	for _, l := range lines[1 : len(lines)-1] {
		f := strings.Fields(l)
		sum[0] += atoi(t, f[2])
		sum[1] += atoi(t, f[3])
	}
	total := strings.Fields(lines[len(lines)-1])
	if total[0] != "TOTAL" || atoi(t, total[1]) != sum[0] || atoi(t, total[2]) != sum[1] {
		t.Errorf("totals row %q, want TOTAL %d %d", total, sum[0], sum[1])
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}

// TestJSONIsTheAPIRows compares the json output with the rows the stub
// sent, field by field, even when the stub writes dates at another offset.
func TestJSONIsTheAPIRows(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.WithRunning(0, 0), usagetest.WithFault(usagetest.RouteResults, 0, usagetest.NonUTCDate("+02:00")))
	q := gen.APIUsageQuery{Interval: jan, GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID, gen.GroupByTemplateURI}, Metrics: []gen.Metric{gen.MetricStatus400, gen.MetricRequests}}
	o := gcusage(t, stubEnv(srv), nil, at(srv, "query", "--interval", jan, "--format", "json",
		"--group-by", "OAuthClientId,TemplateUri", "--metrics", "Status400,Requests")...)
	if o.code != 0 {
		t.Fatalf("exit %d: %s", o.code, o.stderr)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(o.stdout), &got); err != nil {
		t.Fatalf("stdout is not one JSON array: %v\n%s", err, o.stdout)
	}
	rows, err := srv.Rows(q)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for want := range rows {
		b, _ := json.Marshal(want)
		var w map[string]any
		json.Unmarshal(b, &w)
		if i >= len(got) {
			t.Fatalf("only %d rows printed", len(got))
		}
		if len(got[i]) != len(w) {
			t.Errorf("row %d has fields %v, want %v", i, got[i], w)
		}
		for k, v := range w {
			if k == "date" {
				d, _ := time.Parse(time.RFC3339, got[i][k].(string))
				if !strings.HasSuffix(got[i][k].(string), "Z") || !d.Equal(want.Date) {
					t.Errorf("row %d date %v, want %v in UTC", i, got[i][k], want.Date)
				}
			} else if got[i][k] != v {
				t.Errorf("row %d %s = %v, want %v", i, k, got[i][k], v)
			}
		}
		i++
	}
	if i != len(got) || i == 0 {
		t.Errorf("printed %d rows, the stub has %d", len(got), i)
	}
}

// TestUsageErrorsSendNothing covers exit code 2: each bad input is named on
// one stderr line and the stub receives no request at all.
func TestUsageErrorsSendNothing(t *testing.T) {
	srv := usagetest.NewServer(t)
	env := stubEnv(srv)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no command", env, nil, "a command is needed: query, summary, search, results, jobs, report, regions, version, completion or help (see gcusage --help)\n"},
		{"unknown command", env, []string{"stats"}, `unknown command "stats": want query, summary, search, results, jobs, report, regions, version, completion or help` + "\n"},
		{"near-miss command", env, []string{"qurey"}, `unknown command "qurey": want query, summary, search, results, jobs, report, regions, version, completion or help; did you mean query?`},
		{"unknown flag", env, at(srv, "query", "--bogus"), "query: unknown flag --bogus (see gcusage query --help)"},
		{"swapped letters in a flag", env, at(srv, "query", "--fromat", "csv"), "query: unknown flag --fromat; did you mean --format? (see gcusage query --help)"},
		{"a letter missing from a flag", env, at(srv, "results", "id", "--formt=csv"), "unknown flag --formt; did you mean --format?"},
		{"a typo in another flag", env, at(srv, "query", "--granulrity", "day"), "did you mean --granularity?"},
		{"argument", env, at(srv, "query", "now"), `query takes no arguments, got "now"`},
		{"group-by", env, at(srv, "query", "--group-by", "client"), `--group-by "client": allowed OAuthClientId, OrganizationId, UserId, TemplateUri, HttpMethod`},
		{"metrics", env, at(srv, "query", "--metrics", "requests,status201"), `--metrics "status201": allowed Status200`},
		{"granularity", env, at(srv, "query", "--granularity", "hour"), `--granularity "hour": allowed Day, Week, Month`},
		{"two granularities", env, at(srv, "query", "--granularity", "day,week"), "give one of"},
		{"duplicate", env, at(srv, "query", "--metrics", "requests,Requests"), `gcusage: --metrics "Requests": given twice` + "\n"},
		{"group-by of one client", env, at(srv, "query", "--client", "c1", "--group-by", "UserId"),
			`gcusage: --group-by "UserId": a query of one OAuth client cannot group by it; allowed OAuthClientId, OrganizationId, TemplateUri, HttpMethod` + "\n"},
		{"a jobs method twice", env, at(srv, "jobs", "query", "--http-method", "get,GET"), `gcusage: --http-method "GET": given twice` + "\n"},
		{"organization-id without --client", env, at(srv, "jobs", "query", "--organization-id", "o1"), `gcusage: --organization-id "o1": filters a client's job only: give --client` + "\n"},
		{"jobs page size too large", env, at(srv, "jobs", "query", "--page-size", "5000"), "gcusage: --page-size 5000: want 1 to 1000\n"},
		{"jobs page size 0", env, at(srv, "jobs", "query", "--page-size", "0"), "gcusage: --page-size 0: want 1 to 1000\n"},
		{"jobs results page size 0", env, at(srv, "jobs", "results", "j1", "--page-size", "0"), "gcusage: --page-size 0: want 1 to 1000\n"},
		{"search page size 0", env, at(srv, "search", "--page-size", "0"), "gcusage: --page-size 0: want 1 to 1000\n"},
		{"results page size 0", env, at(srv, "results", "e1", "--search", "--page-size", "0"), "gcusage: --page-size 0: want 1 to 1000\n"},
		{"a job id with a slash", env, at(srv, "jobs", "results", "j/1"), `gcusage: the job id "j/1": must not contain /`},
		{"format", env, at(srv, "query", "--format", "xml"), `--format "xml": allowed table, csv, json, ndjson`},
		{"inverted interval", env, at(srv, "query", "--interval", "2024-02-01/2024-01-01"), `gcusage: --interval "2024-02-01/2024-01-01": end is before start` + "\n"},
		{"empty interval", env, at(srv, "query", "--interval", "2024-02-01T00:00:00Z/2024-02-01T00:00:00Z"), `gcusage: --interval "2024-02-01T00:00:00Z/2024-02-01T00:00:00Z": end equals start`},
		{"bad end", env, at(srv, "query", "--interval", "2024-02-01/2024-02-31"), `gcusage: --interval "2024-02-01/2024-02-31": end "2024-02-31" is not`},
		{"bad interval", env, at(srv, "query", "--interval", "last week"), `gcusage: --interval "last week": want start/end, such as`},
		{"interval and since", env, at(srv, "query", "--interval", jan, "--since", "7d"), "cannot be combined"},
		{"since", env, at(srv, "query", "--since", "yesterday"), `--since "yesterday": want a number of days`},
		{"since after until", env, at(srv, "query", "--since", "1d", "--until", "2d"), "is not before --until"},
		{"api-url without a scheme", env, []string{"query", "--api-url", "127.0.0.1:8765", "--login-url", srv.LoginURL},
			`--api-url "127.0.0.1:8765": no scheme: add one, as in http://127.0.0.1:8765 (http:// only for loopback)`},
		{"login-url without a scheme", env, []string{"query", "--api-url", srv.URL, "--login-url", "login.example.com/"},
			`--login-url "login.example.com/": no scheme: add one, as in https://login.example.com/`},
		{"localhost without a scheme", env, []string{"query", "--api-url", "localhost:8765", "--login-url", srv.LoginURL}, "as in http://localhost:8765"},
		{"http to a remote host", env, []string{"query", "--api-url", "http://usage.invalid", "--login-url", "http://usage.invalid"}, "http:// is allowed only for loopback"},
		{"no credentials", nil, at(srv, "query"), "no credentials: set GENESYSCLOUD_OAUTHCLIENT_ID"},
		{"id without secret", map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID": "x"}, at(srv, "query"), "GENESYSCLOUD_OAUTHCLIENT_SECRET is not"},
		{"no region", env, []string{"query"}, "no region: set GENESYSCLOUD_REGION"},
		{"login URL needed", env, []string{"query", "--api-url", srv.URL}, "no region: set GENESYSCLOUD_REGION"},
		{"negative timeout", env, at(srv, "query", "--timeout", "-1m"), "--timeout -1m0s: want a positive duration such as 30m, or 0"},
		{"negative timeout of results", env, at(srv, "results", "some-id", "--timeout", "-5s"), "--timeout -5s: want a positive duration"},
		{"unknown region", env, []string{"query", "--region", "mars-1"}, `--region "mars-1": unknown region: allowed us-east-1`},
		{"a region with user information", env, []string{"query", "--region", "admin:PW-3f9a@mypurecloud.ie"}, "gcusage: --region: it holds an @, as user information (user:password@) does, which is not shown here"},
		{"a region variable with user information", map[string]string{"GENESYSCLOUD_REGION": "https://admin:PW-3f9a@mypurecloud.ie", "GENESYSCLOUD_ACCESS_TOKEN": "t"},
			[]string{"query"}, "gcusage: GENESYSCLOUD_REGION: it holds an @"},
		{"unknown region in the env, with both URLs", map[string]string{"GENESYSCLOUD_REGION": "eu-wets-1", "GENESYSCLOUD_ACCESS_TOKEN": "t"},
			at(srv, "query"), `GENESYSCLOUD_REGION "eu-wets-1": unknown region: allowed us-east-1`},
		{"demo with url", env, at(srv, "query", "--demo"), "--demo runs against an in-process stub"},
		{"demo with no-wait", env, []string{"query", "--demo", "--no-wait"}, "drop --region, --api-url, --login-url and --no-wait"},
		{"no-wait on results", env, at(srv, "results", "id", "--no-wait"), "results: unknown flag --no-wait (see gcusage results --help)"},
		{"results without id", env, at(srv, "results"), "results takes one execution id, got 0 arguments"},
		{"results with an empty id", env, at(srv, "results", " "), "results: the execution id is empty"},
		{"jobs results without id", env, at(srv, "jobs", "results"), "gcusage: jobs results takes one job id, got 0 arguments"},
		{"jobs results with an empty id", env, at(srv, "jobs", "results", " "), "gcusage: jobs results: the job id is empty (see gcusage jobs results --help)"},
		{"results of ..", env, at(srv, "results", ".."), `gcusage: the execution id "..": not an id` + "\n"},
		{"results of a path", env, at(srv, "results", "../../users"), `gcusage: the execution id "../../users": must not contain`},
		{"token with a line break", map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": "tok\r\nX-Evil: 1"}, at(srv, "query"), "GENESYSCLOUD_ACCESS_TOKEN"},
		{"sort by a dimension", env, at(srv, "query", "--sort", "clientName"), `--sort "clientName": allowed Status200`},
		{"negative top", env, at(srv, "query", "--top", "-1"), "--top -1"},
		{"sort by a metric left out", env, at(srv, "query", "--metrics", "status429,status200", "--sort", "requests"),
			`--sort "requests": the rows have no such count (a metric left out of --metrics, or a search's requests): allowed Status429, Status200` + "\n"},
		{"sort a search by requests", env, at(srv, "search", "--sort", "Requests"), "allowed Status200, Status300, Status400, Status500, Status429\n"},
		{"sort a search's results by requests", env, at(srv, "results", "e1", "--search", "--sort", "requests"), "allowed Status200, Status300, Status400, Status500, Status429\n"},
		{"top of a search without counts", env, at(srv, "search", "--metrics", "date,clientname", "--top", "3"), "--top: the rows have no count to rank by: add one of Status200"},
		{"regions argument", env, []string{"regions", "eu"}, "regions takes no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr refusing
			o := gcusage(t, tc.env, &tr, tc.args...)
			if o.code != 2 || o.stdout != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing", o.code, o.stdout)
			}
			if !strings.Contains(o.stderr, tc.want) || strings.Count(o.stderr, "\n") != 1 || !strings.HasPrefix(o.stderr, "gcusage: ") || strings.Contains(o.stderr, "PW-3f9a") ||
				strings.Count(o.stderr, "gcusage:") != 1 || strings.Contains(o.stderr, "invalid query") {
				t.Errorf("stderr %q, want one gcusage line with %q, and one gcusage: prefix, naming what was typed", o.stderr, tc.want)
			}
			if n := len(srv.Requests()) + int(tr.n.Load()); n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}
}

// refusing stands in for the network where nothing may be sent: it fails
// every request, so that a broken check cannot reach another machine, and
// counts them, so that the test sees it.
type refusing struct{ n atomic.Int32 }

func (r *refusing) RoundTrip(*http.Request) (*http.Response, error) {
	r.n.Add(1)
	return nil, errors.New("test: no request may be sent")
}

// TestOtherFailuresExit1 covers failures met on the way, which name what
// to do next.
func TestOtherFailuresExit1(t *testing.T) {
	t.Run("bad credentials", func(t *testing.T) {
		srv := usagetest.NewServer(t)
		env := map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID": srv.ClientID, "GENESYSCLOUD_OAUTHCLIENT_SECRET": "wrong-secret-3f9a"}
		o := gcusage(t, env, nil, at(srv, "query", "--verbose")...)
		if o.code != 1 || !strings.Contains(o.stderr, "token request failed: 401") || strings.Contains(o.stderr, "resume") ||
			!strings.HasSuffix(o.stderr, "; check GENESYSCLOUD_OAUTHCLIENT_ID / _SECRET and the region\n") {
			t.Errorf("exit %d, stderr %q; want 1 and the token failure, with what to check but no resume command", o.code, o.stderr)
		}
		if strings.Contains(o.stderr, "Basic") {
			t.Errorf("stderr %q tells the user how the client sends the credentials, which is no help", o.stderr)
		}
		if strings.Contains(o.stderr, "wrong-secret-3f9a") {
			t.Errorf("the secret is printed: %s", o.stderr)
		}
	})
	t.Run("query failed", func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.WithRunning(0, 0),
			usagetest.WithOutcome(func(gen.APIUsageQuery) gen.QueryStatus { return gen.QueryStatusFailed }))
		o := gcusage(t, stubEnv(srv), nil, at(srv, "query", "--format", "csv")...)
		// Resuming a failed query gives Failed again.
		if o.code != 1 || !regexp.MustCompile(`^gcusage: execution \S+: query failed; start a new query: this one would fail again\n$`).MatchString(o.stderr) || o.stdout != "" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1, the execution id and advice to start a new query", o.code, o.stdout, o.stderr)
		}
	})
	t.Run("truncated rows", func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.WithRunning(0, 0), usagetest.WithFault(usagetest.RouteResults, 0, usagetest.TruncatedJSON()))
		o := gcusage(t, stubEnv(srv), nil, at(srv, "query", "--format", "ndjson")...)
		if o.code != 1 || !strings.Contains(o.stderr, "the answer was cut short") || !strings.Contains(o.stderr, "; read it again with: gcusage results ") {
			t.Errorf("exit %d, stderr %q; want 1, the decoding error and the command to read the rows again", o.code, o.stderr)
		}
	})
	t.Run("unknown execution", func(t *testing.T) {
		srv := usagetest.NewServer(t)
		o := gcusage(t, stubEnv(srv), nil, at(srv, "results", "no-such-id")...)
		if o.code != 1 || !strings.Contains(o.stderr, "404") || !strings.Contains(o.stderr, "no-such-id") || strings.Contains(o.stderr, "resume") ||
			!strings.HasSuffix(o.stderr, "; an execution id belongs to one organization and region: check the credentials and the region; "+
				"the id of a search is read with 'gcusage results ID --search', that of a query --client or a summary with 'gcusage results ID --client CLIENT_ID'\n") {
			t.Errorf("exit %d, stderr %q; want 1 and a 404 naming the id, with what to check but no resume command", o.code, o.stderr)
		}
	})
}

// TestResumeAfterTimeout gives up on a long query, then runs the results
// command the error line prints, once the query has ended, in virtual time.
func TestResumeAfterTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, time.Hour))
		o := gcusage(t, stubEnv(srv), srv.Transport(), at(srv, "query", "--interval", jan, "--format", "csv", "--timeout", "1m")...)
		m := regexp.MustCompile(`^gcusage: execution \S+: wait timed out after 1m0s: context deadline exceeded; resume with: (gcusage results .*)\n$`).FindStringSubmatch(o.stderr)
		if o.code != 1 || m == nil || o.stdout != "" {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and the resume command", o.code, o.stdout, o.stderr)
		}
		time.Sleep(time.Hour)
		args := strings.Fields(m[1])[1:]
		o = gcusage(t, stubEnv(srv), srv.Transport(), args...)
		if o.code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, o.code, o.stderr)
		}
		// results does not know the query: it prints the API's full row.
		golden(t, "results-csv", o.stdout)
	})
}

// TestResumeAfterInterrupt cancels the wait, as Ctrl-C does, and gets the
// command that resumes it, and the exit code a shell gives a process the
// signal killed.
func TestResumeAfterInterrupt(t *testing.T) {
	for _, tc := range []struct {
		cause error
		code  int
	}{{nil, 130}, {interrupted{os.Interrupt}, 130}, {interrupted{syscall.SIGTERM}, 143}} {
		synctest.Test(t, func(t *testing.T) {
			srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, time.Hour))
			ctx, cancel := context.WithCancelCause(context.Background())
			time.AfterFunc(time.Minute, func() { cancel(tc.cause) })
			var stdout, stderr bytes.Buffer
			env := stubEnv(srv)
			a := &Factory{Getenv: func(k string) string { return env[k] }, Stdout: &stdout, Stderr: &stderr, Transport: srv.Transport(), Now: time.Now}
			code := a.run(ctx, at(srv, "query", "--timeout", "0"))
			if !regexp.MustCompile(`^gcusage: execution \S+: wait canceled after 1m0s: context canceled; resume with: gcusage results \S+ --api-url`).MatchString(stderr.String()) || code != tc.code {
				t.Errorf("cause %v: exit %d, stderr %q; want %d and the resume command", tc.cause, code, stderr.String(), tc.code)
			}
		})
	}
}

// TestResultsOfAnSDKQuery prints, as a table of every field of the API's
// row, an execution that the SDK started: results does not know the query.
func TestResultsOfAnSDKQuery(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.WithRunning(0, 0))
	c, err := client.New(client.WithBaseURLs(srv.URL, srv.LoginURL), client.WithClientCredentials(srv.ClientID, srv.ClientSecret))
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.Start(t.Context(), client.Query{Interval: jan, GroupBy: []gen.GroupBy{gen.GroupByHTTPMethod}, Metrics: []gen.Metric{gen.MetricRequests}})
	if err != nil {
		t.Fatal(err)
	}
	o := gcusage(t, stubEnv(srv), nil, at(srv, "results", e.ID)...)
	lines := strings.Split(strings.TrimSpace(o.stdout), "\n")
	const header = "CLIENT ID CLIENT NAME ORGANIZATION ID USER ID TEMPLATE URI METHOD DATE 2XX 3XX 4XX 5XX 429 REQUESTS"
	if o.code != 0 || len(lines) != 1+3+1 || strings.Join(strings.Fields(lines[0]), " ") != header ||
		!strings.HasPrefix(lines[len(lines)-1], "TOTAL") || !strings.Contains(lines[1], " GET ") {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant a header of every field, a total per method and the totals", o.code, o.stderr, o.stdout)
	}
}

// TestDemo runs the README's main job. In a bubble the clock (see clock)
// starts at 2024-01-08, so the default interval, and the output, are fixed: totals
// per client over the last 7 full days, without a date column, and a row
// per day and client with --granularity day.
func TestDemo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := gcusage(t, nil, nil, "query", "--demo")
		if o.code != 0 {
			t.Fatalf("exit %d: %s", o.code, o.stderr)
		}
		lines := strings.Split(strings.TrimSpace(o.stdout), "\n")
		// The standalone stub's sample data: its 3 clients.
		if len(lines) != 1+3+1 || strings.Contains(lines[0], "DATE") {
			t.Errorf("the demo does not show a total per client without dates:\n%s", o.stdout)
		}
		golden(t, "demo", o.stdout)
		if o.stderr != "gcusage: demo: interval 2024-01-01/2024-01-07, sample data from an in-process stub; no account, nothing sent over the network\n" {
			t.Errorf("stderr %q, want the demo note naming the interval", o.stderr)
		}
		o = gcusage(t, nil, nil, "query", "--demo", "--granularity", "day")
		if o.code != 0 || !strings.Contains(strings.SplitN(o.stdout, "\n", 2)[0], "  DATE  ") || !strings.Contains(o.stdout, "2024-01-01") || strings.Contains(o.stdout, "2024-01-08") {
			t.Errorf("--granularity day: exit %d, want a date column over the last 7 full days:\n%s", o.code, o.stdout)
		}
		// The interval of Genesys' own blog: year and month, end included.
		o = gcusage(t, nil, nil, "query", "--demo", "--interval", "2020-01/2020-06", "--granularity", "month", "--format", "csv")
		if o.code != 0 || !strings.Contains(o.stdout, ",2020-01-01,") || !strings.Contains(o.stdout, ",2020-06-01,") || strings.Contains(o.stdout, "2020-07") {
			t.Errorf("--interval 2020-01/2020-06: exit %d, stderr %q, want January to June:\n%s", o.code, o.stderr, o.stdout)
		}
		if o := gcusage(t, nil, nil, "query", "--demo", "--quiet", "--format", "ndjson"); o.code != 0 || o.stderr != "" || strings.Count(o.stdout, "\n") != 3 {
			t.Errorf("--quiet: exit %d, stderr %q, %d lines; want 0, nothing, 3 rows", o.code, o.stderr, strings.Count(o.stdout, "\n"))
		}
	})
}

// TestQueryOnTheWire checks what reaches the API: enums in exact case
// whatever case was typed, and --since/--until against the clock.
func TestQueryOnTheWire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0))
		for _, tc := range []struct {
			args       []string
			want, note string // the body sent, and the note on stderr ("" for none)
		}{
			{nil, `{"groupBy":["OAuthClientId"],"interval":"2024-01-01/2024-01-07"}`, ""},
			{[]string{"--since", "36h", "--group-by", "", "--granularity", "MONTH"},
				`{"granularity":"Month","interval":"2024-01-06T12:00:00.000Z/2024-01-08T00:00:00.000Z"}`, ""},
			{[]string{"--since", "2023-12-01", "--until", "2d", "--group-by", "userid, httpmethod", "--metrics", "status500"},
				`{"groupBy":["UserId","HttpMethod"],"interval":"2023-12-01/2024-01-05","metrics":["Status500"]}`, ""},
			{[]string{"--since", "2023-12-20", "--until", "2023-12-22"}, `{"groupBy":["OAuthClientId"],"interval":"2023-12-20/2023-12-22"}`, ""},
			{[]string{"--since", "3d", "--until", "2025-01-01"}, `{"groupBy":["OAuthClientId"],"interval":"2024-01-05/2024-01-07"}`,
				"gcusage: note: --until 2025-01-01 reaches into today or later: the interval ends yesterday, 2024-01-07, as usage is counted up to then\n"},
			{[]string{"--until", "2024-01-06T12:00:00+02:00"},
				`{"groupBy":["OAuthClientId"],"interval":"2023-12-30T10:00:00.000Z/2024-01-06T10:00:00.000Z"}`, ""},
			{[]string{"--interval", "2024-01-01/2024-01-07"}, `{"groupBy":["OAuthClientId"],"interval":"2024-01-01/2024-01-07"}`, ""},
			{[]string{"--interval", "2024-01-01/2024-01-08"}, `{"groupBy":["OAuthClientId"],"interval":"2024-01-01/2024-01-07"}`,
				"gcusage: note: --interval 2024-01-01/2024-01-08 reaches into today or later: cut to 2024-01-01/2024-01-07, as usage is counted up to yesterday, 2024-01-07\n"},
		} {
			n := len(srv.Requests())
			o := gcusage(t, stubEnv(srv), srv.Transport(), at(srv, append([]string{"query", "--format", "csv"}, tc.args...)...)...)
			if o.code != 0 || o.stderr != tc.note {
				t.Fatalf("%v: exit %d, stderr %q; want 0 and %q", tc.args, o.code, o.stderr, tc.note)
			}
			var body string
			for _, r := range srv.Requests()[n:] {
				if r.Method == http.MethodPost && r.Path == "/api/v2/usage/query" {
					body = string(r.Body)
				}
			}
			if strings.TrimSpace(body) != tc.want {
				t.Errorf("%v: sent %s, want %s", tc.args, body, tc.want)
			}
		}
	})
}

// One rule for an interval that reaches into today, in every command and
// for each of --interval, --since and --until: cut to end yesterday with a
// note (none with --quiet), or, when it starts today or later, refused
// before anything is sent, in words that fit a date in the future.
func TestIntervalRule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithNow(clock))
		const yesterday = "usage is counted up to yesterday, 2024-01-07\n"
		for _, cmd := range [][]string{{"query"}, {"search"}, {"jobs", "query"}} {
			for _, tc := range []struct {
				args []string
				want string
			}{
				{[]string{"--since", "0d"}, "gcusage: --since 0d starts today: " + yesterday},
				{[]string{"--interval", "2024-01-08/2024-01-09"}, "gcusage: --interval 2024-01-08/2024-01-09 starts today: " + yesterday},
				{[]string{"--since", "2098-12-01", "--until", "2099-01-01"}, "gcusage: --since 2098-12-01 is in the future: " + yesterday},
				{[]string{"--interval", "2099-01-01/2099-02-01"}, "gcusage: --interval 2099-01-01/2099-02-01 is in the future: " + yesterday},
			} {
				var tr refusing
				o := gcusage(t, stubEnv(srv), &tr, at(srv, append(cmd, tc.args...)...)...)
				if o.code != 2 || o.stderr != tc.want || tr.n.Load() != 0 {
					t.Errorf("%v %v: exit %d, stderr %q, %d requests; want 2, %q and nothing sent", cmd, tc.args, o.code, o.stderr, tr.n.Load(), tc.want)
				}
			}
			for _, tc := range []struct {
				args []string
				note string
			}{
				{[]string{"--interval", "2024-01-03/9999-12-31"}, "gcusage: note: --interval 2024-01-03/9999-12-31 reaches into today or later: cut to 2024-01-03/2024-01-07, as " + yesterday},
				{[]string{"--since", "2024-01-03", "--until", "2099-01-01"}, "gcusage: note: --until 2099-01-01 reaches into today or later: the interval ends yesterday, 2024-01-07, as usage is counted up to then\n"},
			} {
				args := at(srv, append(cmd, append(tc.args, "--format", "csv")...)...)
				n := len(srv.Requests())
				o := gcusage(t, stubEnv(srv), srv.Transport(), args...)
				if o.code != 0 || !strings.HasPrefix(o.stderr, tc.note) || strings.Count(o.stdout, "\n") < 2 {
					t.Errorf("%v %v: exit %d, stderr %q; want 0 and %q", cmd, tc.args, o.code, o.stderr, tc.note)
				}
				for _, r := range srv.Requests()[n:] {
					if r.Method == http.MethodPost && strings.HasPrefix(r.Path, "/api/") && !strings.Contains(string(r.Body), "2024-01-03/2024-01-07") {
						t.Errorf("%v %v: sent %s, want the interval cut to 2024-01-03/2024-01-07", cmd, tc.args, r.Body)
					}
				}
				if o := gcusage(t, stubEnv(srv), srv.Transport(), append(args, "--quiet")...); o.code != 0 || o.stderr != "" {
					t.Errorf("%v %v --quiet: exit %d, stderr %q; want no note", cmd, tc.args, o.code, o.stderr)
				}
			}
		}
	})
}

// TestCredentialsFromEnv uses each kind of credentials the environment may
// hold, and never prints them, not even with --verbose.
func TestCredentialsFromEnv(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.WithRunning(0, 0))
	token := fetchToken(t, srv)
	for _, tc := range []struct {
		name       string
		env        map[string]string
		tokenFetch bool
	}{
		{"client credentials", stubEnv(srv), true},
		{"access token", map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": token}, false},
		{"access token wins", map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": token, "GENESYSCLOUD_OAUTHCLIENT_ID": "x", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "y"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(srv.Requests())
			o := gcusage(t, tc.env, nil, at(srv, "query", "--verbose", "--format", "json")...)
			if o.code != 0 {
				t.Fatalf("exit %d: %s", o.code, o.stderr)
			}
			fetched := false
			for _, r := range srv.Requests()[n:] {
				fetched = fetched || r.Path == "/oauth/token"
			}
			if fetched != tc.tokenFetch {
				t.Errorf("token fetched: %v, want %v", fetched, tc.tokenFetch)
			}
			if !strings.Contains(o.stderr, "gcusage: http attempt method=POST path=/api/v2/usage/query attempt=1 duration=") {
				t.Errorf("--verbose logged nothing: %q", o.stderr)
			}
			for _, secret := range []string{srv.ClientSecret, token} {
				if strings.Contains(o.stdout+o.stderr, secret) {
					t.Errorf("a secret is printed:\n%s", o.stderr)
				}
			}
		})
	}
	t.Run("access token and only --api-url", func(t *testing.T) {
		// Nothing logs in, so neither a region nor --login-url is needed.
		n := len(srv.Requests())
		o := gcusage(t, map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": token}, nil, "query", "--api-url", srv.URL, "--format", "csv")
		if o.code != 0 || len(srv.Requests()) == n {
			t.Fatalf("exit %d, %d requests: %s", o.code, len(srv.Requests())-n, o.stderr)
		}
		for _, r := range srv.Requests()[n:] {
			if r.Path == "/oauth/token" {
				t.Errorf("a token was fetched with GENESYSCLOUD_ACCESS_TOKEN set")
			}
		}
	})
	t.Run("region from env", func(t *testing.T) {
		env := map[string]string{"GENESYSCLOUD_REGION": "mypurecloud.ie", "GENESYSCLOUD_ACCESS_TOKEN": token}
		// The region fills in the URL not given; the in-memory transport
		// refuses the real host, so nothing leaves the machine.
		o := gcusage(t, env, srv.Transport(), "query", "--api-url", srv.URL, "--timeout", "5s")
		if o.code != 0 {
			t.Errorf("exit %d: %s", o.code, o.stderr)
		}
	})
}

func fetchToken(t *testing.T, srv *usagetest.Server) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.LoginURL+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(srv.ClientID, srv.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("no token: %v", err)
	}
	return tok.AccessToken
}

// TestProgress shows the progress line only on a terminal: never in a
// plain stderr, and on the terminal once per poll that found it running.
func TestProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(3, 0))
		var stdout, stderr, tty bytes.Buffer
		env := stubEnv(srv)
		a := &Factory{Getenv: func(k string) string { return env[k] }, Stdout: &stdout, Stderr: &stderr, Progress: &tty, Transport: srv.Transport(), Now: time.Now}
		if code := a.run(context.Background(), at(srv, "query", "--format", "csv")); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		var id string
		for _, r := range srv.Requests() {
			if r.Method == http.MethodGet {
				id = strings.Split(r.Path, "/")[5] // /api/v2/usage/query/{id}/results
			}
		}
		for _, want := range []string{"gcusage: execution " + id + ": Running, poll 1, ", "gcusage: execution " + id + ": Running, poll 3, "} {
			if id == "" || !strings.Contains(tty.String(), want) {
				t.Errorf("progress %q lacks %q", tty.String(), want)
			}
		}
		if !strings.HasSuffix(tty.String(), "\r\x1b[K") || stderr.Len() != 0 || strings.Contains(stdout.String(), "Running") {
			t.Errorf("progress not cleared, or it went elsewhere: tty %q, stderr %q", tty.String(), stderr.String())
		}
	})
	// run, as main calls it, shows progress on a terminal only: a buffer
	// is not one.
	if a := newFactory(os.Getenv, io.Discard, &bytes.Buffer{}); a.Progress != nil {
		t.Error("progress goes to a buffer")
	}
}

func TestRegionsAndVersion(t *testing.T) {
	o := gcusage(t, nil, nil, "regions")
	lines := strings.Split(strings.TrimSpace(o.stdout), "\n")
	if o.code != 0 || len(lines) != len(client.Regions())+1 {
		t.Fatalf("exit %d, %d lines:\n%s", o.code, len(lines), o.stdout)
	}
	if f := strings.Fields(lines[7]); len(f) != 3 || f[0] != "eu-west-1" || f[1] != "mypurecloud.ie" || f[2] != "https://api.mypurecloud.ie" {
		t.Errorf("line %q, want eu-west-1 mypurecloud.ie https://api.mypurecloud.ie", lines[7])
	}
	for _, v := range []string{"version", "--version", "-v"} {
		if o := gcusage(t, nil, nil, v); o.code != 0 || !strings.HasPrefix(o.stdout, "gcusage "+client.Version+" go") {
			t.Errorf("%s: exit %d, %q", v, o.code, o.stdout)
		}
	}
}

// TestHelp gives each command's help on stdout with examples, exit 0,
// however help is asked for, even twice.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the first line
	}{
		{[]string{"--help"}, "gcusage runs"}, {[]string{"help"}, "gcusage runs"}, {[]string{"-h"}, "gcusage runs"},
		{[]string{"help", "-h"}, "gcusage runs"}, {[]string{"help", "--help"}, "gcusage runs"},
		{[]string{"-h", "-h"}, "gcusage runs"}, {[]string{"--help", "-h"}, "gcusage runs"}, {[]string{"help", "help"}, "gcusage runs"},
		{[]string{"help", "query"}, "Usage:"}, {[]string{"help", "query", "-h"}, "Usage:"}, {[]string{"-h", "results"}, "Usage:"},
		{[]string{"help", "-h", "regions"}, "Usage:"}, {[]string{"query", "--help"}, "Usage:"}, {[]string{"query", "-h", "-h"}, "Usage:"},
		{[]string{"results", "-h"}, "Usage:"}, {[]string{"regions", "--help"}, "Usage:"}, {[]string{"version", "--help"}, "Usage:"},
		{[]string{"help", "--version"}, "Usage:"}, {[]string{"regions", "help"}, "Usage:"}, {[]string{"version", "help"}, "Usage:"},
		{[]string{"jobs", "help"}, "Usage:"},
	} {
		o := gcusage(t, nil, nil, tc.args...)
		if o.code != 0 || o.stderr != "" || !strings.HasPrefix(o.stdout, tc.want) || !strings.Contains(o.stdout, "Examples:\n") {
			t.Errorf("%v: exit %d, stderr %q, stdout:\n%s", tc.args, o.code, o.stderr, o.stdout)
		}
	}
	if o := gcusage(t, nil, nil, "help", "stats"); o.code != 2 || !strings.Contains(o.stderr, `unknown command "stats"`) {
		t.Errorf("help stats: exit %d, stderr %q; want 2 and the unknown command", o.code, o.stderr)
	}
	if o := gcusage(t, nil, nil, "query", "--help"); !strings.Contains(o.stdout, "-group-by list") || !strings.Contains(o.stdout, "gcusage query --demo") ||
		!strings.Contains(o.stdout, "cuts a later text cell that does not fit") {
		t.Errorf("query help lacks its flags or examples:\n%s", o.stdout)
	}
	// --top names the count it ranks by, as rankBy picks it: --metrics
	// only where the command has it.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"results"}, "(default: by Requests; with --search, by Status200)"},
		{[]string{"jobs", "results"}, "(default: by Requests)"},
		{[]string{"summary"}, "(default: by Requests)"},
		{[]string{"query"}, "(default: by Requests when --metrics has it, else by the first metric --metrics names)"},
		{[]string{"jobs", "query"}, "(default: by Requests when --metrics has it, else by the first metric --metrics names)"},
		{[]string{"search"}, "(default: by the first count --metrics names, Status200 by default)"},
	} {
		o := gcusage(t, nil, nil, append(tc.args, "--help")...)
		var top string
		for l := range strings.Lines(o.stdout) {
			if strings.Contains(l, "--top N") {
				top = l
			}
		}
		if !strings.Contains(top, tc.want) {
			t.Errorf("%v --help: --top reads %q, want %q", tc.args, top, tc.want)
		}
	}
	// Every command that prints rows says what a cut-short run leaves.
	for _, args := range [][]string{{"query"}, {"results"}, {"summary"}, {"search"}, {"jobs", "query"}, {"jobs", "results"}} {
		if o := gcusage(t, nil, nil, append(args, "--help")...); !strings.Contains(o.stdout, "json is left without its\nclosing bracket on purpose") {
			t.Errorf("%v --help does not say that a cut json stays open", args)
		}
	}
}

// help after a command, or after help, shows that command's help and sends
// nothing, even with credentials at hand; help takes every word of a
// command (jobs query).
func TestHelpAfterACommand(t *testing.T) {
	srv := usagetest.NewServer(t)
	for _, tc := range []struct {
		args []string
		want string // the usage line
	}{
		{[]string{"query", "help"}, "gcusage query [flags]"},
		{[]string{"search", "help"}, "gcusage search [flags]"},
		{[]string{"summary", "help"}, "gcusage summary <clientId> [flags]"},
		{[]string{"results", "help"}, "gcusage results <executionId> [flags]"},
		{[]string{"results", "help", "--format", "csv"}, "gcusage results <executionId> [flags]"},
		{[]string{"jobs", "query", "help"}, "gcusage jobs query [flags]"},
		{[]string{"jobs", "results", "help"}, "gcusage jobs results JOB_ID"},
		{[]string{"help", "jobs", "query"}, "gcusage jobs query [flags]"},
		{[]string{"help", "jobs", "results"}, "gcusage jobs results JOB_ID"},
		{[]string{"-h", "jobs", "query", "--help"}, "gcusage jobs query [flags]"},
	} {
		var tr refusing
		o := gcusage(t, stubEnv(srv), &tr, at(srv, tc.args...)...)
		if o.code != 0 || o.stderr != "" || !strings.HasPrefix(o.stdout, "Usage:\n  "+tc.want) || !strings.Contains(o.stdout, "\nFlags:\n") {
			t.Errorf("%q: exit %d, stderr %q, stdout:\n%s", tc.args, o.code, o.stderr, o.stdout)
		}
		if n := len(srv.Requests()) + int(tr.n.Load()); n != 0 {
			t.Errorf("%q: %d requests sent, want none", tc.args, n)
		}
	}
	if o := gcusage(t, nil, nil, "help", "jobs", "query"); !strings.Contains(o.stdout, "-group-by list") || !strings.Contains(o.stdout, "-template-uri") {
		t.Errorf("help jobs query lacks the flags of jobs query:\n%s", o.stdout)
	}
}

// TestNoWait starts a query without waiting for it: one POST and no GET,
// the id alone on stdout and the command that waits for it on stderr,
// which then prints the rows.
func TestNoWait(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.WithRunning(0, 0))
	o := gcusage(t, stubEnv(srv), nil, at(srv, "query", "--interval", jan, "--format", "csv", "--no-wait")...)
	id := strings.TrimSuffix(o.stdout, "\n")
	m := regexp.MustCompile(`^gcusage: execution (\S+) started; wait for it with: (gcusage results .*)\n$`).FindStringSubmatch(o.stderr)
	if o.code != 0 || m == nil || m[1] != id || !strings.Contains(m[2], " "+id+" ") || strings.Count(o.stdout, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0, the id alone and the command that waits for it", o.code, o.stdout, o.stderr)
	}
	var api []string
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r.Path, "/api/") {
			api = append(api, r.Method+" "+r.Path)
		}
	}
	if len(api) != 1 || api[0] != "POST /api/v2/usage/query" {
		t.Errorf("requests to the API: %q; want the POST alone", api)
	}
	o = gcusage(t, stubEnv(srv), nil, strings.Fields(m[2])[1:]...)
	if o.code != 0 {
		t.Fatalf("%s: exit %d, stderr %q", m[2], o.code, o.stderr)
	}
	golden(t, "results-csv", o.stdout)
	if o := gcusage(t, stubEnv(srv), nil, at(srv, "query", "--no-wait", "--quiet")...); o.code != 0 || o.stderr != "" || strings.Count(o.stdout, "\n") != 1 {
		t.Errorf("--quiet: exit %d, stdout %q, stderr %q; want the id alone", o.code, o.stdout, o.stderr)
	}
}

// hostile serves the usage API as the real one answers, with status and
// body for the POST, and rows of the results that the test writes: text
// that no stub would send. Its callers give GENESYSCLOUD_ACCESS_TOKEN, so
// that nothing logs in.
func hostile(t *testing.T, postStatus int, postBody, rows string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v2/usage/query":
			w.WriteHeader(postStatus)
			io.WriteString(w, postBody)
		case r.Method == http.MethodGet && r.URL.Path == "/api/v2/usage/query/e1/results":
			io.WriteString(w, `{"results":[`+rows+`],"queryStatus":"Complete"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The SDK's warnings and --verbose records read as the CLI's other lines:
// "gcusage: warning: MESSAGE key=value", one escaped line each, without
// slog's time= and level= fields.
func TestLogLinesReadLikeTheCLIs(t *testing.T) {
	row := func(date string) string {
		d, _ := json.Marshal(date)
		return `{"clientId":"c1","clientName":"n","organizationId":"","userId":"","templateUri":"","httpMethod":"","status200":1,"status300":0,"status400":0,"status500":0,"status429":0,"requests":1,"date":` + string(d) + `}`
	}
	srv := hostile(t, http.StatusAccepted, started, row("2024-01-01T00:00:00Z")+","+row("soon\n\x1b[31mforged line"))
	env := map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": "t"}
	o := gcusage(t, env, nil, "query", "--interval", jan, "--granularity", "day", "--api-url", srv.URL, "--format", "csv")
	if o.code != 0 || strings.Count(o.stderr, "\n") != 1 || strings.ContainsFunc(o.stderr[:len(o.stderr)-1], output.IsControl) ||
		!strings.HasPrefix(o.stderr, `gcusage: warning: row date unreadable; Date left zero date="soon`) || !strings.HasSuffix(o.stderr, `forged line" row=2`+"\n") {
		t.Errorf("exit %d, stderr %q; want one escaped line: gcusage: warning: MESSAGE date=\"…\" row=2", o.code, o.stderr)
	}
	o = gcusage(t, env, nil, "query", "--interval", jan, "--api-url", srv.URL, "--format", "csv", "--verbose")
	attempt := regexp.MustCompile(`^gcusage: http attempt method=(POST|GET) path=/api/v2/usage/query(/e1/results)? attempt=1 duration=\S+ status=20[02] correlation_id=""$`)
	lines := strings.Split(strings.TrimSuffix(o.stderr, "\n"), "\n")
	for _, l := range lines {
		if !attempt.MatchString(l) && !strings.HasPrefix(l, "gcusage: warning: row date unreadable;") {
			t.Errorf("--verbose line %q: want gcusage: http attempt key=value...", l)
		}
	}
	if o.code != 0 || len(lines) != 3 {
		t.Errorf("--verbose: exit %d, stderr\n%s\nwant the POST, the GET and the warning", o.code, o.stderr)
	}
	if o := gcusage(t, env, nil, "query", "--interval", jan, "--granularity", "day", "--api-url", srv.URL, "--format", "csv", "--quiet"); o.stderr != "" {
		t.Errorf("--quiet: stderr %q, want no warning", o.stderr)
	}
}

const started = `{"executionId":"e1","resultsUri":"/api/v2/usage/query/e1/results"}`

// TestForbiddenNamesThePermissions gives a 403, whose fix is a permission
// only an admin can grant: the error names the permissions.
func TestForbiddenNamesThePermissions(t *testing.T) {
	srv := hostile(t, http.StatusForbidden, `{"message":"You are missing the following permission(s): [usage:organization:view, oauth:client:view]","code":"missing.any.permissions","status":403}`, "")
	o := gcusage(t, map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": "t"}, nil, "query", "--api-url", srv.URL)
	if o.code != 1 || !strings.HasSuffix(o.stderr, "; the credentials need the permission any of oauth:client:view, usage:organization:view\n") {
		t.Errorf("exit %d, stderr %q; want 1 and the permissions needed", o.code, o.stderr)
	}
}

// TestServerTextCannotDriveTheTerminal sends control characters in an
// error message and in client names: stderr and the table show them
// escaped, and a newline cannot forge a row; csv and json keep them exact.
func TestServerTextCannotDriveTheTerminal(t *testing.T) {
	env := map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": "t"}
	const evil = "\x1b]0;pwned\x07\u009b2J\x7f"
	t.Run("stderr", func(t *testing.T) {
		msg, _ := json.Marshal("bad value " + evil + "\r")
		srv := hostile(t, http.StatusBadRequest, `{"message":`+string(msg)+`,"code":"bad.request","status":400}`, "")
		o := gcusage(t, env, nil, "query", "--api-url", srv.URL, "--verbose")
		// The client escapes server text in its errors already; either
		// escape will do, as long as no control character gets through.
		if o.code != 1 || !strings.Contains(o.stderr, `bad value \x1b]0;pwned\`) || !strings.Contains(o.stderr, `\u009b2J\x7f`) {
			t.Errorf("exit %d, stderr %q; want 1 and the message, escaped", o.code, o.stderr)
		}
		if i := strings.IndexFunc(strings.ReplaceAll(o.stderr, "\n", ""), output.IsControl); i >= 0 {
			t.Errorf("stderr %q has a control character at byte %d", o.stderr, i)
		}
	})
	name := "Acme\nTOTAL  999999" + evil
	row := func(id string, n int) string {
		b, _ := json.Marshal(name)
		return fmt.Sprintf(`{"clientId":%q,"clientName":%s,"organizationId":"","userId":"","templateUri":"","httpMethod":"",`+
			`"status200":%d,"status300":0,"status400":0,"status500":0,"status429":0,"requests":%[3]d,"date":"2024-01-01T00:00:00Z"}`, id, b, n)
	}
	srv := hostile(t, http.StatusAccepted, started, row("c1", 3)+","+row("c2", 4))
	args := []string{"query", "--api-url", srv.URL, "--interval", jan, "--granularity", "day", "--metrics", "requests"}
	o := gcusage(t, env, nil, args...)
	want := `CLIENT ID  CLIENT NAME                                        DATE        REQUESTS
c1         Acme\x0aTOTAL  999999\x1b]0;pwned\x07\u009b2J\x7f  2024-01-01  3
c2         Acme\x0aTOTAL  999999\x1b]0;pwned\x07\u009b2J\x7f  2024-01-01  4
TOTAL                                                                     7
`
	if o.code != 0 || o.stdout != want {
		t.Errorf("table: exit %d, stderr %q, stdout\n%s\nwant\n%s", o.code, o.stderr, o.stdout, want)
	}
	o = gcusage(t, env, nil, append(args, "--format", "csv")...)
	recs, err := csv.NewReader(strings.NewReader(o.stdout)).ReadAll()
	if o.code != 0 || err != nil || len(recs) != 3 || recs[1][1] != name || recs[2][1] != name {
		t.Errorf("csv: exit %d, %v, stdout %q; want the names exact", o.code, err, o.stdout)
	}
	for _, f := range []string{"json", "ndjson"} {
		o = gcusage(t, env, nil, append(args, "--format", f)...)
		doc := o.stdout
		if f == "ndjson" {
			doc = "[" + strings.ReplaceAll(strings.TrimSpace(doc), "\n", ",") + "]"
		}
		var got []map[string]any
		err := json.Unmarshal([]byte(doc), &got)
		if o.code != 0 || err != nil || len(got) != 2 || got[0]["clientName"] != name || got[1]["clientName"] != name {
			t.Errorf("%s: exit %d, stdout %q; want the names exact", f, o.code, o.stdout)
		}
	}
}

// --sort and --top rank the groups largest first and keep the first N, in
// every format.
func TestSortAndTop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := gcusage(t, nil, nil, "query", "--demo", "--metrics", "requests,status429", "--sort", "STATUS429", "--top", "3", "--format", "csv", "--quiet")
		lines := strings.Split(strings.TrimSpace(o.stdout), "\n")
		if o.code != 0 || len(lines) != 1+3 || lines[0] != "clientId,clientName,status429,requests" {
			t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant a header and 3 rows", o.code, o.stderr, o.stdout)
		}
		all := gcusage(t, nil, nil, "query", "--demo", "--metrics", "requests,status429", "--format", "csv", "--quiet")
		var counts []int64
		for _, l := range strings.Split(strings.TrimSpace(all.stdout), "\n")[1:] {
			counts = append(counts, atoi(t, strings.Split(l, ",")[2]))
		}
		slices.SortFunc(counts, func(a, b int64) int { return cmp.Compare(b, a) })
		for i, l := range lines[1:] {
			if got := atoi(t, strings.Split(l, ",")[2]); got != counts[i] {
				t.Errorf("row %d has status429 %d, want %d (of %v)", i+1, got, counts[i], counts)
			}
		}
	})
}

// --top without --sort ranks by requests when the rows have it, else by the
// first count --metrics names (a search has no requests): never by a count
// that is 0 in every row.
func TestTopRanksByACountTheRowsHave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			col  int // of the csv: the count ranked by
		}{
			{[]string{"query", "--group-by", "oauthclientid,templateuri", "--metrics", "status429,status200"}, 4},
			{[]string{"query", "--group-by", "oauthclientid,templateuri", "--metrics", "status300,requests"}, 4},
			{[]string{"search", "--since", "3d"}, 4},
			{[]string{"search", "--since", "3d", "--metrics", "clientname,status400,status300"}, 2},
		} {
			args := append(tc.args, "--demo", "--format", "csv", "--quiet")
			all := strings.Split(strings.TrimSpace(gcusage(t, nil, nil, args...).stdout), "\n")
			o := gcusage(t, nil, nil, append(args, "--top", "3")...)
			top := strings.Split(strings.TrimSpace(o.stdout), "\n")
			if o.code != 0 || len(top) != 4 || len(all) < 6 || top[0] != all[0] {
				t.Fatalf("%q: exit %d, stderr %q, stdout:\n%s", tc.args, o.code, o.stderr, o.stdout)
			}
			var counts []int64
			for _, l := range all[1:] {
				counts = append(counts, atoi(t, strings.Split(l, ",")[tc.col]))
			}
			slices.SortFunc(counts, func(a, b int64) int { return cmp.Compare(b, a) })
			for i, l := range top[1:] {
				if got := atoi(t, strings.Split(l, ",")[tc.col]); got != counts[i] || got == 0 {
					t.Errorf("%q: row %d has %s %d, want %d (of %v)", tc.args, i+1, strings.Split(top[0], ",")[tc.col], got, counts[i], counts)
				}
			}
		}
	})
}

// results does not know the query: a field that only a later row carries
// is not dropped, since it prints the API's full row.
func TestResultsKeepsEveryField(t *testing.T) {
	srv := hostile(t, http.StatusAccepted, started, `{"clientId":"c1","requests":1},{"clientId":"c2","templateUri":"api/v2/flows","requests":2}`)
	o := gcusage(t, map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": "a-test-token"}, nil, "results", "e1", "--api-url", srv.URL, "--format", "csv")
	if o.code != 0 || !strings.Contains(o.stdout, "\nc2,,,,api/v2/flows,,,") {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant the second row's templateUri", o.code, o.stderr, o.stdout)
	}
}

// failing answers the first n requests to a path with an error or a
// status, then lets the rest through to next.
type failing struct {
	next   http.RoundTripper
	path   string
	n      int
	status int   // when err is nil
	err    error // a connection failure
	mu     sync.Mutex
}

func (f *failing) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	fail := r.URL.Path == f.path && f.n != 0
	if fail {
		f.n--
	}
	f.mu.Unlock()
	switch {
	case !fail:
		return f.next.RoundTrip(r)
	case f.err != nil:
		return nil, f.err
	}
	// Retry-After makes the retries' waits fixed, not jittered.
	return &http.Response{StatusCode: f.status, Header: http.Header{"Content-Type": {"text/html"}, "Retry-After": {"1"}},
		Body: io.NopCloser(strings.NewReader("<html><title>busy</title></html>")), Request: r}, nil
}

// A retried failure is never silent: --verbose logs it, and a terminal's
// progress line shows it, with the attempt that comes next.
func TestRetriesAreShown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0))
		env := stubEnv(srv)
		tr := &failing{next: srv.Transport(), path: "/api/v2/usage/query", n: 2, status: http.StatusServiceUnavailable}
		o := gcusage(t, env, tr, at(srv, "query", "--verbose", "--format", "csv")...)
		if o.code != 0 || !strings.Contains(o.stderr, "gcusage: POST /api/v2/usage/query: 503 Service Unavailable; attempt 2 in 1s") ||
			!strings.Contains(o.stderr, "; attempt 3 in ") {
			t.Errorf("--verbose: exit %d, stderr %q; want each retry named with the next attempt", o.code, o.stderr)
		}
		tr.n = 1
		var stdout, stderr, tty bytes.Buffer
		a := &Factory{Getenv: func(k string) string { return env[k] }, Stdout: &stdout, Stderr: &stderr, Progress: &tty, Transport: tr, Now: clock}
		if code := a.run(context.Background(), at(srv, "query", "--format", "csv")); code != 0 || !strings.Contains(tty.String(), "503 Service Unavailable; attempt 2 in ") || stderr.Len() != 0 {
			t.Errorf("progress: exit %d, tty %q, stderr %q; want the retry on the progress line only", code, tty.String(), stderr.String())
		}
	})
}

// An unknown host fails within seconds, with a hint at the flags that name
// the host; a deadline that ends the retries keeps their last cause.
func TestHopelessNetworkFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0))
		dns := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "api.example.invalid", IsNotFound: true}}
		start := time.Now()
		o := gcusage(t, stubEnv(srv), &failing{next: srv.Transport(), path: "/oauth/token", n: -1, err: dns}, at(srv, "query")...)
		if d := time.Since(start); o.code != 1 || d > 10*time.Second || !strings.Contains(o.stderr, "no such host; check --region") || strings.Count(o.stderr, "no such host") != 1 {
			t.Errorf("unknown host: exit %d after %v, stderr %q; want 1 within 10s, no such host said once and a hint at --region", o.code, d, o.stderr)
		}
		o = gcusage(t, stubEnv(srv), &failing{next: srv.Transport(), path: "/api/v2/usage/query", n: -1, status: http.StatusServiceUnavailable},
			at(srv, "query", "--timeout", "2500ms")...)
		if o.code != 1 || !strings.Contains(o.stderr, "context deadline exceeded") || !strings.Contains(o.stderr, "last error: 503") {
			t.Errorf("timeout: exit %d, stderr %q; want the deadline and the last cause", o.code, o.stderr)
		}
	})
}
