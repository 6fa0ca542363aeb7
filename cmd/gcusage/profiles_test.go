package main

// Tests of --profile, --all-profiles, --config and --parallel: the
// commands over several organizations of one stub, each logged in to with
// its own credentials, whose requests the stub checks against
// api/usage.yaml.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/spf13/cobra"

	"github.com/gcusage/gcusage/cmd/internal/output"
	"github.com/gcusage/gcusage/cmd/internal/profiles"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// partnerOrgs are the demo's three orgs and a customer's.
func partnerOrgs() []usagetest.Org {
	return append(usagetest.DemoOrgs(), usagetest.Org{Name: "globex", ClientID: "globex-client", ClientSecret: "globex-secret-4e1f"})
}

// profilesFile writes a config file with a profile for each org of srv, as
// gc profiles new writes them, and returns its path. secrets gives some
// orgs another secret than theirs: one the stub refuses.
func profilesFile(t *testing.T, srv *usagetest.Server, secrets map[string]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# written by gc profiles new\n")
	for _, o := range srv.Orgs() {
		fmt.Fprintf(&b, "[%s]\nclient_credentials = %q\nclient_secret = %q\nenvironment = \"eu-west-1\"\nlogging_enabled = false\n\n",
			o.Name, o.ClientID, cmp.Or(secrets[o.Name], o.ClientSecret))
	}
	return writeFile(t, b.String())
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// gcusageIn runs the command as gcusage does, in ctx, with a terminal for
// the progress line when tty is not nil.
func gcusageIn(t *testing.T, ctx context.Context, env map[string]string, srv *usagetest.Server, tty io.Writer, args ...string) out {
	t.Helper()
	var stdout, stderr bytes.Buffer
	f := &Factory{Getenv: func(k string) string { return env[k] }, Stdout: &stdout, Stderr: &stderr, Progress: tty, Transport: srv.Transport(), Now: clock}
	code := f.run(ctx, args)
	return out{code, stdout.String(), stderr.String()}
}

// byOrg is the query of the contract tests: totals per organization and
// client, so that every row says whose it is.
var byOrg = gen.APIUsageQuery{Interval: jan, GroupBy: []gen.GroupBy{gen.GroupByOrganizationID, gen.GroupByOAuthClientID}}

// orgRows are the rows of org's query q, as clientId:requests.
func orgRows(t *testing.T, srv *usagetest.Server, org string, q gen.APIUsageQuery) []string {
	t.Helper()
	rows, err := srv.Org(org).Rows(q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for r := range rows {
		out = append(out, fmt.Sprintf("%s:%d", r.ClientID, r.Requests))
	}
	slices.Sort(out)
	return out
}

// csvByProfile reads a csv of rows merged from several profiles into each
// profile's clientId:requests, checking that the org column is the
// profile's organizationId.
func csvByProfile(t *testing.T, srv *usagetest.Server, stdout string) map[string][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("stdout is not csv: %v\n%s", err, stdout)
	}
	if want := "profile,org,clientId,clientName,status200,status300,status400,status500,status429,requests"; strings.Join(recs[0], ",") != want {
		t.Fatalf("header %q, want %q: the profile, then the org in place of organizationId", strings.Join(recs[0], ","), want)
	}
	got := map[string][]string{}
	for _, r := range recs[1:] {
		if r[1] != srv.Org(r[0]).OrganizationID {
			t.Errorf("a row of %s has org %q, want %s", r[0], r[1], srv.Org(r[0]).OrganizationID)
		}
		got[r[0]] = append(got[r[0]], r[2]+":"+r[9])
	}
	for _, rows := range got {
		slices.Sort(rows)
	}
	return got
}

// The contract of the issue: profiles against several stub orgs, one of
// which cannot log in. The three others run at once (no query starts until
// three are posted together), each prints all its rows, in every format,
// with its profile; stderr ends with why demo-test failed and the command
// that runs it again, which works once its secret is fixed. Exit code 1.
func TestProfilesOneOrgFailing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(1, 0), usagetest.WithOrgs(partnerOrgs()...),
			usagetest.WithFault(usagetest.RouteQuery, 0, usagetest.Barrier(3)))
		path := profilesFile(t, srv, map[string]string{"demo-test": "stale-secret-9d2c"})
		args := at(srv, "query", "--all-profiles", "--config", path, "--interval", jan, "--group-by", "organizationid,oauthclientid", "--timeout", "1h")
		for _, format := range []string{"csv", "table", "json", "ndjson"} {
			o := gcusageIn(t, t.Context(), nil, srv, nil, append(args, "--format", format)...)
			lines := strings.Split(strings.TrimSpace(o.stderr), "\n")
			if o.code != 1 || len(lines) != 2 {
				t.Fatalf("%s: exit %d, stderr %q; want 1 and two lines: demo-test's and the count", format, o.code, o.stderr)
			}
			wantWhy := `gcusage: profile demo-test: token request failed: 401 Unauthorized: invalid_client: Bad client credentials; ` +
				`check client_credentials and client_secret of profile "demo-test" (` + path + `:8), and its environment; run it again with: gcusage query --interval`
			if !strings.HasPrefix(lines[0], wantWhy) || lines[1] != "gcusage: 1 of 4 profiles did not finish: demo-test (why, and what picks each one up, above)" {
				t.Errorf("%s: stderr\n%s\nwant it to end with\n%s…\ngcusage: 1 of 4 profiles did not finish: demo-test …", format, o.stderr, wantWhy)
			}
			got := map[string][]string{}
			switch format {
			case "csv":
				got = csvByProfile(t, srv, o.stdout)
			case "table":
				head := strings.Fields(strings.SplitN(o.stdout, "\n", 2)[0])
				if strings.Join(head[:4], " ") != "PROFILE ORG CLIENT ID" || !strings.Contains(o.stdout, "\nTOTAL ") {
					t.Errorf("table:\n%s\nwant PROFILE and ORG first, and a TOTAL", o.stdout)
				}
				for _, l := range strings.Split(strings.TrimSpace(o.stdout), "\n")[1:] {
					if f := strings.Fields(l); f[0] != "TOTAL" {
						got[f[0]] = append(got[f[0]], f[2]+":"+f[len(f)-1])
					}
				}
			default:
				dec := json.NewDecoder(strings.NewReader(o.stdout))
				var objs []map[string]any
				if format == "json" {
					if err := dec.Decode(&objs); err != nil || dec.More() {
						t.Fatalf("json: %v\n%s", err, o.stdout)
					}
				} else {
					for dec.More() {
						var obj map[string]any
						if err := dec.Decode(&obj); err != nil {
							t.Fatalf("ndjson: %v\n%s", err, o.stdout)
						}
						objs = append(objs, obj)
					}
				}
				for _, obj := range objs {
					p, _ := obj["profile"].(string)
					if obj["org"] != srv.Org(p).OrganizationID || obj["organizationId"] != obj["org"] || len(obj) != 14 {
						t.Errorf("%s object %v: want the profile, its org, and the API's twelve fields", format, obj)
					}
					got[p] = append(got[p], fmt.Sprintf("%s:%v", obj["clientId"], obj["requests"]))
				}
			}
			for _, org := range []string{"demo-prod", "demo-sandbox", "globex"} {
				slices.Sort(got[org])
				if want := orgRows(t, srv, org, byOrg); !slices.Equal(got[org], want) {
					t.Errorf("%s: %s's rows %v, want all of its own, %v", format, org, got[org], want)
				}
			}
			if len(got) != 3 {
				t.Errorf("%s: rows of %d profiles, want 3: %v", format, len(got), got)
			}
		}

		// The command of the summary, pasted once the file has the right
		// secret, runs demo-test alone, as a run without profiles prints.
		o := gcusageIn(t, t.Context(), nil, srv, nil, append(args, "--format", "csv")...)
		_, cmd, _ := strings.Cut(strings.Split(o.stderr, "\n")[0], "; run it again with: ")
		words := shellWords(t, cmd)
		if !slices.Contains(words, "--config") || words[len(words)-2] != "--profile" || words[len(words)-1] != "demo-test" ||
			slices.Contains(words, "--all-profiles") || slices.Contains(words, "--timeout") {
			t.Fatalf("%q: want the same query with --config and --profile demo-test alone", cmd)
		}
		os.WriteFile(path, []byte(strings.Replace(mustRead(t, path), "stale-secret-9d2c", usagetest.DemoTestClientSecret, 1)), 0o600)
		// The same orgs, at the same URL, without the barrier of three,
		// which would hold one query for ever.
		clean := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(1, 0), usagetest.WithOrgs(partnerOrgs()...))
		o = gcusageIn(t, t.Context(), nil, clean, nil, words[1:]...)
		want := gcusageIn(t, t.Context(), map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID": usagetest.DemoTestClientID, "GENESYSCLOUD_OAUTHCLIENT_SECRET": usagetest.DemoTestClientSecret},
			clean, nil, at(clean, "query", "--interval", jan, "--group-by", "organizationid,oauthclientid", "--format", "csv")...)
		if o.code != 0 || o.stdout != want.stdout || !strings.Contains(o.stdout, srv.Org("demo-test").OrganizationID) {
			t.Errorf("%s: exit %d, stderr %q, stdout\n%s\nwant demo-test's rows as a run of its credentials prints them:\n%s", cmd, o.code, o.stderr, o.stdout, want.stdout)
		}
	})
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// --all-profiles runs the orgs concurrently, --parallel at a time: behind
// a barrier of four queries, four orgs at a time get their rows, and three
// at a time never get an answer to their POST, until each client gives up
// on it (three at a time), and the run ends with the command that runs
// each org again.
func TestAllProfilesRunConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(1, 0), usagetest.WithOrgs(partnerOrgs()...),
			usagetest.WithFault(usagetest.RouteQuery, 0, usagetest.Barrier(4)))
		path := profilesFile(t, srv, nil)
		args := at(srv, "query", "--config", path, "--interval", jan, "--group-by", "OrganizationId,OAuthClientId", "--format", "csv", "--timeout", "1h")
		o := gcusageIn(t, t.Context(), nil, srv, nil, append(args, "--all-profiles")...)
		got := csvByProfile(t, srv, o.stdout)
		if o.code != 0 || o.stderr != "" || len(got) != 4 {
			t.Fatalf("the default, 4 at a time: exit %d, stderr %q, rows of %d profiles; want 0, nothing, 4", o.code, o.stderr, len(got))
		}
		for _, org := range srv.Orgs() {
			if want := orgRows(t, srv, org.Name, byOrg); !slices.Equal(got[org.Name], want) {
				t.Errorf("%s: %v, want %v", org.Name, got[org.Name], want)
			}
		}

		o = gcusageIn(t, t.Context(), nil, srv, nil, append(args, "--profile", "demo-prod,demo-test,demo-sandbox,globex", "--parallel", "3")...)
		lines := strings.Split(strings.TrimSpace(o.stderr), "\n")
		if o.code != 1 || o.stdout != "" || len(lines) != 5 {
			t.Fatalf("3 at a time: exit %d, stdout %q, stderr\n%s\nwant 1, no row, and a line for each org and the count", o.code, o.stdout, o.stderr)
		}
		for i, org := range []string{"demo-prod", "demo-test", "demo-sandbox", "globex"} {
			if !strings.HasPrefix(lines[i], "gcusage: profile "+org+": POST /api/v2/usage/query: the request was sent and its answer lost, so the work may have started; it was not sent again: no answer within ") ||
				!strings.Contains(lines[i], "; run it again with: gcusage query --interval 2024-01-01T00:00:00Z/2024-01-04T00:00:00Z ") || !strings.HasSuffix(lines[i], " --profile "+org) {
				t.Errorf("line %q: want %s's POST unanswered, and the command that runs it again", lines[i], org)
			}
		}
	})
}

