package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/usagetest"
)

// TestMain runs the command itself when GCUSAGE_TEST_MAIN is set, so that
// tests can start it as a process (a shell completing its words, a pipe
// closed under it) without building it.
func TestMain(m *testing.M) {
	switch args := os.Getenv("GCUSAGE_TEST_MAIN"); args {
	case "":
	case "-": // the arguments of a shell's call, after --
		os.Args = append(os.Args[:1], os.Args[2:]...)
		main()
	default:
		os.Args = append(os.Args[:1], strings.Fields(args)...)
		main()
	}
	os.Exit(m.Run())
}

// Flag parsing is tested alone: runF gets the options as the flags set
// them, and nothing runs.
func TestFlagsBindToOptions(t *testing.T) {
	f := &Factory{Getenv: func(string) string { return "" }, Stdout: io.Discard, Stderr: io.Discard, Now: clock}
	var q *QueryOptions
	cmd := NewCmdQuery(f, func(o *QueryOptions) error { q = o; return nil })
	cmd.SetArgs([]string{"--since", "30d", "--group-by", "oauthclientid,httpmethod", "--format", "csv", "--top", "5", "--csv-raw", "--region", "eu-west-1", "--no-wait"})
	if err := cmd.Execute(); err != nil || q == nil {
		t.Fatal(err)
	}
	if q.Span.Since != "30d" || q.GroupBy != "oauthclientid,httpmethod" || q.Out.Format != "csv" || q.Out.Top != 5 || !q.Out.CSVRaw ||
		q.Conn.Region != "eu-west-1" || !q.Conn.NoWait || q.Conn.Timeout != 10*time.Minute {
		t.Errorf("options %+v", q)
	}
	var j *JobsQueryOptions
	cmd = NewCmdJobsQuery(f, func(o *JobsQueryOptions) error { j = o; return nil })
	cmd.SetArgs([]string{"--interval", "2024-01-01/2024-01-31", "--sort", "status429", "--http-method", "get", "--client", "c1"})
	if err := cmd.Execute(); err != nil || j == nil {
		t.Fatal(err)
	}
	if j.Span.Interval != "2024-01-01/2024-01-31" || j.Out.Sort != "status429" || j.HTTPMethods != "get" || j.ClientID != "c1" || j.PageSize != 1000 {
		t.Errorf("options %+v", j)
	}
	var r *ResultsOptions
	cmd = NewCmdResults(f, func(o *ResultsOptions) error { r = o; return nil })
	cmd.SetArgs([]string{"e1", "--search", "--page-size", "7"})
	if err := cmd.Execute(); err != nil || r == nil || r.ExecutionID != "e1" || !r.Search || r.PageSize != 7 {
		t.Errorf("results options %+v, %v", r, err)
	}
}

