package report

import (
	"context"
	"iter"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

var stubNow = time.Date(2025, 3, 31, 9, 30, 0, 0, time.UTC)

// stubClient is an SDK client of a new in-process stub of the
// population, whose today is stubNow; see stubClientOf.
func stubClient(t testing.TB, p usagetest.Population, wrap func(http.RoundTripper) http.RoundTripper) (*usagetest.Server, *client.Client) {
	t.Helper()
	srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithPopulation(p),
		usagetest.WithNow(func() time.Time { return stubNow }))
	return srv, stubClientOf(t, srv, wrap)
}

// stubClientOf is an SDK client of srv through its transport, which wrap
// (when not nil) may wrap. Every query is done when posted: no test waits.
func stubClientOf(t testing.TB, srv *usagetest.Server, wrap func(http.RoundTripper) http.RoundTripper) *client.Client {
	t.Helper()
	rt := srv.Transport()
	if wrap != nil {
		rt = wrap(rt)
	}
	c, err := client.New(client.WithBaseURLs(srv.URL, srv.LoginURL), client.WithClientCredentials(srv.ClientID, srv.ClientSecret),
		client.WithHTTPClient(&http.Client{Transport: rt}), client.WithNow(srv.Now))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stubReport collects a report of the days from first to last before
// stubNow's day on the service.
func stubReport(t testing.TB, c *client.Client, svc Service, first, last int) *Report {
	t.Helper()
	today := day(stubNow)
	b, err := NewBuilder(Meta{First: today.AddDate(0, 0, -first), Last: today.AddDate(0, 0, -last), Host: "in-process stub (demo data)", Service: svc, Made: stubNow, Version: client.Version}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Collect(context.Background(), c, b); err != nil {
		t.Fatal(err)
	}
	return b.Report()
}

// expected is what the stub's own rows of the report's queries say.
type expected struct {
	totals, endpoints Counts
	days              []Counts
	clients           map[string]Counts
	names             map[string]string
}

// rowser is a stub's organization: a Server's first, or an OrgServer.
type rowser interface {
	Rows(gen.APIUsageQuery) (iter.Seq[gen.APIUsageRow], error)
}

func stubExpected(t testing.TB, srv rowser, m Meta, rename func(string) string) expected {
	t.Helper()
	byDay, byEndpoint := Queries(m.First, m.Last)
	e := expected{days: make([]Counts, m.Days()), clients: map[string]Counts{}, names: map[string]string{}}
	for q, f := range map[*client.Query]func(gen.APIUsageRow){
		&byDay: func(r gen.APIUsageRow) {
			c := FromUsageRow(r).Counts
			e.totals.add(c)
			e.days[int(r.Date.Sub(m.First)/(24*time.Hour))].add(c)
			cc := e.clients[r.ClientID]
			cc.add(c)
			e.clients[r.ClientID] = cc
			e.names[r.ClientID] = r.ClientName
			if rename != nil {
				e.names[r.ClientID] = rename(r.ClientName)
			}
		},
		&byEndpoint: func(r gen.APIUsageRow) { e.endpoints.add(FromUsageRow(r).Counts) },
	} {
		aq := gen.APIUsageQuery{Interval: q.Interval, GroupBy: q.GroupBy}
		if q.Granularity != "" {
			aq.Granularity = &q.Granularity
		}
		rows, err := srv.Rows(aq)
		if err != nil {
			t.Fatal(err)
		}
		for r := range rows {
			f(r)
		}
	}
	return e
}

// TestCollectFromTheStub: the report of both services holds exactly what
// the stub's own rows say, client by client and day by day.
func TestCollectFromTheStub(t *testing.T) {
	srv, c := stubClient(t, usagetest.Population{Clients: 12}, nil)
	legacy := stubReport(t, c, Legacy, 30, 1)
	want := stubExpected(t, srv, legacy.Meta, nil)
	if want.totals.Requests == 0 || len(want.clients) != 12 {
		t.Fatalf("the stub's rows: %+v", want.totals)
	}
	// The stub's jobs count what its legacy query does (its population
	// uses no method that the jobs leave out), so both reports agree.
	jobs := stubReport(t, c, Jobs, 30, 1)
	for _, r := range []*Report{legacy, jobs} {
		s := r.Sections[0]
		if s.Totals != want.totals || s.EndpointTotals != want.endpoints {
			t.Errorf("%s: totals %+v and by endpoint %+v, the stub's %+v and %+v", r.Meta.Service, s.Totals, s.EndpointTotals, want.totals, want.endpoints)
		}
		for i, d := range s.Days {
			if d != want.days[i] {
				t.Errorf("%s: day %d %+v, the stub's %+v", r.Meta.Service, i, d, want.days[i])
			}
		}
		if len(s.Clients) != len(want.clients) {
			t.Errorf("%s: %d clients, the stub's %d", r.Meta.Service, len(s.Clients), len(want.clients))
		}
		for _, cl := range s.Clients {
			if cl.Counts != want.clients[cl.ID] || cl.Name != want.names[cl.ID] {
				t.Errorf("%s: client %s %q %+v, the stub's %q %+v", r.Meta.Service, cl.ID, cl.Name, cl.Counts, want.names[cl.ID], want.clients[cl.ID])
			}
		}
		if len(s.Notes) != 0 {
			t.Errorf("%s: notes %q", r.Meta.Service, s.Notes)
		}
	}
}

// stubOrgsReport is a report of the demo orgs of a stub, each collected
// through its own client into its section, all at once, and of a fourth
// section, failed (why names a hostile reason), as gcusage report
// --all-profiles makes it.
func stubOrgsReport(t testing.TB, why string) (*usagetest.Server, *Report) {
	t.Helper()
	srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithOrgs(usagetest.DemoOrgs()...),
		usagetest.WithNow(func() time.Time { return stubNow }))
	today := day(stubNow)
	b, err := NewBuilder(Meta{First: today.AddDate(0, 0, -30), Last: today.AddDate(0, 0, -1), Service: Legacy, Made: stubNow, Version: client.Version}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, org := range srv.Orgs() {
		s := b.Section(org.Name)
		s.SetHost("api." + org.Name + ".example")
		c, err := client.New(client.WithBaseURLs(srv.URL, srv.LoginURL), client.WithClientCredentials(org.ClientID, org.ClientSecret),
			client.WithHTTPClient(&http.Client{Transport: srv.Transport()}))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := Collect(context.Background(), c, s); err != nil {
				t.Error(err)
			}
		})
	}
	g := b.Section("globex")
	g.SetHost("api.globex.example")
	g.Fail(why)
	wg.Wait()
	return srv, b.Report()
}