// Ctrl-C stops every org: those waiting on their queries print the
// results command that resumes each, those not started the query that
// runs them; the exit code is 130. Pasted once the queries have ended,
// each command prints its org's rows.
func TestProfilesInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, time.Hour), usagetest.WithOrgs(usagetest.DemoOrgs()...))
		path := profilesFile(t, srv, nil)
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(time.Minute, func() { cancel(interrupted{os.Interrupt}) })
		o := gcusageIn(t, ctx, nil, srv, nil, at(srv, "query", "--all-profiles", "--config", path, "--parallel", "2", "--since", "3d",
			"--group-by", "oauthclientid", "--format", "ndjson", "--timeout", "0")...)
		lines := strings.Split(strings.TrimSpace(o.stderr), "\n")
		if o.code != 130 || o.stdout != "" || len(lines) != 4 || lines[3] != "gcusage: 3 of 3 profiles did not finish: demo-prod, demo-test, demo-sandbox (why, and what picks each one up, above)" {
			t.Fatalf("exit %d, stdout %q, stderr\n%s\nwant 130, nothing, and a line for each org and the count", o.code, o.stdout, o.stderr)
		}
		resume := regexp.MustCompile(`^gcusage: profile (demo-prod|demo-test): execution \S+: wait canceled after 1m0s: context canceled; resume with: (gcusage results .*)$`)
		var cmds []string
		for _, l := range lines[:2] {
			m := resume.FindStringSubmatch(l)
			if m == nil || !strings.HasSuffix(m[2], " --profile "+m[1]) {
				t.Fatalf("line %q: want the org's wait cut short and the results command with its --profile", l)
			}
			cmds = append(cmds, m[2])
		}
		const notStarted = "gcusage: profile demo-sandbox: not started: interrupted by interrupt; run it again with: "
		if !strings.HasPrefix(lines[2], notStarted) {
			t.Fatalf("line %q: want %q…", lines[2], notStarted)
		}
		cmds = append(cmds, strings.TrimPrefix(lines[2], notStarted))

		time.Sleep(time.Hour) // the queries end; so does the next one, an hour after it is posted
		q := gen.APIUsageQuery{Interval: "2024-01-05/2024-01-07", GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID}}
		for i, org := range []string{"demo-prod", "demo-test", "demo-sandbox"} {
			words := shellWords(t, cmds[i])
			if !slices.Equal(words[len(words)-2:], []string{"--profile", org}) || !slices.Contains(words, path) || !slices.Contains(words, "ndjson") {
				t.Fatalf("%q: want --config, --format and --profile %s", cmds[i], org)
			}
			o := gcusageIn(t, t.Context(), nil, srv, nil, append(words[1:], "--quiet", "--timeout", "2h")...)
			var got []string
			for l := range strings.Lines(o.stdout) {
				var r gen.APIUsageRow
				if err := json.Unmarshal([]byte(l), &r); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%s:%d", r.ClientID, r.Requests))
			}
			slices.Sort(got)
			if want := orgRows(t, srv, org, q); o.code != 0 || !slices.Equal(got, want) {
				t.Errorf("%s: exit %d, stderr %q, rows %v; want %s's %v", cmds[i], o.code, o.stderr, got, org, want)
			}
		}
	})
}