// Help comes from one tree: a group's help subcommand prints exactly what
// --help prints, refuses a word that names nothing, and a mistyped flag
// is matched against flags.
func TestHelpFromTheTree(t *testing.T) {
	for _, sub := range []string{"query", "results"} {
		a, b := gcusage(t, nil, nil, "jobs", "help", sub), gcusage(t, nil, nil, "jobs", sub, "--help")
		if a.code != 0 || a.stdout != b.stdout || !strings.Contains(a.stdout, "      --format format ") || a.stderr != "" {
			t.Errorf("jobs help %s: exit %d, stderr %q, stdout differs from jobs %s --help or shows flags without --:\n%s", sub, a.code, a.stderr, sub, a.stdout)
		}
	}
	o := gcusage(t, nil, nil, "jobs", "help", "bogus")
	if o.code != 2 || o.stdout != "" || o.stderr != "gcusage: unknown jobs command \"bogus\": want query, results or help\n" {
		t.Errorf("jobs help bogus: exit %d, stdout %q, stderr %q; want 2 and the subcommands", o.code, o.stdout, o.stderr)
	}
	o = gcusage(t, nil, nil, "--verison")
	if o.code != 2 || o.stderr != "gcusage: unknown flag --verison; did you mean --version? (see gcusage --help)\n" {
		t.Errorf("--verison: exit %d, stderr %q; want 2 and --version suggested", o.code, o.stderr)
	}
	o = gcusage(t, nil, nil, "query", "-bogus")
	if o.code != 2 || !strings.Contains(o.stderr, "(flags start with --)") {
		t.Errorf("-bogus: exit %d, stderr %q; want 2 and flags start with --", o.code, o.stderr)
	}
	// A long flag with one dash, as Go's flag package takes it, gets its
	// two-dash form, not pflag's reading of it as shorthands.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-help"}, "gcusage: -help: long flags take two dashes: --help (see gcusage --help)\n"},
		{[]string{"query", "-help"}, "gcusage: query: -help: long flags take two dashes: --help (see gcusage query --help)\n"},
		{[]string{"query", "-format", "csv"}, "gcusage: query: -format: long flags take two dashes: --format (see gcusage query --help)\n"},
		{[]string{"query", "--demo", "-since=7d"}, "gcusage: query: -since: long flags take two dashes: --since (see gcusage query --help)\n"},
		{[]string{"jobs", "query", "-verbose"}, "gcusage: jobs query: -verbose: long flags take two dashes: --verbose (see gcusage jobs query --help)\n"},
		{[]string{"-version"}, "gcusage: -version: long flags take two dashes: --version (see gcusage --help)\n"},
		{[]string{"-format", "csv"}, "gcusage: -format: long flags take two dashes, after their command: gcusage query --format (see gcusage --help)\n"},
	} {
		if o := gcusage(t, nil, nil, tc.args...); o.code != 2 || o.stdout != "" || o.stderr != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, o.code, o.stdout, o.stderr, tc.want)
		}
	}
	if o := gcusage(t, nil, nil, "jobs"); o.code != 2 || o.stderr != "gcusage: jobs needs a subcommand: query, results or help (see gcusage jobs --help)\n" {
		t.Errorf("jobs: exit %d, stderr %q", o.code, o.stderr)
	}
	// The jobs help lists no --top "not for jobs" any more: it works.
	if o := gcusage(t, nil, nil, "jobs", "query", "--help"); strings.Contains(o.stdout, "not for jobs") || !strings.Contains(o.stdout, "--top N") {
		t.Errorf("jobs query --help:\n%s", o.stdout)
	}
}

