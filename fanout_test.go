package gcusage_test

// Contract tests of the fan-out over organizations: a client per org of a
// stub serving several, every exchange checked against api/usage.yaml, in
// virtual time.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/internal/fanout"
	"github.com/gcusage/gcusage/usagetest"
)

// orgQuery is what every org runs: a week by organization and client, so
// that each row says whose it is.
var orgQuery = client.Query{Interval: "2024-01-01/2024-01-07", Granularity: gen.GranularityWeek,
	GroupBy: []gen.GroupBy{gen.GroupByOrganizationID, gen.GroupByOAuthClientID}}

// manyOrgs is n orgs of their own credentials and seeds.
func manyOrgs(n int) []usagetest.Org {
	orgs := usagetest.DemoOrgs()
	for i := len(orgs); i < n; i++ {
		orgs = append(orgs, usagetest.Org{Name: fmt.Sprintf("customer-%02d", i),
			ClientID: fmt.Sprintf("client-%02d", i), ClientSecret: fmt.Sprintf("secret-%02d", i)})
	}
	return orgs[:n]
}

// fleet is a stub of several orgs and what a fan-out over them needs.
type fleet struct {
	t     *testing.T
	srv   *usagetest.Server
	check *specCheck
	names []string
	sink  *fanout.Sink[gen.APIUsageRow]
	rows  map[string][]gen.APIUsageRow // by org, as the sink wrote them
}

func newFleet(t *testing.T, orgs []usagetest.Org, opts ...usagetest.Option) *fleet {
	srv := usagetest.NewServer(t, append([]usagetest.Option{usagetest.InMemory(), usagetest.WithOrgs(orgs...)}, opts...)...)
	f := &fleet{t: t, srv: srv, check: newSpecCheck(t, srv.Transport()), rows: map[string][]gen.APIUsageRow{}}
	for _, o := range orgs {
		f.names = append(f.names, o.Name)
	}
	f.sink = fanout.NewSink(func(org string, row gen.APIUsageRow) error {
		f.rows[org] = append(f.rows[org], row)
		return nil
	})
	t.Cleanup(func() {
		for _, v := range f.check.violations {
			t.Errorf("outside api/usage.yaml: %s", v)
		}
	})
	return f
}

// work runs orgQuery in one org, with a client of its own, into the sink.
func (f *fleet) work(ctx context.Context, task *fanout.Task) error {
	o := f.srv.Org(task.Name)
	c, err := client.New(client.WithBaseURLs(f.srv.URL, f.srv.LoginURL), client.WithClientCredentials(o.ClientID, o.ClientSecret),
		client.WithHTTPClient(&http.Client{Transport: f.check}), client.WithNow(f.srv.Now))
	if err != nil {
		return err
	}
	return fanout.Query(ctx, task, c, orgQuery, f.sink)
}

// wantRows checks that org got its own rows, all of them, through the sink.
func (f *fleet) wantRows(org string) {
	f.t.Helper()
	o := f.srv.Org(org)
	rows, err := o.Rows(gen.APIUsageQuery{Interval: orgQuery.Interval, Granularity: &orgQuery.Granularity, GroupBy: orgQuery.GroupBy})
	if err != nil {
		f.t.Fatal(err)
	}
	want, got := slices.Collect(rows), f.rows[org]
	if len(want) == 0 || !slices.Equal(got, want) || f.sink.Rows(org) != len(want) {
		f.t.Errorf("%s: %d rows, want its %d", org, len(got), len(want))
	}
	for _, r := range got {
		if r.OrganizationID != o.OrganizationID {
			f.t.Errorf("%s: a row of organization %s, want %s", org, r.OrganizationID, o.OrganizationID)
		}
	}
}

// Orgs run concurrently: no org's query starts until four are being
// posted at once, so a fan-out of four at a time over four orgs ends, and
// one of three at a time never does.
func TestFanOutRunsOrgsConcurrently(t *testing.T) {
	for _, limit := range []int{0, 3} { // 0: the default, 4
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFleet(t, manyOrgs(4), usagetest.WithFault(usagetest.RouteQuery, 0, usagetest.Barrier(4)))
				ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
				defer cancel()
				outs := fanout.Run(ctx, f.names, fanout.Options{Limit: limit}, f.work)
				for _, o := range outs {
					switch {
					case limit == 0 && o.State != fanout.Done:
						t.Errorf("%s: %s (%v), want done", o.Name, o.State, o.Err)
					case limit == 0:
						f.wantRows(o.Name)
					case o.State == fanout.Done || len(f.rows) > 0:
						t.Errorf("%s: %s with %d rows at a limit of 3, want none through a barrier of 4", o.Name, o.State, len(f.rows))
					}
				}
			})
		})
	}
}

