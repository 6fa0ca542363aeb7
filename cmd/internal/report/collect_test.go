package report

import (
	"context"
	"net/http"
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
		client.WithHTTPClient(&http.Client{Transport: rt}))
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
	if err := Collect(context.Background(), c, b, &client.JobOptions{Now: func() time.Time { return stubNow }}); err != nil {
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

func stubExpected(t testing.TB, srv *usagetest.Server, m Meta, rename func(string) string) expected {
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

func TestCollectRefusesABadRow(t *testing.T) {
	_, c := stubClient(t, usagetest.Population{}, nil)
	today := day(stubNow)
	b, err := NewBuilder(Meta{First: today.AddDate(0, 0, -3), Last: today.AddDate(0, 0, -1), Service: Legacy}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// A section whose interval the rows do not fit: the first row is
	// refused, and the error says which query it came from.
	err = Collect(context.Background(), c, refuse{b}, nil)
	if err == nil || err.Error() != "the query by day and OAuth client: no" {
		t.Errorf("error %v", err)
	}
}

type refuse struct{ *Builder }

func (refuse) Add(Kind, Row) error { return errNo }

var errNo = errorString("no")

type errorString string

func (e errorString) Error() string { return string(e) }
