package main

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/usagetest"
)

func TestJobsDemo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 200 days: three windows, one total per client and method (the
		// demo's 3 clients, 3 methods).
		o := gcusage(t, nil, nil, "jobs", "query", "--demo", "--since", "200d", "--group-by", "oauthclientid,HTTPMETHOD", "--format", "ndjson")
		if o.code != 0 || strings.Count(o.stdout, "\n") != 9 || strings.Count(o.stderr, " started for ") != 3 {
			t.Fatalf("exit %d, want 9 totals from 3 windows:\n%s\n%s", o.code, o.stdout, o.stderr)
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(strings.SplitN(o.stdout, "\n", 2)[0]), &e); err != nil {
			t.Fatal(err)
		}
		if c, ok := e["oauthClient"].(map[string]any); !ok || c["id"] == "" || e["requestCount"] == nil || e["date"] != nil {
			t.Errorf("entity %v: want the API's nested oauthClient, requestCount and no date", e)
		}
		o = gcusage(t, nil, nil, "jobs", "query", "--demo", "--since", "14d", "--granularity", "day", "--group-by", "OauthClientName,UserId", "--format", "csv", "--sort", "requests")
		lines := strings.Split(strings.TrimSpace(o.stdout), "\n")
		if o.code != 0 || lines[0] != "clientName,userId,date,status200,status300,status400,status500,status429,requests" || len(lines) < 100 {
			t.Errorf("csv: exit %d, %d lines, header %q", o.code, len(lines), lines[0])
		}
		if o := gcusage(t, nil, nil, "jobs", "query", "--demo", "--since", "400d"); o.code != 2 || !strings.Contains(o.stderr, "a year ago") {
			t.Errorf("400 days back: exit %d, stderr %q; want 2 naming the one-year limit", o.code, o.stderr)
		}
		if o := gcusage(t, nil, nil, "jobs", "query", "--demo", "--group-by", "OrganizationId"); o.code != 2 || !strings.Contains(o.stderr, "OauthClientId") {
			t.Errorf("a client's dimension on the organization's job: exit %d, stderr %q; want 2 naming the jobs enum", o.code, o.stderr)
		}
	})
}

// A split run that times out names every unfinished job with the command
// that reads it; each command then prints its job's entities.
func TestJobsResumeEveryUnfinishedJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, time.Hour), usagetest.WithNow(clock))
		o := gcusage(t, stubEnv(srv), srv.Transport(), at(srv, "jobs", "query", "--since", "200d", "--group-by", "OauthClientId",
			"--granularity", "month", "--format", "csv", "--timeout", "1m", "--quiet")...)
		_, hints, ok := strings.Cut(strings.TrimSpace(o.stderr), "; unfinished jobs, resume with: ")
		cmds := strings.Split(hints, "; ")
		// 2023-06-22 to 2024-01-07 in whole months: June to August, then
		// two months at a time (three would pass 90 days), then January.
		if o.code != 1 || !ok || len(cmds) != 4 || !strings.Contains(o.stderr, "deadline exceeded") {
			t.Fatalf("exit %d, stderr %q; want 1 and a resume command for each of 4 jobs", o.code, o.stderr)
		}
		time.Sleep(time.Hour)
		months := 0
		for _, cmd := range cmds {
			args := strings.Fields(cmd)
			if len(args) < 4 || strings.Join(args[:3], " ") != "gcusage jobs results" || !slices.Contains(args, "--format") {
				t.Fatalf("resume command %q", cmd)
			}
			o := gcusage(t, stubEnv(srv), srv.Transport(), args[1:]...)
			if o.code != 0 || !strings.HasPrefix(o.stdout, "clientId,clientName,organizationId,userId,templateUri,httpMethod,platform,date,") {
				t.Fatalf("%s: exit %d, stderr %q, stdout %q", cmd, o.code, o.stderr, o.stdout)
			}
			months += strings.Count(o.stdout, "-01,")
		}
		if months < 3*7 { // 3 clients over the 7 or 8 months the 200 days meet
			t.Errorf("the resumed jobs hold %d client-months, want at least 21", months)
		}
	})
}

