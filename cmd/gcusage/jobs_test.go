package main

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
)

func TestJobsDemo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 200 days: three windows, one total per client and method.
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