// TestCollectOrgs: each section of the demo orgs holds what its org's
// stub rows say, and the section across all their sum; the failed one
// counts nowhere.
func TestCollectOrgs(t *testing.T) {
	srv, r := stubOrgsReport(t, "token request failed")
	if len(r.Sections) != 5 || r.Sections[4].Failed != "token request failed" {
		t.Fatalf("%d sections, the last failed %q", len(r.Sections), r.Sections[4].Failed)
	}
	var sum expected
	sum.days = make([]Counts, r.Meta.Days())
	for i, org := range srv.Orgs() {
		want, s := stubExpected(t, org, r.Meta, nil), r.Sections[i+1]
		if s.Name != org.Name || s.Totals != want.totals || s.EndpointTotals != want.endpoints || len(s.Clients) != len(want.clients) {
			t.Errorf("%s: totals %+v, %d clients; the stub's %+v, %d", s.Name, s.Totals, len(s.Clients), want.totals, len(want.clients))
		}
		sum.totals.add(want.totals)
		sum.endpoints.add(want.endpoints)
		for d := range want.days {
			sum.days[d].add(want.days[d])
		}
	}
	all := r.Sections[0]
	if all.Totals != sum.totals || all.EndpointTotals != sum.endpoints || !slices.Equal(all.Days, sum.days) || len(all.Clients) != 3+2+1 {
		t.Errorf("across all %+v, %d clients; the stub's orgs' sum %+v", all.Totals, len(all.Clients), sum.totals)
	}
}

func TestCollectRefusesABadRow(t *testing.T) {
	_, c := stubClient(t, usagetest.Population{}, nil)
	today := day(stubNow)
	b, err := NewBuilder(Meta{First: today.AddDate(0, 0, -3), Last: today.AddDate(0, 0, -1), Service: Legacy}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// A section whose interval the rows do not fit: the first row is
	// refused, and the error says which query it came from.
	err = Collect(context.Background(), c, refuse{b})
	if err == nil || err.Error() != "the query by day and OAuth client: no" {
		t.Errorf("error %v", err)
	}
}

type refuse struct{ *Builder }

func (refuse) Add(Kind, Row) error { return errNo }

var errNo = errorString("no")

type errorString string

func (e errorString) Error() string { return string(e) }