// shellWords splits a printed command as a POSIX shell would, for the
// words shellQuote writes: plain words and single-quoted strings. Anything
// the shell would read otherwise (a parenthesis, a semicolon) fails the
// test: the command could not be pasted as is.
func shellWords(t *testing.T, cmd string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inQuote, word := false, false
	for _, ch := range cmd {
		switch {
		case inQuote && ch == '\'':
			inQuote = false
		case inQuote:
			w.WriteRune(ch)
		case ch == '\'':
			inQuote, word = true, true
		case ch == ' ':
			if word {
				words = append(words, w.String())
				w.Reset()
				word = false
			}
		case strings.ContainsRune("\"\\$`;&|<>(){}*?[]#~!\t\n", ch):
			t.Fatalf("%q: the shell reads %q in it as syntax", cmd, ch)
		default:
			w.WriteRune(ch)
			word = true
		}
	}
	if inQuote {
		t.Fatalf("%q: unterminated quote", cmd)
	}
	if word {
		words = append(words, w.String())
	}
	if len(words) < 3 || words[0] != "gcusage" {
		t.Fatalf("%q is not a gcusage command", cmd)
	}
	return words
}

// hints is the commands of a resume hint, split into words.
func hints(t *testing.T, stderr, lead string) [][]string {
	t.Helper()
	_, list, ok := strings.Cut(strings.TrimSpace(stderr), lead)
	if !ok {
		t.Fatalf("stderr %q has no %q", stderr, lead)
	}
	var out [][]string
	for cmd := range strings.SplitSeq(list, "; ") {
		out = append(out, shellWords(t, cmd))
	}
	return out
}

// ok is the stdout of a run that must succeed.
func ok(t *testing.T, o out) string {
	t.Helper()
	if o.code != 0 {
		t.Fatalf("exit %d, stderr %q, stdout %q", o.code, o.stderr, o.stdout)
	}
	return o.stdout
}

// A window whose job was not started when the run stopped is named by a
// jobs query command over that window alone, with every flag of the run:
// pasted, the hints print what the whole run prints (ndjson: the started
// job's results print every column in csv and table).
func TestJobsResumeWindowNotStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, time.Hour), usagetest.WithNow(clock))
		env := stubEnv(srv)
		args := at(srv, "jobs", "query", "--since", "200d", "--group-by", "OauthClientId,HttpMethod", "--granularity", "month",
			"--template-uri", "api/v2/users/{userId},api/v2/analytics/conversations/details/query", "--metrics", "requests,status429",
			"--page-size", "5", "--format", "ndjson", "--concurrency", "1", "--quiet")
		o := gcusage(t, env, srv.Transport(), append(args, "--timeout", "1m")...)
		cmds := hints(t, o.stderr, "; unfinished jobs, resume with: ")
		if o.code != 1 || len(cmds) != 4 || strings.Join(cmds[0][:3], " ") != "gcusage jobs results" {
			t.Fatalf("exit %d, stderr %q; want 1, the started job and the 3 windows not started", o.code, o.stderr)
		}
		time.Sleep(time.Hour)
		var resumed strings.Builder
		for i, cmd := range cmds {
			if i > 0 && (strings.Join(cmd[:3], " ") != "gcusage jobs query" || !slices.Contains(cmd, "api/v2/users/{userId},api/v2/analytics/conversations/details/query")) {
				t.Fatalf("hint %q: want a jobs query with every flag of the run", cmd)
			}
			// The stub's jobs run an hour: wait for them.
			resumed.WriteString(ok(t, gcusage(t, env, srv.Transport(), append(cmd[1:], "--timeout", "0")...)))
		}
		whole := ok(t, gcusage(t, env, srv.Transport(), append(args, "--timeout", "0")...))
		if resumed.String() != whole || strings.Count(whole, "\n") < 10 {
			t.Errorf("the resumed windows print\n%s\nthe whole run\n%s", resumed.String(), whole)
		}
	})
}

