package gcusage_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// The whole flow against usagetest, a stand-in for Genesys Cloud on
// 127.0.0.1: a client, a daily query run to completion, its rows streamed
// (unsorted, as the API sends them). The examples that need the stub are
// here, not in package client, because go mod tidy in an app loads the
// tests of the packages the app imports: client's tests must not import the
// stub, or every app would get kin-openapi.
func Example() {
	srv, err := usagetest.Start(usagetest.WithRunning(0, 0)) // done at once: no wall-clock wait in a test
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	c, err := client.New(client.WithBaseURLs(srv.URL, srv.LoginURL), client.WithClientCredentials(srv.ClientID, srv.ClientSecret))
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.Run(context.Background(), client.Query{Interval: "2024-01-01/2024-01-02", Granularity: gen.GranularityDay,
		GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID}, Metrics: []gen.Metric{gen.MetricRequests, gen.MetricStatus429}})
	if err != nil {
		log.Fatal(err)
	}
	for row, err := range res.Rows() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %-16s %5d requests, %3d rate-limited\n", row.Date.Format(time.DateOnly), row.ClientName, row.Requests, row.Status429)
	}
	// Output:
	// 2024-01-01 Nightly export    2206 requests, 125 rate-limited
	// 2024-01-02 Nightly export    2395 requests, 103 rate-limited
	// 2024-01-01 CRM sync          2231 requests, 116 rate-limited
	// 2024-01-02 CRM sync          2538 requests,  89 rate-limited
	// 2024-01-02 Wallboard         2534 requests, 111 rate-limited
}

// The README's SDK quick start, run as written against the stub instead of
// a region: TestReadmeQuickStartIsTheExample keeps the README's lines in
// quickStart, so that the README cannot rot.
func Example_quickStart() {
	srv, err := usagetest.Start(usagetest.WithRunning(0, 0))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := quickStart(context.Background(), srv, srv.ClientID, srv.ClientSecret); err != nil {
		log.Fatal(err)
	}
	// Output:
	// Nightly export 15379 749
	// CRM sync 13632 598
	// Wallboard 11766 527
}

func quickStart(ctx context.Context, srv *usagetest.Server, id, secret string) error {
	c, err := client.New(client.WithBaseURLs(srv.URL, srv.LoginURL), client.WithClientCredentials(id, secret))
	if err != nil {
		return err
	}
	q := client.Query{Interval: "2024-01-01/2024-01-07", GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID}}
	res, err := c.Run(ctx, q) // validate, POST, poll until Complete
	if err != nil {
		return err
	}
	for row, err := range res.Rows() { // streamed from the network, never all held in memory
		if err != nil {
			return err
		}
		fmt.Println(row.ClientName, row.Requests, row.Status429)
	}
	return nil
}

// A simple search for the calls of one client to one endpoint template,
// read page after page (two rows a page here, 1000 by default).
func Example_simpleSearch() {
	srv, err := usagetest.Start(usagetest.WithRunning(0, 0))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c, err := client.New(client.WithBaseURLs(srv.URL, srv.LoginURL), client.WithClientCredentials(srv.ClientID, srv.ClientSecret))
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.RunSearch(context.Background(), client.SimpleSearch{
		Interval:     "2024-01-01/2024-01-03",
		ClientNames:  []string{"CRM sync"},
		TemplateURIs: []string{"api/v2/users/{userId}"},
		Metrics: []gen.SimpleSearchMetric{gen.SimpleSearchMetricDate, gen.SimpleSearchMetricHTTPMethod,
			gen.SimpleSearchMetricStatus200, gen.SimpleSearchMetricStatus429},
		PageSize: 2,
	})
	if err != nil {
		log.Fatal(err)
	}
	for row, err := range res.Rows() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(row.Date.Format(time.DateOnly), row.HTTPMethod, row.Status200, row.Status429)
	}
	fmt.Println("capped:", res.Capped())
	// Output:
	// 2024-01-01 GET 175 14
	// 2024-01-02 GET 207 9
	// 2024-01-03 GET 164 5
	// 2024-01-01 POST 102 12
	// 2024-01-02 POST 136 6
	// 2024-01-03 POST 147 10
	// 2024-01-01 PUT 142 11
	// 2024-01-02 PUT 217 6
	// 2024-01-03 PUT 118 4
	// capped: false
}

// A usage query job over 200 days, against usagetest in memory: RunJobs
// splits it into three windows of at most 90 days, runs them at once and
// sums each OAuth client's totals across them.
func Example_jobs() {
	today := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC) // the stub's today, and the one-year limit's
	srv, err := usagetest.Start(usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithNow(func() time.Time { return today }))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c, err := client.New(client.WithBaseURLs(srv.URL, srv.LoginURL), client.WithClientCredentials(srv.ClientID, srv.ClientSecret),
		client.WithHTTPClient(&http.Client{Transport: srv.Transport()}))
	if err != nil {
		log.Fatal(err)
	}
	q := client.JobQuery{
		Interval: client.Days(today.AddDate(0, 0, -200), today.AddDate(0, 0, -1)),
		GroupBy:  []gen.JobsGroupBy{gen.JobsGroupByOauthClientName}, // lower-case "auth"
	}
	windows, _ := client.SplitInterval(q.Interval, q.Granularity)
	fmt.Println(windows)
	for e, err := range c.RunJobs(context.Background(), q, client.JobOptions{Now: func() time.Time { return today }}) {
		if err != nil {
			log.Fatal(err) // a *client.SplitError names the window, its job and every unfinished job
		}
		fmt.Printf("%-16s %8d requests\n", e.OauthClient.Name, e.RequestCount)
	}
	// Output:
	// [2025-11-27/2026-02-24 2026-02-25/2026-05-25 2026-05-26/2026-06-14]
	// Nightly export     364632 requests
	// CRM sync           410313 requests
	// Wallboard          396227 requests
}