// When every org fails, or is interrupted, before any row, stdout stays
// empty, as a single org's failure leaves it: no header, no TOTAL 0.
func TestProfilesAllFailingPrintNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, time.Hour), usagetest.WithOrgs(usagetest.DemoOrgs()...), usagetest.WithNow(clock))
		refused := profilesFile(t, srv, map[string]string{"demo-prod": "stale-1", "demo-test": "stale-2", "demo-sandbox": "stale-3"})
		for _, cmd := range [][]string{{"query"}, {"jobs", "query"}} {
			for _, format := range output.Formats {
				o := gcusageIn(t, t.Context(), nil, srv, nil, at(srv, append(cmd, "--all-profiles", "--config", refused, "--since", "3d", "--format", format)...)...)
				if o.code != 1 || o.stdout != "" || !strings.Contains(o.stderr, "gcusage: 3 of 3 profiles did not finish") {
					t.Errorf("%v %s, every org refused: exit %d, stdout %q, stderr %q; want 1 and nothing on stdout", cmd, format, o.code, o.stdout, o.stderr)
				}
			}
		}
		path := profilesFile(t, srv, nil)
		for _, cmd := range [][]string{{"query"}, {"jobs", "query"}} {
			ctx, cancel := context.WithCancelCause(t.Context())
			time.AfterFunc(time.Minute, func() { cancel(interrupted{os.Interrupt}) })
			o := gcusageIn(t, ctx, nil, srv, nil, at(srv, append(cmd, "--profile", "demo-prod,demo-test", "--config", path, "--since", "3d", "--timeout", "0")...)...)
			if o.code != 130 || o.stdout != "" || !strings.Contains(o.stderr, "gcusage: 2 of 2 profiles did not finish") {
				t.Errorf("%v interrupted: exit %d, stdout %q, stderr %q; want 130 and nothing on stdout", cmd, o.code, o.stdout, o.stderr)
			}
		}
	})
}