// One org failing loses nothing of the others: its outcome says why, and
// what resumes it where something was started; the others have all their
// rows. Each org has its own token and retries: one whose login fails, or
// whose every poll is throttled, holds up no other, which all end first.
func TestFanOutOneOrgFailing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, manyOrgs(5))
		f.srv.Org("demo-sandbox").Inject(usagetest.RouteResults, 0, usagetest.RateLimited("20"))
		var order []string
		var mu sync.Mutex
		outs := fanout.Run(t.Context(), f.names, fanout.Options{Limit: 5, OnDone: func(o fanout.Outcome) {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, o.Name)
		}}, func(ctx context.Context, task *fanout.Task) error {
			if task.Index == 1 { // logs in with a secret the stub does not know
				c, err := client.New(client.WithBaseURLs(f.srv.URL, f.srv.LoginURL), client.WithClientCredentials(usagetest.DemoTestClientID, "wrong"),
					client.WithHTTPClient(&http.Client{Transport: f.check}), client.WithNow(f.srv.Now))
				if err != nil {
					return err
				}
				_, err = c.Start(ctx, orgQuery)
				return err
			}
			return f.work(ctx, task)
		})
		var ae *client.AuthError
		if o := outs[1]; o.State != fanout.Failed || !errors.As(o.Err, &ae) || o.Resume != "" {
			t.Errorf("demo-test: %s, %v, resume %q; want failed on its login, nothing to resume", o.State, o.Err, o.Resume)
		}
		var rl *client.RateLimitError
		var ee *client.ExecutionError
		if o := outs[2]; o.State != fanout.Failed || !errors.As(o.Err, &rl) || !errors.As(o.Err, &ee) || o.Resume != ee.ExecutionID || o.Resume == "" {
			t.Errorf("demo-sandbox: %s, %v, resume %q; want failed on its 429s, resumed by its execution", o.State, o.Err, o.Resume)
		}
		for _, i := range []int{0, 3, 4} {
			if outs[i].State != fanout.Done {
				t.Errorf("%s: %s (%v), want done", outs[i].Name, outs[i].State, outs[i].Err)
			}
			f.wantRows(outs[i].Name)
		}
		if len(order) != 5 || order[4] != "demo-sandbox" {
			t.Errorf("orgs ended in the order %v, want the throttled demo-sandbox last", order)
		}
	})
}

// Ctrl-C stops every org: those running keep their executions, which
// resume later to the same rows; those not started are reported so.
func TestFanOutInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, manyOrgs(6), usagetest.WithRunning(1, time.Hour))
		ctx, cancel := context.WithCancel(t.Context())
		var started sync.WaitGroup
		started.Add(3)
		go func() {
			started.Wait()
			time.Sleep(time.Minute) // all three waiting on their queries
			cancel()
		}()
		outs := fanout.Run(ctx, f.names, fanout.Options{Limit: 3, OnStart: func(string) { started.Done() }}, f.work)
		for i, o := range outs {
			switch {
			case i < 3 && (o.State != fanout.Interrupted || o.Resume == "" || !errors.Is(o.Err, context.Canceled)):
				t.Errorf("%s: %s, %v, resume %q; want interrupted with its execution", o.Name, o.State, o.Err, o.Resume)
			case i >= 3 && (o.State != fanout.NotStarted || o.Resume != ""):
				t.Errorf("%s: %s, resume %q; want not started", o.Name, o.State, o.Resume)
			}
		}
		time.Sleep(time.Hour) // the queries end
		for _, o := range outs[:3] {
			org := f.srv.Org(o.Name)
			c, err := client.New(client.WithBaseURLs(f.srv.URL, f.srv.LoginURL), client.WithClientCredentials(org.ClientID, org.ClientSecret),
				client.WithHTTPClient(&http.Client{Transport: f.check}), client.WithNow(f.srv.Now))
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Wait(t.Context(), o.Resume)
			if err != nil {
				t.Fatalf("%s: resume %s: %v", o.Name, o.Resume, err)
			}
			if err := f.sink.Drain(o.Name, res.Rows()); err != nil {
				t.Fatal(err)
			}
			f.wantRows(o.Name)
		}
	})
}