// A split run without a granularity sums each group across windows, which
// its jobs read one by one would not: its hint runs it again whole.
func TestJobsResumeTotals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, time.Hour), usagetest.WithNow(clock))
		env := stubEnv(srv)
		args := at(srv, "jobs", "query", "--since", "200d", "--group-by", "OauthClientId", "--format", "csv", "--quiet")
		o := gcusage(t, env, srv.Transport(), append(args, "--timeout", "1m")...)
		cmds := hints(t, o.stderr, "; its totals are summed across windows: run it again with: ")
		if o.code != 1 || len(cmds) != 1 || !slices.Contains(cmds[0], "--interval") || slices.Contains(cmds[0], "--since") {
			t.Fatalf("exit %d, stderr %q; want 1 and the whole query over the same interval", o.code, o.stderr)
		}
		again := gcusage(t, env, srv.Transport(), append(cmds[0][1:], "--timeout", "0")...)
		whole := gcusage(t, env, srv.Transport(), append(args, "--timeout", "0")...)
		if again.code != 0 || again.stdout != whole.stdout || strings.Count(whole.stdout, "\n") < 3 {
			t.Errorf("run again: exit %d, stderr %q, stdout\n%s\nthe whole run\n%s", again.code, again.stderr, again.stdout, whole.stdout)
		}
	})
}

