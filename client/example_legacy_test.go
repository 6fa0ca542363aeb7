package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// A simple search for the calls of one client to one endpoint template,
// read page after page (two rows a page here, 1000 by default).
func ExampleClient_RunSearch() {
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
	// 2024-01-01 GET 95 54
	// 2024-01-02 GET 172 52
	// 2024-01-03 GET 357 27
	// 2024-01-01 POST 1776 51
	// 2024-01-03 POST 1211 3
	// 2024-01-02 PUT 709 99
	// 2024-01-03 PUT 1365 129
	// capped: false
}

// A query of one OAuth client cannot group by user; the error names the
// field, the value and what is allowed, before anything is sent.
func ExampleQuery_ValidateClient() {
	q := client.Query{Interval: "2024-01-01/2024-01-08", GroupBy: []gen.GroupBy{gen.GroupByTemplateURI, gen.GroupByUserID}}
	fmt.Println(q.ValidateClient())
	// Output:
	// gcusage: invalid query: groupBy[1] "UserId": a query of one OAuth client cannot group by it; allowed OAuthClientId, OrganizationId, TemplateUri, HttpMethod
}