// TestCompletionBash loads 'gcusage completion bash' into bash and
// completes a command, an enum value and the next item of a comma list.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed: the bash completion cannot be tried")
	}
	// gcusage on PATH is this test binary, running main.
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nGCUSAGE_TEST_MAIN=- exec %q -- \"$@\"\n", self)
	if err := os.WriteFile(filepath.Join(dir, "gcusage"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	complete := func(line string) []string {
		t.Helper()
		// The script needs bash-completion's _get_comp_words_by_ref: the
		// package's, when installed, else the few lines of it that the
		// words typed here need (no word splits at = or :).
		prog := `if [ -r /usr/share/bash-completion/bash_completion ]; then source /usr/share/bash-completion/bash_completion
else _get_comp_words_by_ref() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }; fi
source <(gcusage completion bash)
COMP_LINE="$LINE"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
__start_gcusage gcusage
printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog)
		cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "LINE="+line)
		// stderr has compopt's complaint that no completion is under
		// way, as none is, outside an interactive shell.
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%q: %v\n%s", line, err, out)
		}
		// The words come quoted for the shell: a comma as \,.
		return strings.Fields(strings.ReplaceAll(string(out), `\`, ""))
	}
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"gcusage qu", []string{"query"}},
		{"gcusage jobs ", []string{"query", "results"}},
		{"gcusage query --granularity ", []string{"Day", "Week", "Month"}},
		{"gcusage query --format n", []string{"ndjson"}},
		{"gcusage query --group-by OAuthClientId,Http", []string{"OAuthClientId,HttpMethod"}},
		{"gcusage jobs query --metrics Status4", []string{"Status400", "Status429"}},
	} {
		got := complete(tc.line)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%q completes to %q, want %q among them", tc.line, got, w)
			}
		}
	}
}

// No completion lists a value twice: jobs query --group-by offers the
// values of both kinds of job, each once, and a client's alone once
// --client is given.
func TestCompletionValuesOnce(t *testing.T) {
	values := func(args ...string) []string {
		t.Helper()
		o := gcusage(t, nil, nil, append([]string{"__complete"}, args...)...)
		got := strings.Fields(o.stdout)
		if len(got) == 0 || !strings.HasPrefix(got[len(got)-1], ":") {
			t.Fatalf("%v: %q, want values and a directive", args, o.stdout)
		}
		return got[:len(got)-1]
	}
	for _, args := range [][]string{
		{"jobs", "query", "--group-by", ""}, {"jobs", "query", "--group-by", "UserId,"}, {"jobs", "query", "--metrics", ""},
		{"jobs", "query", "--http-method", ""}, {"jobs", "query", "--granularity", ""}, {"jobs", "query", "--sort", ""},
		{"query", "--group-by", ""}, {"query", "--metrics", ""}, {"search", "--metrics", ""}, {"search", "--http-method", ""},
		{"results", "e1", "--format", ""}, {"report", "--format", ""},
	} {
		got := values(args...)
		if c := slices.Compact(slices.Sorted(slices.Values(got))); len(c) != len(got) {
			t.Errorf("%v completes to %q: a value twice", args, got)
		}
	}
	want := []string{"OauthClientName", "OauthClientId", "UserId", "HttpMethod", "TemplateUri", "Platform", "OrganizationId"}
	if got := values("jobs", "query", "--group-by", ""); !slices.Equal(got, want) {
		t.Errorf("jobs query --group-by completes to %q, want %q", got, want)
	}
	if got := values("jobs", "query", "--client", "c1", "--group-by", ""); !slices.Equal(got, []string{"OrganizationId", "HttpMethod", "TemplateUri", "Platform"}) {
		t.Errorf("jobs query --client c1 --group-by completes to %q, want a client's job's values", got)
	}
}

// query and jobs query print the same csv header for the same grouping;
// a jobs table ends with a TOTAL line; --sort takes the names of query's
// and is checked before anything is sent; --top works.
func TestJobsPrintLikeQuery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		header := func(o out) string {
			t.Helper()
			if o.code != 0 {
				t.Fatalf("exit %d: %s", o.code, o.stderr)
			}
			return strings.SplitN(o.stdout, "\n", 2)[0]
		}
		for _, g := range []string{"--granularity=", "--granularity=week"} {
			q := header(gcusage(t, nil, nil, "query", "--demo", "--quiet", "--group-by", "oauthclientid,httpmethod", "--format", "csv", g))
			j := header(gcusage(t, nil, nil, "jobs", "query", "--demo", "--quiet", "--group-by", "OauthClientId,HttpMethod", "--format", "csv", g))
			if q != j || !strings.HasSuffix(q, ",requests") {
				t.Errorf("%s: query prints %q, jobs query %q", g, q, j)
			}
		}
		o := gcusage(t, nil, nil, "jobs", "query", "--demo", "--quiet", "--since", "3d", "--group-by", "OauthClientId,OauthClientName")
		lines := strings.Split(strings.TrimSpace(o.stdout), "\n")
		if o.code != 0 || len(lines) != 5 || !strings.HasPrefix(lines[4], "TOTAL ") {
			t.Errorf("jobs table: exit %d:\n%s\nwant 3 clients and a TOTAL line", o.code, o.stdout)
		}
		o = gcusage(t, nil, nil, "jobs", "query", "--demo", "--quiet", "--since", "3d", "--group-by", "OauthClientId", "--sort", "status429", "--top", "2", "--format", "csv")
		recs, err := csv.NewReader(strings.NewReader(o.stdout)).ReadAll()
		if o.code != 0 || err != nil || len(recs) != 3 || recs[1][6] < recs[2][6] {
			t.Errorf("jobs --sort status429 --top 2: exit %d, %v:\n%s", o.code, err, o.stdout)
		}
	})
	srv := usagetest.NewServer(t)
	for _, sort := range []string{"requestCount:desc", "clientName", "date"} {
		var tr refusing
		o := gcusage(t, stubEnv(srv), &tr, at(srv, "jobs", "query", "--since", "3d", "--sort", sort)...)
		if o.code != 2 || !strings.Contains(o.stderr, "allowed Status200, Status300, Status400, Status500, Status429, Requests") || tr.n.Load() != 0 || len(srv.Requests()) != 0 {
			t.Errorf("--sort %s: exit %d, stderr %q; want 2, the names of query --sort, and nothing sent", sort, o.code, o.stderr)
		}
	}
}

// jobs query --no-wait starts one job, prints its id alone on stdout and
// the command that reads it on stderr; that command prints its rows.
func TestJobsNoWait(t *testing.T) {
	synctest.Test(t, testJobsNoWait)
}

func testJobsNoWait(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithNow(clock))
	o := gcusage(t, stubEnv(srv), srv.Transport(), at(srv, "jobs", "query", "--since", "10d", "--group-by", "OauthClientId", "--format", "csv", "--no-wait")...)
	id := strings.TrimSuffix(o.stdout, "\n")
	m := regexp.MustCompile(`^gcusage: job (\S+) started; read it with: (gcusage jobs results .*)\n$`).FindStringSubmatch(o.stderr)
	if o.code != 0 || m == nil || m[1] != id || strings.Count(o.stdout, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want the id alone and the command that reads it", o.code, o.stdout, o.stderr)
	}
	if reqs := apiRequests(srv, 0); len(reqs) != 1 || reqs[0] != "POST /api/v2/usage/aggregates/query/jobs" {
		t.Errorf("requests %q, want the POST alone", reqs)
	}
	o = gcusage(t, stubEnv(srv), srv.Transport(), strings.Fields(m[2])[1:]...)
	if o.code != 0 || !strings.HasPrefix(o.stdout, "clientId,clientName,") || strings.Count(o.stdout, "\n") < 4 {
		t.Errorf("%s: exit %d, stderr %q, stdout:\n%s", m[2], o.code, o.stderr, o.stdout)
	}
	var tr refusing
	o = gcusage(t, stubEnv(srv), &tr, at(srv, "jobs", "query", "--since", "200d", "--no-wait")...)
	if o.code != 2 || !strings.Contains(o.stderr, "--no-wait starts one job") || tr.n.Load() != 0 {
		t.Errorf("--no-wait over 3 windows: exit %d, stderr %q; want 2 and nothing sent", o.code, o.stderr)
	}
}

// A URL with an @ anywhere is refused without printing the password,
// however malformed the rest (no scheme, one slash, the @ in the path);
// so is a query or a fragment, which may hold a key.
func TestNoSecretFromURLs(t *testing.T) {
	for _, flag := range []string{"--api-url", "--login-url"} {
		for _, tc := range []struct{ url, want string }{
			{"admin:PW-3f9a@127.0.0.1:8765", "the URL holds an @"},
			{"http://admin:PW-3f9a@127.0.0.1:8765", "the URL holds an @"},
			{"https://admin:PW-3f9a@api.example.com/x", "the URL holds an @"},
			{"https:/admin:PW-3f9a@host", "the URL holds an @"},
			{"https:admin:PW-3f9a@host", "the URL holds an @"},
			{"http://h/PW-3f9a@y", "the URL holds an @"},
			{"https://admin:PW-3f9a@", "the URL holds an @"},
			{"@PW-3f9a", "the URL holds an @"},
			{"https://api.example.com/?key=PW-3f9a", "the URL holds a query or a fragment"},
			{"https://api.example.com#PW-3f9a", "the URL holds a query or a fragment"},
		} {
			var tr refusing
			o := gcusage(t, map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": "t"}, &tr, "query", "--api-url", "http://127.0.0.1:1", "--login-url", "http://127.0.0.1:1", flag, tc.url)
			if o.code != 2 || strings.Contains(o.stdout+o.stderr, "PW-3f9a") || !strings.Contains(o.stderr, flag+": "+tc.want) || tr.n.Load() != 0 {
				t.Errorf("%s %s: exit %d, stderr %q; want 2, %q, no password and nothing sent", flag, tc.url, o.code, o.stderr, tc.want)
			}
		}
	}
	o := gcusage(t, map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": "t"}, nil, "query", "--api-url", "https:/api.example.com")
	if o.code != 2 || !strings.Contains(o.stderr, `--api-url "https:/api.example.com": want two slashes after the scheme, as in https://api.example.com`) {
		t.Errorf("one slash: exit %d, stderr %q; want 2 and the URL with two", o.code, o.stderr)
	}
}

// An API that sends text a spreadsheet would run gets it back defused in
// csv from every service; --csv-raw and json keep it exact.
func TestCSVInjectionFromEveryService(t *testing.T) {
	const evil = `=HYPERLINK("http://evil.example","open")`
	entity := fmt.Sprintf(`{"oauthClient":{"id":"c1","name":%q},"templateUri":"@SUM(1)","requestCount":3,"status200":3,"status300":0,"status400":0,"status429":0,"status500":0}`, evil)
	row := fmt.Sprintf(`{"clientId":"c1","clientName":%q,"organizationId":"","userId":"","templateUri":"@SUM(1)","httpMethod":"GET","status200":3,"status300":0,"status400":0,"status500":0,"status429":0,"requests":3}`, evil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v2/usage/query", "/api/v2/usage/simplesearch":
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"executionId":"e1","resultsUri":"/api/v2/usage/query/e1/results"}`)
		case "/api/v2/usage/query/e1/results", "/api/v2/usage/simplesearch/e1/results":
			io.WriteString(w, `{"results":[`+row+`],"queryStatus":"Complete"}`)
		case "/api/v2/usage/aggregates/query/jobs":
			io.WriteString(w, `{"id":"j1"}`)
		case "/api/v2/usage/aggregates/query/jobs/j1":
			io.WriteString(w, `{"queryStatus":"Succeeded","entities":[`+entity+`]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": "t"}
	for _, args := range [][]string{
		{"query", "--interval", jan, "--group-by", "oauthclientid,templateuri"},
		{"search", "--interval", jan, "--metrics", "clientname,templateuri,status200"},
		{"jobs", "query", "--since", "3d", "--group-by", "OauthClientName,TemplateUri"},
	} {
		args = append(args, "--api-url", srv.URL, "--format", "csv")
		o := gcusage(t, env, nil, args...)
		recs, err := csv.NewReader(strings.NewReader(o.stdout)).ReadAll()
		if o.code != 0 || err != nil || len(recs) != 2 {
			t.Fatalf("%v: exit %d, %v, stderr %q, stdout %q", args, o.code, err, o.stderr, o.stdout)
		}
		name, tmpl := slices.Index(recs[0], "clientName"), slices.Index(recs[0], "templateUri")
		if recs[1][name] != "'"+evil || recs[1][tmpl] != "'@SUM(1)" {
			t.Errorf("%v: csv %q; want the formulas defused", args, recs[1])
		}
		o = gcusage(t, env, nil, append(args, "--csv-raw")...)
		if recs, _ := csv.NewReader(strings.NewReader(o.stdout)).ReadAll(); len(recs) != 2 || recs[1][name] != evil {
			t.Errorf("%v --csv-raw: %q; want the text exact", args, o.stdout)
		}
		o = gcusage(t, env, nil, append(args, "--format", "ndjson")...)
		if !strings.Contains(o.stdout, `"=HYPERLINK(\"http://evil.example\",\"open\")"`) {
			t.Errorf("%v ndjson: %q; want the text exact", args, o.stdout)
		}
	}
}

// A 403 names the permissions of the endpoint that refused, any of which
// is enough.
func TestForbiddenNamesEachEndpointsPermissions(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"message":"You are missing the following permission(s)","code":"missing.any.permissions","status":403}`)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"query", "--since", "3d"}, "any of oauth:client:view, usage:organization:view"},
		{[]string{"results", "e1"}, "any of oauth:client:view, usage:organization:view"},
		{[]string{"query", "--since", "3d", "--client", "c1"}, "any of oauth:client:view, usage:client:view"},
		{[]string{"summary", "c1"}, "any of oauth:client:view, usage:client:view"},
		{[]string{"results", "e1", "--client", "c1"}, "any of oauth:client:view, usage:client:view"},
		{[]string{"search", "--since", "3d"}, "any of oauth:client:view, usage:simpleSearch:view"},
		{[]string{"results", "e1", "--search"}, "any of oauth:client:view, usage:simpleSearch:view"},
		{[]string{"jobs", "query", "--since", "3d"}, "usage:organization:view"},
		{[]string{"jobs", "query", "--since", "3d", "--client", "c1"}, "usage:client:view"},
	} {
		o := gcusage(t, map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": "t"}, nil, append(tc.args, "--api-url", srv.URL)...)
		if o.code != 1 || !strings.HasSuffix(o.stderr, "; the credentials need the permission "+tc.want+"\n") {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %s", tc.args, o.code, o.stderr, tc.want)
		}
	}
}

// A 401 with GENESYSCLOUD_ACCESS_TOKEN set says that its token was used,
// and wins over the client credentials.
func TestUnauthorizedNamesTheTokenVariable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"message":"Authentication failed","code":"authentication.required","status":401}`)
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": "expired-token-3f9a", "GENESYSCLOUD_OAUTHCLIENT_ID": "id", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "secret"}
	for _, args := range [][]string{{"query"}, {"jobs", "query", "--since", "3d"}} {
		o := gcusage(t, env, nil, append(args, "--api-url", srv.URL, "--login-url", srv.URL)...)
		if o.code != 1 || !strings.Contains(o.stderr, "; the token of GENESYSCLOUD_ACCESS_TOKEN was used, which wins over GENESYSCLOUD_OAUTHCLIENT_ID / _SECRET") ||
			strings.Contains(o.stderr, "expired-token-3f9a") {
			t.Errorf("%v: exit %d, stderr %q; want 1 and the variable named, never its token", args, o.code, o.stderr)
		}
	}
}

