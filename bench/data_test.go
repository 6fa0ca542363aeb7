package bench

import (
	"sync"
	"testing"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// population gives 1000 combinations of client × template URI × method, so
// that a day of usage grouped by all three is 1000 rows with every string
// field set: 10, 100 and 1000 days make 10k, 100k and 1M rows.
var population = usagetest.Population{Clients: 25, TemplateURIs: 8, Methods: 5}

// stubOptions are those of every stub of the side-by-side benchmarks:
// status first, so that the replay can also serve the results-first order
// from the same bytes.
func stubOptions(opts ...usagetest.Option) []usagetest.Option {
	return append([]usagetest.Option{usagetest.WithPopulation(population), usagetest.WithStatusFirst()}, opts...)
}

// expected holds, by interval, what a peer must decode of a query.
var expected sync.Map

// expect is the tally of the rows the stubs answer for q, counted from a
// stub of the same options in this process: the data is sparse, as the
// API's, so a size's row count is only its order of magnitude.
func expect(b testing.TB, q gen.APIUsageQuery) tally {
	b.Helper()
	if t, ok := expected.Load(q.Interval); ok {
		return t.(tally)
	}
	s, err := usagetest.Start(stubOptions(usagetest.InMemory())...)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rows, err := s.Rows(q)
	if err != nil {
		b.Fatal(err)
	}
	var t tally
	for r := range rows {
		t.add(r.Requests, !r.Date.IsZero())
	}
	expected.Store(q.Interval, t)
	return t
}

func days(interval string) gen.APIUsageQuery {
	day := gen.GranularityDay
	groupBy := []gen.GroupBy{gen.GroupByOAuthClientID, gen.GroupByTemplateURI, gen.GroupByHTTPMethod}
	return gen.APIUsageQuery{Interval: interval, Granularity: &day, GroupBy: groupBy}
}

type size struct {
	name  string
	rows  int
	query gen.APIUsageQuery
}

var (
	sizes = []size{
		{"rows=10k", 10_000, days("2022-01-01T00:00:00.000Z/2022-01-11T00:00:00.000Z")},
		{"rows=100k", 100_000, days("2022-01-01T00:00:00.000Z/2022-04-11T00:00:00.000Z")},
	}
	million = size{"rows=1M", 1_000_000, days("2022-01-01T00:00:00.000Z/2024-09-27T00:00:00.000Z")}
	// smallQuery is one total per client: the POST and polling cases are
	// not about rows.
	smallQuery = gen.APIUsageQuery{Interval: "2022-01-01T00:00:00.000Z/2022-01-02T00:00:00.000Z"}
)

// order is one order of a Complete answer's fields, served by a stub of the
// child process: queryStatus first, as usagetest writes it, or results
// first, which the real API may send: its order is not documented.
type order struct{ name, stub string }

var orders = []order{{"status-first", "done"}, {"results-first", "results-first"}}
