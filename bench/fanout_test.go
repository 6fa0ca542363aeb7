package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/internal/fanout"
	"github.com/gcusage/gcusage/usagetest"
)

// The fan-out over organizations (--all-profiles): fanOrgs emulated orgs
// of one stub, each of whose queries stays Running for a set time, run
// through internal/fanout, a client of its own per org, a few at a time.

const fanOrgs = 20

// fanQuery is each org's query: a week's totals per OAuth client, a few
// rows, so that the run's time is the orgs' waits.
var fanQuery = client.Query{Interval: "2025-01-06/2025-01-12", GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID}}

// fanCase is one run: n orgs, parallel at a time.
type fanCase struct{ orgs, parallel int }

func (c fanCase) rounds() int { return (c.orgs + c.parallel - 1) / c.parallel }

var fanCases = []fanCase{{1, 1}, {fanOrgs, 1}, {fanOrgs, 4}, {fanOrgs, fanOrgs}}

// fanStub serves n orgs, each of whose queries is Running for running
// after its POST, and at least one poll.
func fanStub(tb testing.TB, n int, running time.Duration, opts ...usagetest.Option) *usagetest.Server {
	orgs := make([]usagetest.Org, n)
	for i := range orgs {
		orgs[i] = usagetest.Org{Name: fmt.Sprintf("org-%02d", i), ClientID: fmt.Sprintf("client-%02d", i),
			ClientSecret: fmt.Sprintf("secret-%02d", i), Running: running}
	}
	return usagetest.NewServer(tb, append(opts, usagetest.WithOrgs(orgs...), usagetest.WithNow(func() time.Time { return today }))...)
}

// fanRun is what one run took.
type fanRun struct {
	elapsed  time.Duration
	orgTime  time.Duration // the mean of each org's own time, start to end
	most     int           // orgs in flight at once, at most
	failures []string
}

// runFanOut runs fanQuery in every org of srv, parallel at a time, each
// with a client of its own (its own token, retries and connections), the
// rows of all in one sink.
func runFanOut(ctx context.Context, srv *usagetest.Server, parallel int, transport func() http.RoundTripper) fanRun {
	orgs := srv.Orgs()
	names := make([]string, len(orgs))
	for i, o := range orgs {
		names[i] = o.Name
	}
	var mu sync.Mutex
	var r fanRun
	in := 0
	began := map[string]time.Time{}
	sink := fanout.NewSink(func(string, gen.APIUsageRow) error { return nil })
	start := time.Now()
	outs := fanout.Run(ctx, names, fanout.Options{Limit: parallel,
		OnStart: func(name string) {
			mu.Lock()
			defer mu.Unlock()
			began[name] = time.Now()
			in++
			r.most = max(r.most, in)
		},
		OnDone: func(o fanout.Outcome) {
			mu.Lock()
			defer mu.Unlock()
			in--
			r.orgTime += time.Since(began[o.Name])
		},
	}, func(ctx context.Context, t *fanout.Task) error {
		o := orgs[t.Index]
		c, err := client.New(client.WithBaseURLs(srv.URL, srv.LoginURL), client.WithClientCredentials(o.ClientID, o.ClientSecret),
			client.WithHTTPClient(&http.Client{Transport: transport()}), client.WithNow(srv.Now))
		if err != nil {
			return err
		}
		return fanout.Query(ctx, t, c, fanQuery, sink)
	})
	r.elapsed = time.Since(start)
	r.orgTime /= time.Duration(len(orgs))
	for _, o := range outs {
		if o.State != fanout.Done {
			r.failures = append(r.failures, fmt.Sprintf("%s: %s: %v", o.Name, o.State, o.Err))
		}
	}
	return r
}

// BenchmarkFanOut times a run over 20 orgs whose queries each stay Running
// for 500 ms (20 ms with -short), 1, 4 and 20 at a time, on loopback, and
// one org alone: a run takes about as many times one org's time as it has
// rounds, ceil(orgs/parallel), reported as rounds and ms/round.
func BenchmarkFanOut(b *testing.B) {
	running := 500 * time.Millisecond
	if testing.Short() {
		running = 20 * time.Millisecond
	}
	for _, c := range fanCases {
		b.Run(fmt.Sprintf("orgs=%d/parallel=%d", c.orgs, c.parallel), func(b *testing.B) {
			srv := fanStub(b, c.orgs, running)
			var orgTime time.Duration
			for b.Loop() {
				r := runFanOut(b.Context(), srv, c.parallel, func() http.RoundTripper { return newTransport() })
				if r.failures != nil || r.most != c.parallel {
					b.Fatalf("%d in flight at most, want %d; failures %v", r.most, c.parallel, r.failures)
				}
				orgTime += r.orgTime
			}
			b.ReportMetric(float64(c.rounds()), "rounds")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(c.rounds()), "ms/round")
			b.ReportMetric(float64(orgTime.Milliseconds())/float64(b.N), "ms/org")
		})
	}
}

// TestFanOutRounds runs the cases of BenchmarkFanOut in virtual time, with
// queries Running for 10 s, and prints the table of docs/performance.md:
// the time of a run against one org's, free of the machine's load. Every
// org must end, with exactly as many in flight at most as allowed.
func TestFanOutRounds(t *testing.T) {
	t.Logf("%-6s %-8s %-6s | %-8s %-8s %s", "orgs", "parallel", "rounds", "run", "org", "run/org")
	for _, c := range fanCases {
		synctest.Test(t, func(t *testing.T) {
			srv := fanStub(t, c.orgs, 10*time.Second, usagetest.InMemory())
			r := runFanOut(t.Context(), srv, c.parallel, srv.Transport)
			if r.failures != nil || r.most != c.parallel {
				t.Errorf("%+v: %d in flight at most, want %d; failures %v", c, r.most, c.parallel, r.failures)
			}
			t.Logf("%-6d %-8d %-6d | %-8v %-8v %.2f", c.orgs, c.parallel, c.rounds(), r.elapsed.Round(10*time.Millisecond),
				r.orgTime.Round(10*time.Millisecond), float64(r.elapsed)/float64(r.orgTime))
		})
	}
}