// No secret of the file reaches any output: the rows, the notes, the
// --verbose log of every attempt, the retries of a throttled org, the
// error of one whose secret is refused and the commands that pick it up.
func TestProfilesPrintNoSecret(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(1, 0), usagetest.WithOrgs(partnerOrgs()...))
		srv.Org("demo-sandbox").Inject(usagetest.RouteResults, 1, usagetest.RateLimited("2"))
		path := profilesFile(t, srv, map[string]string{"globex": "stale-secret-77b1"})
		token := writeFile(t, fmt.Sprintf("[issued]\naccess_token = %q\n", "issued-token-5c3e"))
		env := map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID": "env-client", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "env-secret-0a9b"}
		runs := []out{
			gcusageIn(t, t.Context(), env, srv, nil, at(srv, "query", "--all-profiles", "--config", path, "--verbose", "--format", "json")...),
			gcusageIn(t, t.Context(), env, srv, nil, at(srv, "jobs", "query", "--all-profiles", "--config", path, "--verbose", "--since", "3d")...),
			gcusageIn(t, t.Context(), env, srv, nil, at(srv, "query", "--profile", "globex", "--config", path, "--verbose")...),
			gcusageIn(t, t.Context(), env, srv, nil, at(srv, "query", "--profile", "issued", "--config", token, "--verbose")...),
		}
		var all strings.Builder
		for _, o := range runs {
			all.WriteString(o.stdout + o.stderr)
		}
		secrets := []string{"stale-secret-77b1", "issued-token-5c3e", "env-secret-0a9b"}
		for _, o := range srv.Orgs() {
			secrets = append(secrets, o.ClientSecret)
		}
		for _, s := range secrets {
			if strings.Contains(all.String(), s) {
				t.Errorf("a secret, %q, is printed:\n%s", s, all.String())
			}
		}
		for _, want := range []string{"gcusage: profile demo-sandbox: http attempt method=", "gcusage: profile demo-sandbox: GET /api/v2/usage/query/", ": 429 Too Many Requests; attempt 2 in ",
			"gcusage: profile globex: token request failed: 401", "the access_token of profile \"issued\" (" + token + ":1) was used"} {
			if !strings.Contains(all.String(), want) {
				t.Errorf("the output lacks %q:\n%s", want, all.String())
			}
		}
		if runs[0].code != 1 || runs[1].code != 1 || runs[2].code != 1 || runs[3].code != 1 {
			t.Errorf("exit codes %d %d %d %d, want 1 for each: globex's secret and the issued token are refused", runs[0].code, runs[1].code, runs[2].code, runs[3].code)
		}
	})
}

