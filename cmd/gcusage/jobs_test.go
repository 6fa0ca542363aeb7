package main

import (
	"encoding/json"
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
		// demo's 5 clients, 3 methods).
		o := gcusage(t, nil, nil, "jobs", "query", "--demo", "--since", "200d", "--group-by", "oauthclientid,HTTPMETHOD", "--format", "ndjson")
		if o.code != 0 || strings.Count(o.stdout, "\n") != 15 || strings.Count(o.stderr, " started for ") != 3 {
			t.Fatalf("exit %d, want 15 totals from 3 windows:\n%s\n%s", o.code, o.stdout, o.stderr)
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(strings.SplitN(o.stdout, "\n", 2)[0]), &e); err != nil {
			t.Fatal(err)
		}
		if c, ok := e["oauthClient"].(map[string]any); !ok || c["id"] == "" || e["requestCount"] == nil || e["date"] != nil {
			t.Errorf("entity %v: want the API's nested oauthClient, requestCount and no date", e)
		}
		o = gcusage(t, nil, nil, "jobs", "query", "--demo", "--since", "14d", "--granularity", "day", "--group-by", "OauthClientName,UserId", "--format", "csv", "--sort", "requestCount:desc")
		lines := strings.Split(strings.TrimSpace(o.stdout), "\n")
		if o.code != 0 || lines[0] != "date,oauthClient.name,user.id,requestCount,status200,status300,status400,status429,status500" || len(lines) < 100 {
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
			if o.code != 0 || !strings.HasPrefix(o.stdout, "date,oauthClient.id,") {
				t.Fatalf("%s: exit %d, stderr %q, stdout %q", cmd, o.code, o.stderr, o.stdout)
			}
			months += strings.Count(o.stdout, "-01,")
		}
		if months < 3*7 { // 3 clients over the 7 or 8 months the 200 days meet
			t.Errorf("the resumed jobs hold %d client-months, want at least 21", months)
		}
	})
}
