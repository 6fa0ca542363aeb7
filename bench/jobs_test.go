package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcusage/gcusage/bench/ogenusage"
	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// jobPopulation gives 1296 OAuth clients with one user, template and
// method each: 90 days of it by day and client is about 100,000 entities
// (each client is idle about one day in seven), 100 pages of 1000.
var jobPopulation = usagetest.Population{Clients: 1296, Users: 1, TemplateURIs: 1, Methods: 1}

// jobToday is the stub's today, so that the job's 90 days are within the
// API's year whenever the bench runs.
var jobToday = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// pageCache answers a repeated GET of a job page (by job, after and
// pageSize, whatever their order in the query) with the bytes the stub
// sent the first time: the stub encodes and validates each page, which
// would otherwise time the stub rather than the clients.
type pageCache struct {
	next  http.Handler
	mu    sync.Mutex
	pages map[string][]byte
}

func (pc *pageCache) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/aggregates/query/jobs/") {
		pc.next.ServeHTTP(w, r)
		return
	}
	q := r.URL.Query()
	key := r.URL.Path + "?" + url.Values{"after": {q.Get("after")}, "pageSize": {q.Get("pageSize")}}.Encode()
	pc.mu.Lock()
	body, ok := pc.pages[key]
	pc.mu.Unlock()
	if !ok {
		rec := httptest.NewRecorder()
		pc.next.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
			return
		}
		body = bytes.Clone(rec.Body.Bytes())
		pc.mu.Lock()
		pc.pages[key] = body
		pc.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

var jobStub struct {
	once           sync.Once
	apiURL, bearer string
	jobID          string
	rows           int
	err            error
}

// succeededJob starts the stub behind a page cache on loopback, runs one
// 90-day job to Succeeded and reads its pages once, to fill the cache.
func succeededJob(b *testing.B) (apiURL, bearer, jobID string, rows int) {
	b.Helper()
	jobStub.once.Do(func() {
		s, err := usagetest.Start(usagetest.InMemory(), usagetest.WithPopulation(jobPopulation), usagetest.WithRunning(0, 0),
			usagetest.WithNow(func() time.Time { return jobToday }))
		if err != nil {
			jobStub.err = err
			return
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			jobStub.err = err
			return
		}
		go (&http.Server{Handler: &pageCache{next: s.Handler(), pages: map[string][]byte{}}}).Serve(l) // lives as long as the bench binary
		jobStub.apiURL = "http://" + l.Addr().String()
		tok, err := client.New(client.WithBaseURLs(jobStub.apiURL, jobStub.apiURL), client.WithClientCredentials(s.ClientID, s.ClientSecret))
		if err != nil {
			jobStub.err = err
			return
		}
		q := client.JobQuery{Interval: client.Days(jobToday.AddDate(0, 0, -90), jobToday.AddDate(0, 0, -1)), Granularity: gen.GranularityDay,
			GroupBy: []gen.JobsGroupBy{gen.JobsGroupByOauthClientID}}
		res, err := tok.RunJob(context.Background(), q)
		if err != nil {
			jobStub.err = err
			return
		}
		jobStub.jobID = res.JobID()
		for _, err := range res.Rows() {
			if err != nil {
				jobStub.err = err
				return
			}
			jobStub.rows++
		}
		jobStub.bearer = bearerOf(s)
	})
	if jobStub.err != nil {
		b.Fatal(jobStub.err)
	}
	return jobStub.apiURL, jobStub.bearer, jobStub.jobID, jobStub.rows
}

// bearerOf fetches a token of the stub (its token endpoint is on the same
// handler, hence on the cached listener too).
func bearerOf(s *usagetest.Server) string {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.ClientID, s.ClientSecret)
	s.Handler().ServeHTTP(rec, req)
	body := rec.Body.String()
	_, rest, _ := strings.Cut(body, `"access_token":"`)
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}

// BenchmarkJobRows reads every page of a Succeeded 100-page job, about
// 100,000 entities: gcusage through Job.Wait and JobResult.Rows (nextUri,
// one page held at a time), ogen by calling its generated operation with
// each page's after.
func BenchmarkJobRows(b *testing.B) {
	if testing.Short() {
		b.Skip("the 100-page job takes seconds to build")
	}
	apiURL, bearer, id, rows := succeededJob(b)
	b.Logf("job %s: %d entities, %d pages of 1000", id, rows, (rows+999)/1000)
	b.Run("client=gcusage", func(b *testing.B) {
		c, err := client.New(client.WithBaseURLs(apiURL, ""), client.WithAccessToken(bearer), client.WithHTTPClient(&http.Client{Transport: newTransport()}))
		if err != nil {
			b.Fatal(err)
		}
		measureJob(b, rows, func(ctx context.Context) (int, int64, error) {
			res, err := c.Job("", id).Wait(ctx)
			if err != nil {
				return 0, 0, err
			}
			n, sum := 0, int64(0)
			for e, err := range res.Rows() {
				if err != nil {
					return n, sum, err
				}
				n, sum = n+1, sum+e.RequestCount
			}
			return n, sum, nil
		})
	})
	b.Run("client=ogen", func(b *testing.B) {
		o, err := ogenusage.NewClient(apiURL, ogenBearer(bearer), ogenusage.WithClient(&http.Client{Transport: newTransport()}))
		if err != nil {
			b.Fatal(err)
		}
		measureJob(b, rows, func(ctx context.Context) (int, int64, error) {
			p := ogenusage.GetUsageAggregatesQueryJobParams{JobId: id}
			p.PageSize.SetTo(1000)
			n, sum := 0, int64(0)
			for {
				res, err := o.GetUsageAggregatesQueryJob(ctx, p)
				if err != nil {
					return n, sum, err
				}
				page, ok := res.(*ogenusage.GetUsageAggregatesQueryJobOK)
				if !ok {
					return n, sum, fmt.Errorf("ogen: GET answered %T", res)
				}
				for _, e := range page.Response.Entities {
					n, sum = n+1, sum+e.RequestCount.Or(0)
				}
				next, ok := page.Response.NextUri.Get()
				if !ok {
					return n, sum, nil
				}
				u, err := url.Parse(next)
				if err != nil {
					return n, sum, err
				}
				p.After.SetTo(u.Query().Get("after"))
			}
		})
	})
}

// measureJob times op, checks that it read every row, and reports rows per
// second.
func measureJob(b *testing.B, want int, op func(context.Context) (int, int64, error)) {
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		n, sum, err := op(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if n != want || sum <= 0 {
			b.Fatalf("read %d rows (sum %d), want %d", n, sum, want)
		}
	}
	b.ReportMetric(float64(want)*float64(b.N)/time.Since(start).Seconds(), "rows/s")
}
