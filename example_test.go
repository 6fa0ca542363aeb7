package gcusage_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// The whole flow against usagetest, a stand-in for Genesys Cloud on
// 127.0.0.1: a client, a query run to completion, its rows streamed. It is
// here, not in package client, because go mod tidy in an app loads the tests
// of the packages the app imports: client's tests must not import the stub,
// or every app would get kin-openapi.
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
	res, err := c.Run(context.Background(), client.Query{Interval: "2024-01-01/2024-01-03",
		GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID}, Metrics: []gen.Metric{gen.MetricRequests, gen.MetricStatus429}})
	if err != nil {
		log.Fatal(err)
	}
	for row, err := range res.Rows() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %-16s %5d requests, %3d rate-limited\n", row.Date.Format(time.DateOnly), *row.ClientName, *row.Requests, *row.Status429)
	}
	// Output:
	// 2024-01-01 Nightly export    1380 requests,  55 rate-limited
	// 2024-01-01 CRM sync           805 requests,  40 rate-limited
	// 2024-01-01 Wallboard         1512 requests,  72 rate-limited
	// 2024-01-02 Nightly export     966 requests,  17 rate-limited
	// 2024-01-02 CRM sync          1358 requests,  46 rate-limited
	// 2024-01-02 Wallboard          894 requests,  64 rate-limited
}
