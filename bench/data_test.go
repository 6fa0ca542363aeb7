package bench

import (
	"sync"
	"testing"
	"time"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// population gives 1000 combinations of client × template URI × method, so
// that a day of usage grouped by all three is up to 1000 rows with every
// string field set. About one group-day in seven has no traffic and no row,
// as in the real API, so a day is about 860 rows.
var population = usagetest.Population{Clients: 25, TemplateURIs: 8, Methods: 5}

// today is the stubs' clock, fixed so that every run serves the same rows
// whatever the date: the API has no data from today on.
var today = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func stubOptions(opts ...usagetest.Option) []usagetest.Option {
	fixed := usagetest.WithNow(func() time.Time { return today })
	return append([]usagetest.Option{usagetest.WithPopulation(population), fixed}, opts...)
}

// days asks for day rows grouped by client, template and method from
// 2022-01-01 for n days.
func days(n int) gen.APIUsageQuery {
	day := gen.GranularityDay
	start := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	groupBy := []gen.GroupBy{gen.GroupByOAuthClientID, gen.GroupByTemplateURI, gen.GroupByHTTPMethod}
	interval := start.Format(time.RFC3339) + "/" + start.AddDate(0, 0, n).Format(time.RFC3339)
	return gen.APIUsageQuery{Interval: interval, Granularity: &day, GroupBy: groupBy}
}

// size is a query and what every peer must decode from it.
type size struct {
	name  string
	query gen.APIUsageQuery
	count func() (tally, error)
}

func newSize(name string, q gen.APIUsageQuery) size {
	return size{name, q, sync.OnceValues(func() (tally, error) { return expected(q) })}
}

// want is the tally of the size's rows, counted once per process.
func (s size) want(tb testing.TB) tally {
	tb.Helper()
	t, err := s.count()
	if err != nil {
		tb.Fatalf("%s: counting the stub's rows: %v", s.name, err)
	}
	return t
}

var (
	// On sparse days these give 10,332, 100,373 and 1,000,180 rows; every
	// check counts them from the stub.
	sizes = []size{
		newSize("rows=10k", days(12)),
		newSize("rows=100k", days(117)),
	}
	million = newSize("rows=1M", days(1167))
	// smallQuery has no granularity and no groupBy: the API's totals per
	// OAuth client over one day, 25 rows at most and no date. The POST and
	// polling cases are not about rows.
	smallQuery = newSize("small", gen.APIUsageQuery{Interval: "2022-01-01T00:00:00Z/2022-01-02T00:00:00Z"})
)

// expected tallies the rows the stubs answer for q, from a stub of the same
// options: its rows do not depend on the execution.
func expected(q gen.APIUsageQuery) (tally, error) {
	srv, err := usagetest.Start(stubOptions(usagetest.InMemory())...)
	if err != nil {
		return tally{}, err
	}
	defer srv.Close()
	rows, err := srv.Rows(q)
	if err != nil {
		return tally{}, err
	}
	var t tally
	for row := range rows {
		t.add(row.Requests, row.Date)
	}
	return t, nil
}

// order is one order of a Complete answer's keys, served by a stub of the
// child process: results first, as the real API writes them, or
// queryStatus first (usagetest.WithStatusFirst), which a client must read
// as well and with no more requests.
type order struct {
	name, stub string
	opts       []usagetest.Option // the stub's options that set the order
}

var orders = []order{{"results-first", "done", nil}, {"status-first", "status-first", []usagetest.Option{usagetest.WithStatusFirst()}}}
