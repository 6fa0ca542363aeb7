package profiles_test

// The contract test of profiles: a config file of several stub orgs, one
// of which cannot log in, run over concurrently through the fan-out, as
// --all-profiles will.

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/cmd/internal/profiles"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/internal/fanout"
	"github.com/gcusage/gcusage/usagetest"
)

func TestProfilesAgainstSeveralOrgs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		orgs := append(usagetest.DemoOrgs(), usagetest.Org{Name: "globex", ClientID: "globex-client", ClientSecret: "globex-secret-4e1f"})
		// No org's query starts before three are posted at once: the three
		// that can log in must run concurrently.
		srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithOrgs(orgs...),
			usagetest.WithFault(usagetest.RouteQuery, 0, usagetest.Barrier(3)))

		// The file names each org by its profile, and gives demo-test a
		// secret the stub does not know.
		var file strings.Builder
		secrets := map[string]string{}
		for _, o := range srv.Orgs() {
			secret := o.ClientSecret
			if o.Name == "demo-test" {
				secret = "stale-secret-9d2c"
			}
			secrets[o.Name] = secret
			fmt.Fprintf(&file, "[%s]\nclient_credentials = %q\nclient_secret = %q\nenvironment = \"eu-west-1\"\nlogging_enabled = true\n\n",
				o.Name, o.ClientID, secret)
		}
		path := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := profiles.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		selected, err := cfg.Select("", true)
		if err != nil {
			t.Fatal(err)
		}

		// Every client is built before anything is sent, each its own,
		// pointed at the stub as --api-url and --login-url would.
		var logs bytes.Buffer
		var logMu sync.Mutex
		logger := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		clients := make([]*client.Client, len(selected))
		for i, p := range selected {
			if clients[i], err = p.Client(profiles.Overrides{APIURL: srv.URL, LoginURL: srv.LoginURL},
				client.WithHTTPClient(&http.Client{Transport: srv.Transport()}), client.WithLogger(logger), client.WithNow(srv.Now)); err != nil {
				t.Fatal(err)
			}
		}

		// The rows of every org meet in one csv, with a profile column.
		var out bytes.Buffer
		w := csv.NewWriter(&out)
		w.Write([]string{"profile", "organizationId", "clientId", "requests"})
		sink := fanout.NewSink(func(org string, r gen.APIUsageRow) error {
			w.Write([]string{org, r.OrganizationID, r.ClientID, strconv.FormatInt(r.Requests, 10)})
			return w.Error()
		})
		q := client.Query{Interval: "2024-01-01/2024-01-07", GroupBy: []gen.GroupBy{gen.GroupByOrganizationID, gen.GroupByOAuthClientID}}
		outs := fanout.Run(t.Context(), cfg.Names(), fanout.Options{}, func(ctx context.Context, task *fanout.Task) error {
			return fanout.Query(ctx, task, clients[task.Index], q, sink)
		})
		w.Flush()

		var ae *client.AuthError
		for _, o := range outs {
			switch {
			case o.Name == "demo-test" && (o.State != fanout.Failed || !errors.As(o.Err, &ae) || ae.StatusCode != 401 || o.Resume != ""):
				t.Errorf("demo-test: %s, %v; want failed on its login, with nothing to resume", o.State, o.Err)
			case o.Name != "demo-test" && o.State != fanout.Done:
				t.Errorf("%s: %s, %v; want done", o.Name, o.State, o.Err)
			}
		}
		records, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, r := range records[1:] {
			count[r[0]]++
			if r[1] != srv.Org(r[0]).OrganizationID {
				t.Errorf("a row of %s has organizationId %s, want %s", r[0], r[1], srv.Org(r[0]).OrganizationID)
			}
		}
		for _, o := range srv.Orgs() {
			want := len(o.ClientIDs()) // a total per client of the org
			if o.Name == "demo-test" {
				want = 0
			}
			if count[o.Name] != want || sink.Rows(o.Name) != want {
				t.Errorf("%s: %d rows in the output, want %d", o.Name, count[o.Name], want)
			}
		}

		// No secret of the file shows in the output, the logs, the errors,
		// the outcomes or the profiles, however printed; nor did the stub
		// receive one in anything but the Basic credentials of the token
		// requests (which it records redacted).
		var seen bytes.Buffer
		seen.Write(out.Bytes())
		seen.Write(logs.Bytes())
		fmt.Fprintf(&seen, "%v %+v %#v %v", outs, outs, selected, cfg)
		for _, o := range outs {
			if o.Err != nil {
				seen.WriteString(o.Err.Error())
			}
		}
		for _, r := range srv.Requests() {
			fmt.Fprintf(&seen, "%s %s %v %s", r.Path, r.Query, r.Header, r.Body)
		}
		for name, secret := range secrets {
			if strings.Contains(seen.String(), secret) {
				t.Errorf("the secret of %s shows:\n%s", name, seen.String())
			}
		}
		if !strings.Contains(logs.String(), "POST") {
			t.Errorf("no request was logged at debug level, so the check of the logs checked nothing:\n%s", logs.String())
		}
	})
}

// lockedWriter serialises the writes of concurrent loggers.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