// Bad profiles, files and flags exit 2, saying what is wrong, before
// anything is sent: every org's client is built first.
func TestProfilesUsageErrorsSendNothing(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.WithOrgs(partnerOrgs()...))
	good := profilesFile(t, srv, nil)
	bad := writeFile(t, mustRead(t, good)+"[acme-test]\nclient_credentials = \"c\"\nenvironment = \"eu-west-1\"\n\n[acme-prod]\nenvironment = \"eu-west-9\"\nclient_credentials = \"c\"\nclient_secret = \"s\"\n")
	malformed := writeFile(t, "[acme]\nclient_credentials = \"c\"\nclient_secret = s3cr3t-value\n")
	env := map[string]string{"HOME": t.TempDir()}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"malformed file", []string{"query", "--all-profiles", "--config", malformed}, malformed + ":3: malformed TOML: "},
		{"no such file", []string{"query", "--profile", "acme", "--config", malformed + ".missing"}, "no such file: `gc profiles new` writes one"},
		{"default file missing", []string{"query", "--profile", "acme"}, filepath.Join(env["HOME"], ".gc", "config.toml") + ": no such file"},
		{"unknown profile", []string{"query", "--profile", "demo-prod,initech", "--config", good},
			good + `: no profile "initech": the profiles are demo-prod, demo-test, demo-sandbox, globex`},
		{"no secret", []string{"jobs", "query", "--all-profiles", "--config", bad}, bad + `:26: profile "acme-test": client_credentials but no client_secret`},
		{"no credentials", []string{"search", "--profile", "demo-prod", "--config", writeFile(t, "[demo-prod]\nenvironment = \"eu-west-1\"\n")},
			`:1: profile "demo-prod": no credentials: want client_credentials (the OAuth client id) and client_secret, or access_token`},
		{"unknown environment", []string{"query", "--profile", "demo-prod,acme-prod", "--config", bad}, `:30: profile "acme-prod": environment "eu-west-9": unknown region`},
		{"unknown region for all", []string{"query", "--all-profiles", "--config", good, "--region", "mars-1"}, `--region "mars-1": unknown region`},
		{"a region with user information", []string{"query", "--all-profiles", "--config", good, "--region", "admin:s3cr3t-value@mypurecloud.ie"}, `--region (not shown: it holds an @`},
		{"an environment with user information", []string{"query", "--profile", "acme", "--config", writeFile(t, "[acme]\naccess_token = \"t\"\nenvironment = \"user:S3CR3T-VALUE@MyPureCloud.ie\"\n")},
			`:1: profile "acme": environment (not shown: it holds an @, as user information does)`},
		{"a name with a comma", []string{"jobs", "query", "--all-profiles", "--config", writeFile(t, mustRead(t, good)+"[\"acme, inc\"]\naccess_token = \"t\"\n")},
			`:26: profile "acme, inc": the name holds a comma, which splits --profile's list: rename the table, such as [acme-prod], to run it`},
		{"a directory for --config", []string{"query", "--profile", "acme", "--config", env["HOME"]}, env["HOME"] + ": not a regular file (a directory)"},
		{"profile and all", []string{"query", "--profile", "globex", "--all-profiles", "--config", good}, "--profile and --all-profiles: give one of them"},
		{"empty profile", []string{"query", "--profile", "", "--config", good}, `--profile "": give a profile name`},
		{"parallel 0", []string{"query", "--all-profiles", "--config", good, "--parallel", "0"}, "--parallel 0: want at least 1 profile at a time (default 4)"},
		{"parallel -2", []string{"summary", "c1", "--all-profiles", "--config", good, "--parallel", "-2"}, "--parallel -2: want at least 1"},
		{"config alone", []string{"query", "--config", good}, "--config " + good + ": give --profile NAME or --all-profiles"},
		{"parallel alone", []string{"jobs", "query", "--parallel", "8"}, "--parallel: give --profile a,b or --all-profiles"},
		{"results of two profiles", []string{"results", "e1", "--profile", "demo-prod,globex", "--config", good}, "an id belongs to the one organization that started it"},
		{"jobs results of two", []string{"jobs", "results", "j1", "--profile", "a,b", "--config", good}, "give its profile alone"},
		{"all on results", []string{"results", "e1", "--all-profiles"}, "unknown flag --all-profiles"},
		{"no-wait over several", []string{"query", "--all-profiles", "--config", good, "--no-wait"}, "--no-wait prints the id of one organization's work: give one --profile"},
		{"demo and config", []string{"query", "--demo", "--all-profiles", "--config", good}, "--demo runs the built-in demo profiles (demo-prod, demo-test, demo-sandbox): drop --config"},
		{"unknown demo profile", []string{"query", "--demo", "--profile", "acme"}, `the built-in demo profiles: no profile "acme": the profiles are demo-prod, demo-test, demo-sandbox`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr refusing
			o := gcusage(t, env, &tr, at(srv, tc.args...)...)
			if o.code != 2 || o.stdout != "" || !strings.Contains(o.stderr, tc.want) || strings.Count(o.stderr, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and one line with %q", o.code, o.stdout, o.stderr, tc.want)
			}
			if strings.Contains(strings.ToLower(o.stderr), "s3cr3t-value") {
				t.Errorf("stderr %q quotes the file's value", o.stderr)
			}
			if n := len(srv.Requests()) + int(tr.n.Load()); n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}
}