// A retried failure of the token request has one gcusage: prefix.
func TestVerboseRetryHasOnePrefix(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0))
		tr := &failing{next: srv.Transport(), path: "/oauth/token", n: 1, err: errors.New("connection reset by peer")}
		o := gcusage(t, stubEnv(srv), tr, at(srv, "query", "--verbose", "--format", "csv")...)
		var retry string
		for l := range strings.Lines(o.stderr) {
			if strings.Contains(l, "; attempt 2 in ") {
				retry = l
			}
		}
		if o.code != 0 || !strings.HasPrefix(retry, "gcusage: POST /oauth/token: token request failed: ") || strings.Count(retry, "gcusage:") != 1 {
			t.Errorf("exit %d, retry line %q; want one prefix", o.code, retry)
		}
	})
}

// failingWriter is a stdout on a full disk.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.ENOSPC}
}

// epipe is a stdout whose reader went away.
type epipe struct{}

func (epipe) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
}

// gcusage ... | head -1: a reader that goes away ends the run quietly,
// with exit code 0, in every format and the help; in a process too, where
// SIGPIPE would otherwise kill it (exit code 141).
func TestClosedPipeIsQuiet(t *testing.T) {
	helps := [][]string{{"summary", "--help"}, {"-h", "jobs", "query"}, {"help", "query"}, {"jobs", "help", "results"}, {"query", "help"}, {"--help"}}
	for _, args := range helps {
		var stderr bytes.Buffer
		f := &Factory{Getenv: func(string) string { return "" }, Stdout: epipe{}, Stderr: &stderr, Now: clock}
		if code := f.run(t.Context(), args); code != 0 || stderr.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 0 and nothing", args, code, stderr.String())
		}
	}
	synctest.Test(t, func(t *testing.T) {
		for _, format := range []string{"table", "csv", "json", "ndjson"} {
			var stderr bytes.Buffer
			f := &Factory{Getenv: func(string) string { return "" }, Stdout: epipe{}, Stderr: &stderr, Now: clock}
			if code := f.run(t.Context(), []string{"jobs", "query", "--demo", "--quiet", "--since", "3d", "--format", format}); code != 0 || stderr.Len() != 0 {
				t.Errorf("%s: exit %d, stderr %q; want 0 and nothing", format, code, stderr.String())
			}
		}
	})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	runs := []string{"summary --help", "-h jobs query"}
	for _, format := range []string{"table", "csv", "json", "ndjson"} {
		runs = append(runs, "query --demo --quiet --format "+format)
	}
	for _, args := range runs {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // the reader is gone before the first row
		var stderr bytes.Buffer
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), "GCUSAGE_TEST_MAIN="+args)
		cmd.Stdout, cmd.Stderr = w, &stderr
		err = cmd.Run()
		w.Close()
		if err != nil || stderr.Len() != 0 {
			t.Errorf("%s: %v, stderr %q; want exit code 0 and nothing on stderr", args, err, stderr.String())
		}
	}
	// Any other failure to write the help is an error, said once.
	var stderr bytes.Buffer
	f := &Factory{Getenv: func(string) string { return "" }, Stdout: failingWriter{}, Stderr: &stderr, Now: clock}
	if code := f.run(t.Context(), []string{"query", "--help"}); code != 1 || stderr.String() != "gcusage: write /dev/stdout: no space left on device\n" {
		t.Errorf("help on a full disk: exit %d, stderr %q; want 1 and the error", code, stderr.String())
	}
}

// The demo shows the standalone stub's data: the same clients.
func TestDemoIsTheStubsData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithSeed(1), usagetest.WithNow(clock))
		demo := gcusage(t, nil, nil, "query", "--demo", "--quiet", "--format", "csv")
		stub := gcusage(t, stubEnv(srv), srv.Transport(), at(srv, "query", "--format", "csv")...)
		if demo.code != 0 || demo.stdout != stub.stdout || strings.Count(demo.stdout, "\n") != 1+3 {
			t.Errorf("demo:\n%s\nstub:\n%s\nwant the same 3 clients", demo.stdout, stub.stdout)
		}
		var rows []map[string]any
		json.Unmarshal([]byte(gcusage(t, nil, nil, "query", "--demo", "--quiet", "--format", "json").stdout), &rows)
		if len(rows) != 3 {
			t.Errorf("%d rows in json, want 3", len(rows))
		}
	})
}