// Failures that would come back the same way name no command, but what to
// check; a refused id sends nothing and exits 2.
func TestJobsHintsOnlyWhatHelps(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.WithRunning(0, 0), usagetest.WithNow(clock))
	wrong := map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID": srv.ClientID, "GENESYSCLOUD_OAUTHCLIENT_SECRET": "wrong"}
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"message":"You are missing the following permission(s): [usage:organization:view]","code":"missing.any.permissions","status":403}`)
	}))
	t.Cleanup(forbidden.Close)
	token := map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": "t"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"401", wrong, at(srv, "jobs", "query", "--since", "3d"), "; check GENESYSCLOUD_OAUTHCLIENT_ID / _SECRET and the region\n"},
		{"401 of results", wrong, at(srv, "jobs", "results", "j1"), "; check GENESYSCLOUD_OAUTHCLIENT_ID / _SECRET and the region\n"},
		{"404", stubEnv(srv), at(srv, "jobs", "results", "no-such-job"), "; a job id belongs to one organization and region, and a client's job is read with its --client: check the id, the credentials and the region\n"},
		{"403", token, []string{"jobs", "query", "--since", "3d", "--api-url", forbidden.URL}, "; the credentials need the permission usage:organization:view\n"},
		{"403 of a client", token, []string{"jobs", "query", "--since", "3d", "--client", "c1", "--api-url", forbidden.URL}, "; the credentials need the permission usage:client:view\n"},
		{"403 of results", token, []string{"jobs", "results", "j1", "--client", "c1", "--api-url", forbidden.URL}, "; the credentials need the permission usage:client:view\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := gcusage(t, tc.env, nil, tc.args...)
			if o.code != 1 || !strings.HasSuffix(o.stderr, tc.want) || strings.Contains(o.stderr, "resume") || strings.Count(o.stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 1 and %q, no resume command", o.code, o.stderr, tc.want)
			}
		})
	}
	for _, id := range []string{"..", "a/b"} {
		var tr refusing
		o := gcusage(t, stubEnv(srv), &tr, at(srv, "jobs", "results", id)...)
		if o.code != 2 || strings.Contains(o.stderr, "resume") || strings.Count(o.stderr, "\n") != 1 || tr.n.Load() != 0 {
			t.Errorf("jobs results %q: exit %d, stderr %q, %d requests; want 2, no resume command and nothing sent", id, o.code, o.stderr, tr.n.Load())
		}
	}
}

// csv flattens the entities without losing a field: every field of every
// entity in ndjson is a csv column with the same value, for both variants,
// grouped or not.
func TestJobsCSVKeepsEveryField(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithNow(clock))
		id := srv.ClientIDs()[0]
		// The counts --metrics leaves out are 0 in the entity's json, and
		// no column: the only fields the csv may leave out.
		unasked := []string{"requests", "status200", "status300", "status400", "status500"}
		for _, args := range [][]string{
			{"--since", "3d"},
			{"--since", "3d", "--granularity", "day"},
			{"--since", "3d", "--client", id},
			{"--since", "3d", "--client", id, "--granularity", "day"},
			{"--since", "3d", "--client", id, "--group-by", "TemplateUri", "--metrics", "status429"},
			{"--since", "3d", "--group-by", "UserId,OauthClientName"},
		} {
			run := func(format string) string {
				return ok(t, gcusage(t, stubEnv(srv), srv.Transport(), at(srv, append([]string{"jobs", "query", "--format", format}, args...)...)...))
			}
			recs, err := csv.NewReader(strings.NewReader(run("csv"))).ReadAll()
			lines := strings.Split(strings.TrimSpace(run("ndjson")), "\n")
			if err != nil || len(recs) != len(lines)+1 || len(lines) < 2 {
				t.Fatalf("%q: %v, %d csv records for %d entities", args, err, len(recs), len(lines))
			}
			for i, l := range lines {
				var e map[string]any
				d := json.NewDecoder(strings.NewReader(l))
				d.UseNumber() // counts as written
				if err := d.Decode(&e); err != nil {
					t.Fatal(err)
				}
				for k, v := range flatten("", e) {
					k = cmp.Or(entityNames[k], k)
					col := slices.Index(recs[0], k)
					if col < 0 && slices.Contains(args, "--metrics") && slices.Contains(unasked, k) && v == "0" {
						continue
					}
					if col < 0 || recs[i+1][col] != v {
						t.Fatalf("%q: entity %d has %s %q; the csv columns %q, row %q", args, i, k, v, recs[0], recs[i+1])
					}
				}
			}
		}
	})
}

// entityNames are the csv columns of an entity's fields, those of the
// legacy rows where both have the quantity.
var entityNames = map[string]string{"oauthClient.id": "clientId", "oauthClient.name": "clientName", "user.id": "userId", "requestCount": "requests"}

// flatten names the fields of a JSON object by their path: oauthClient.id.
func flatten(prefix string, obj map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range obj {
		switch v := v.(type) {
		case map[string]any:
			for fk, fv := range flatten(prefix+k+".", v) {
				out[fk] = fv
			}
		default:
			out[prefix+k] = fmt.Sprint(v)
		}
	}
	return out
}

// Each filter of jobs query reaches the stub and keeps only what it names.
func TestJobsFilters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := []string{"jobs", "query", "--demo", "--quiet", "--since", "2d", "--group-by", "oauthclientid,userid,httpmethod,platform", "--format", "ndjson"}
		read := func(o out) []map[string]any {
			t.Helper()
			if o.code != 0 {
				t.Fatalf("exit %d: %s", o.code, o.stderr)
			}
			var es []map[string]any
			for l := range strings.Lines(o.stdout) {
				var e map[string]any
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatal(err)
				}
				es = append(es, e)
			}
			return es
		}
		all := read(gcusage(t, nil, nil, base...))
		if len(all) == 0 {
			t.Fatal("no entities to filter")
		}
		first := all[0]
		field := func(e map[string]any, name string) string {
			if obj, key, ok := strings.Cut(name, "."); ok {
				m, _ := e[obj].(map[string]any)
				return fmt.Sprint(m[key])
			}
			return fmt.Sprint(e[name])
		}
		for _, f := range []struct{ flag, field string }{
			{"--http-method", "httpMethod"}, {"--platform", "platform"}, {"--user-id", "user.id"}, {"--oauth-client-id", "oauthClient.id"},
		} {
			want := field(first, f.field)
			got := read(gcusage(t, nil, nil, append(base, f.flag, want)...))
			if len(got) == 0 || len(got) >= len(all) {
				t.Errorf("%s %s: %d of %d entities; want some, not all", f.flag, want, len(got), len(all))
			}
			for _, e := range got {
				if v := field(e, f.field); v != want {
					t.Errorf("%s %s: an entity with %s %s", f.flag, want, f.field, v)
				}
			}
		}
	})
}