// One profile runs as the environment's credentials do: the same rows,
// without a profile column, and a wait cut short names the results
// command with that profile. The GENESYSCLOUD_* variables are ignored,
// which a note says. results and jobs results take the profile too.
func TestOneProfile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(1, 0), usagetest.WithOrgs(partnerOrgs()...), usagetest.WithNow(clock))
		path := profilesFile(t, srv, nil)
		test := map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID": usagetest.DemoTestClientID, "GENESYSCLOUD_OAUTHCLIENT_SECRET": usagetest.DemoTestClientSecret}
		prod := map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID": usagetest.DemoClientID, "GENESYSCLOUD_OAUTHCLIENT_SECRET": usagetest.DemoClientSecret, "GENESYSCLOUD_REGION": "mars-1"}
		for _, args := range [][]string{
			{"query", "--interval", jan, "--group-by", "OrganizationId,HttpMethod", "--format", "json"},
			{"jobs", "query", "--since", "10d", "--group-by", "OauthClientId,HttpMethod", "--format", "csv", "--sort", "requests"},
			{"search", "--since", "2d", "--format", "csv"},
		} {
			want := gcusageIn(t, t.Context(), test, srv, nil, at(srv, args...)...)
			o := gcusageIn(t, t.Context(), prod, srv, nil, at(srv, append(args, "--profile", "DEMO-TEST", "--config", path)...)...)
			note := "gcusage: note: the profiles give the credentials and the region: GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET, GENESYSCLOUD_REGION ignored\n"
			if o.code != 0 || want.code != 0 || o.stdout != want.stdout || !strings.HasPrefix(o.stderr, note) || strings.Contains(o.stdout, "profile") {
				t.Errorf("%v: exit %d, stderr %q, stdout\n%s\nwant the note, and what demo-test's credentials print:\n%s", args, o.code, o.stderr, o.stdout, want.stdout)
			}
			if o := gcusageIn(t, t.Context(), prod, srv, nil, at(srv, append(args, "--profile", "demo-test", "--config", path, "--quiet")...)...); o.stderr != "" {
				t.Errorf("--quiet: stderr %q", o.stderr)
			}
		}

		// A wait cut short: the results command with the profile resumes it.
		srv.Org("globex").Inject(usagetest.RouteResults, 1, usagetest.Slow(time.Hour))
		o := gcusageIn(t, t.Context(), nil, srv, nil, at(srv, "query", "--profile", "globex", "--config", path, "--interval", jan, "--format", "csv", "--timeout", "1m")...)
		m := regexp.MustCompile(`; resume with: (gcusage results \S+ .*--profile globex)\n$`).FindStringSubmatch(o.stderr)
		if o.code != 1 || m == nil || !strings.Contains(m[1], " --config "+path+" ") || !strings.Contains(m[1], " --format csv ") {
			t.Fatalf("exit %d, stderr %q; want 1 and the results command with --profile globex", o.code, o.stderr)
		}
		time.Sleep(time.Hour)
		o = gcusageIn(t, t.Context(), nil, srv, nil, shellWords(t, m[1])[1:]...)
		if o.code != 0 || strings.Count(o.stdout, "\n") != 1+3 {
			t.Errorf("%s: exit %d, stderr %q, stdout\n%s\nwant globex's 3 clients", m[1], o.code, o.stderr, o.stdout)
		}

		// A job of a run over several profiles, resumed by jobs results
		// with its profile.
		srv.Org("demo-sandbox").Inject(usagetest.RouteJobResults, 1, usagetest.Slow(time.Hour))
		o = gcusageIn(t, t.Context(), nil, srv, nil, at(srv, "jobs", "query", "--profile", "demo-prod,demo-sandbox", "--config", path, "--since", "10d",
			"--group-by", "OauthClientId", "--timeout", "1m", "--quiet")...)
		cmds := hints(t, strings.Split(o.stderr, "\n")[0], "unfinished jobs, resume with: ")
		if o.code != 1 || len(cmds) != 1 || !strings.HasPrefix(o.stderr, "gcusage: profile demo-sandbox: ") || strings.Count(o.stdout, "demo-prod") != 3 {
			t.Fatalf("exit %d, stdout\n%s\nstderr %q; want 1, demo-prod's 3 clients and demo-sandbox's job", o.code, o.stdout, o.stderr)
		}
		time.Sleep(time.Hour)
		o = gcusageIn(t, t.Context(), nil, srv, nil, cmds[0][1:]...)
		if o.code != 0 || cmds[0][1] != "jobs" || cmds[0][2] != "results" || strings.Count(o.stdout, "\n") != 1+1+1 {
			t.Errorf("%v: exit %d, stderr %q, stdout\n%s\nwant demo-sandbox's one client and the TOTAL", cmds[0], o.code, o.stderr, o.stdout)
		}
	})
}

// --demo with profiles needs no file: the built-in demo profiles run
// against the demo's orgs in the process, in every command that fans out.
func TestDemoProfiles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		profilesOf := func(o out, column int) map[string]int {
			t.Helper()
			recs, err := csv.NewReader(strings.NewReader(o.stdout)).ReadAll()
			if o.code != 0 || err != nil || len(recs) < 2 || recs[0][0] != "profile" {
				t.Fatalf("exit %d, stderr %q, stdout\n%s\nwant csv with a profile column", o.code, o.stderr, o.stdout)
			}
			n := map[string]int{}
			for _, r := range recs[1:] {
				n[r[column]]++
			}
			return n
		}
		// Each demo org's clients: 3, 2 and 1.
		want := map[string]int{"demo-prod": 3, "demo-test": 2, "demo-sandbox": 1}
		if got := profilesOf(gcusage(t, nil, nil, "query", "--demo", "--all-profiles", "--format", "csv"), 0); !maps(got, want) {
			t.Errorf("query: rows by profile %v, want %v", got, want)
		}
		if got := profilesOf(gcusage(t, nil, nil, "jobs", "query", "--demo", "--all-profiles", "--since", "30d", "--group-by", "OauthClientId", "--format", "csv", "--quiet"), 0); !maps(got, want) {
			t.Errorf("jobs query: rows by profile %v, want %v", got, want)
		}
		if got := profilesOf(gcusage(t, nil, nil, "search", "--demo", "--profile", "demo-test,demo-sandbox", "--since", "2d", "--metrics", "clientname,status200", "--format", "csv"), 0); len(got) != 2 || got["demo-test"] == 0 || got["demo-sandbox"] == 0 {
			t.Errorf("search: rows by profile %v, want demo-test's and demo-sandbox's", got)
		}
		// The summary of each org's first client, a row per day of traffic.
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithOrgs(usagetest.DemoOrgs()...))
		o := gcusage(t, nil, nil, "summary", "--demo", "--all-profiles", "--days", "5", "--format", "csv")
		got := profilesOf(o, 0)
		for _, org := range srv.Orgs() {
			if got[org.Name] == 0 || got[org.Name] > 5 || strings.Count(o.stdout, "\n"+org.Name+","+org.ClientIDs()[0]+",") != got[org.Name] {
				t.Errorf("summary: %d rows of %s, want up to 5 days of its first client:\n%s", got[org.Name], org.Name, o.stdout)
			}
		}
		if !strings.HasPrefix(o.stderr, "gcusage: demo: the first client of each org, last 5 days") {
			t.Errorf("summary: stderr %q", o.stderr)
		}
		// One demo profile prints as a plain run of its org does.
		o = gcusage(t, nil, nil, "query", "--demo", "--profile", "demo-test", "--format", "csv", "--quiet")
		if o.code != 0 || strings.Count(o.stdout, "\n") != 1+2 || strings.HasPrefix(o.stdout, "profile") {
			t.Errorf("--profile demo-test: exit %d, stdout\n%s\nwant demo-test's 2 clients, no profile column", o.code, o.stdout)
		}
		// A client's job carries the organizationId of each entity: the org
		// column. The client belongs to demo-prod: demo-test's token finds
		// no such client, which the summary says.
		prodClient := srv.Org("demo-prod").ClientIDs()[0]
		o = gcusage(t, nil, nil, "jobs", "query", "--demo", "--profile", "demo-prod,demo-test", "--client", prodClient, "--since", "3d", "--format", "csv", "--quiet")
		lines := strings.Split(strings.TrimSpace(o.stderr), "\n")
		if o.code != 1 || !strings.HasPrefix(o.stdout, "profile,org,templateUri,httpMethod,platform,status200,") || strings.Contains(o.stdout, "demo-test") ||
			len(lines) != 2 || !strings.HasPrefix(lines[0], "gcusage: profile demo-test: ") || !strings.Contains(lines[0], "; run it again with: gcusage jobs query --interval ") {
			t.Errorf("a client's job: exit %d, stdout\n%s\nstderr %q; want demo-prod's entities with the org column, and demo-test's failure", o.code, o.stdout, o.stderr)
		}
		for _, r := range strings.Split(strings.TrimSpace(o.stdout), "\n")[1:] {
			if !strings.HasPrefix(r, "demo-prod,"+srv.Org("demo-prod").OrganizationID+",") {
				t.Errorf("row %q: want demo-prod and its organizationId", r)
			}
		}
	})
}

func maps(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// On a terminal, a run over several orgs shows one line that counts them,
// never an org's polls, and takes it away at the end.
func TestProfilesProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(3, 0), usagetest.WithOrgs(usagetest.DemoOrgs()...))
		srv.Org("demo-test").Inject(usagetest.RouteResults, 1, usagetest.HTMLError(503))
		var tty bytes.Buffer
		o := gcusageIn(t, t.Context(), nil, srv, &tty, at(srv, "query", "--all-profiles", "--config", profilesFile(t, srv, nil), "--format", "csv", "--parallel", "2")...)
		if o.code != 0 || o.stderr != "" {
			t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
		}
		for _, want := range []string{"\r\x1b[Kgcusage: 0 of 3 profiles done, 1 running", "\r\x1b[Kgcusage: 0 of 3 profiles done, 2 running",
			"\r\x1b[Kgcusage: 3 of 3 profiles done, 0 running", "; profile demo-test: GET /api/v2/usage/query/"} {
			if !strings.Contains(tty.String(), want) {
				t.Errorf("progress %q lacks %q", tty.String(), want)
			}
		}
		if strings.Contains(tty.String(), "poll") || !strings.HasSuffix(tty.String(), "\r\x1b[K") {
			t.Errorf("progress %q: want no poll of an org, and the line taken away", tty.String())
		}
	})
}

// Rows of an org that break off after some were printed leave the merged
// output as a single org's would be left: the json array open. The
// summary says how many of its rows were printed and how to read them
// again; the other orgs' rows are all there.
func TestProfilesRowsCutShort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithOrgs(usagetest.DemoOrgs()...))
		srv.Org("demo-prod").Inject(usagetest.RouteResults, 0, usagetest.TruncatedJSON())
		o := gcusageIn(t, t.Context(), nil, srv, nil, at(srv, "query", "--all-profiles", "--config", profilesFile(t, srv, nil), "--interval", jan, "--format", "json")...)
		lines := strings.Split(strings.TrimSpace(o.stderr), "\n")
		cut := regexp.MustCompile(`^gcusage: profile demo-prod: ([12]) of its rows printed, then: execution \S+: .*; read it again with: gcusage results \S+ .*--format json .*--profile demo-prod$`)
		m := cut.FindStringSubmatch(lines[0])
		if o.code != 1 || len(lines) != 2 || m == nil || strings.HasSuffix(o.stdout, "]\n") || !strings.HasPrefix(o.stdout, "[\n") {
			t.Fatalf("exit %d, stdout\n%s\nstderr %q; want 1, the array left open, and demo-prod's rows cut short", o.code, o.stdout, o.stderr)
		}
		if n := strings.Count(o.stdout, `"profile":"demo-prod"`); fmt.Sprint(n) != m[1] || strings.Count(o.stdout, `"profile":"demo-test"`) != 2 || strings.Count(o.stdout, `"profile":"demo-sandbox"`) != 1 {
			t.Errorf("stdout\n%s\nwant demo-prod's %s rows, and every row of the others", o.stdout, m[1])
		}
	})
}

// A reader that goes away stops every org and ends the run quietly.
func TestProfilesClosedPipe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, format := range []string{"table", "csv", "json", "ndjson"} {
			var stderr bytes.Buffer
			f := &Factory{Getenv: func(string) string { return "" }, Stdout: epipe{}, Stderr: &stderr, Now: clock}
			if code := f.run(t.Context(), []string{"query", "--demo", "--all-profiles", "--quiet", "--format", format}); code != 0 || stderr.Len() != 0 {
				t.Errorf("%s: exit %d, stderr %q; want 0 and nothing", format, code, stderr.String())
			}
		}
	})
}

// --profile completes the names of the profiles of --config, item by item.
func TestProfilesComplete(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.WithOrgs(partnerOrgs()...))
	path := profilesFile(t, srv, nil)
	o := gcusage(t, nil, nil, "__complete", "query", "--config", path, "--profile", "demo-prod,demo-")
	if got := strings.Fields(o.stdout); !slices.Equal(got, []string{"demo-prod,demo-test", "demo-prod,demo-sandbox", ":6"}) {
		t.Errorf("completions %q, want demo-test and demo-sandbox after demo-prod", o.stdout)
	}
	if o := gcusage(t, map[string]string{"HOME": t.TempDir()}, nil, "__complete", "results", "e1", "--profile", ""); strings.TrimSpace(o.stdout) != ":4" {
		t.Errorf("without a file: %q, want nothing", o.stdout)
	}
}

// docs/config.demo.toml is the built-in demo profiles as a file: pointed
// at a stub of the demo orgs, as at gcusage-stub, it runs every one.
func TestDemoConfigFile(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "config.demo.toml")
	cfg, err := profiles.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	demo := profiles.Demo()
	for i, p := range cfg.Profiles {
		if i >= len(demo.Profiles) || p.Name != demo.Profiles[i].Name || p.ClientID != demo.Profiles[i].ClientID ||
			p.ClientSecret.Reveal() != demo.Profiles[i].ClientSecret.Reveal() || p.Environment != "" {
			t.Errorf("%s: profile %d is %v, want the demo's %v", path, i, p, demo.Profiles[i])
		}
	}
	srv := usagetest.NewServer(t, usagetest.WithOrgs(usagetest.DemoOrgs()...), usagetest.WithRunning(0, 0))
	o := gcusage(t, nil, nil, at(srv, "query", "--config", path, "--all-profiles", "--interval", jan, "--format", "csv")...)
	if o.code != 0 || len(cfg.Profiles) != len(demo.Profiles) || strings.Count(o.stdout, "\n") != 1+3+2+1 {
		t.Errorf("exit %d, stderr %q, stdout\n%s\nwant the 3, 2 and 1 clients of the demo orgs", o.code, o.stderr, o.stdout)
	}
}

// The profile flags bind to ProfileOptions, with --parallel 4 by default,
// on every command that fans out, the report included; results takes
// --profile and --config.
func TestProfileFlagsBind(t *testing.T) {
	f := &Factory{Getenv: func(string) string { return "" }, Stdout: io.Discard, Stderr: io.Discard, Now: clock}
	parse := func(name string, args ...string) ProfileOptions {
		t.Helper()
		var got ProfileOptions
		cmd := map[string]func() *cobra.Command{
			"query": func() *cobra.Command {
				return NewCmdQuery(f, func(o *QueryOptions) error { got = o.Conn.Profiles; return nil })
			},
			"search": func() *cobra.Command {
				return NewCmdSearch(f, func(o *SearchOptions) error { got = o.Conn.Profiles; return nil })
			},
			"summary": func() *cobra.Command {
				return NewCmdSummary(f, func(o *SummaryOptions) error { got = o.Conn.Profiles; return nil })
			},
			"jobs query": func() *cobra.Command {
				return NewCmdJobsQuery(f, func(o *JobsQueryOptions) error { got = o.Conn.Profiles; return nil })
			},
			"report": func() *cobra.Command {
				return NewCmdReport(f, func(o *ReportOptions) error { got = o.Conn.Profiles; return nil })
			},
		}[name]()
		if name == "summary" {
			args = append(args, "c1")
		}
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, name := range []string{"query", "search", "summary", "jobs query", "report"} {
		if got, want := parse(name, "--profile", "a,b", "--config", "p.toml", "--parallel", "9"), (ProfileOptions{Names: "a,b", Config: "p.toml", Parallel: 9}); got != want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
		if got := parse(name, "--all-profiles"); !got.All || got.Parallel != 4 || got.Names != "" || got.Config != "" {
			t.Errorf("%s --all-profiles: %+v, want every profile, 4 at a time", name, got)
		}
	}
	var r *ResultsOptions
	cmd := NewCmdResults(f, func(o *ResultsOptions) error { r = o; return nil })
	cmd.SetArgs([]string{"e1", "--profile", "acme", "--config", "p.toml"})
	if err := cmd.Execute(); err != nil || r.Conn.Profiles.Names != "acme" || r.Conn.Profiles.Config != "p.toml" || cmd.Flags().Lookup("all-profiles") != nil {
		t.Errorf("results: %v, %+v", err, r.Conn.Profiles)
	}
}
