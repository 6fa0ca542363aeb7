package client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
)

// exampleServer stands in for Genesys Cloud on 127.0.0.1: a token endpoint,
// and a query that runs for one poll.
func exampleServer() *httptest.Server {
	var polls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"example-token","token_type":"bearer","expires_in":86400}`)
	})
	mux.HandleFunc("POST /api/v2/usage/query", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"executionId":"6a1f7a52","resultsUri":"/api/v2/usage/query/6a1f7a52/results"}`)
	})
	mux.HandleFunc("GET /api/v2/usage/query/6a1f7a52/results", func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) == 1 {
			io.WriteString(w, `{"queryStatus":"Running"}`)
			return
		}
		io.WriteString(w, `{"queryStatus":"Complete","results":[
			{"clientId":"2b9c8f4e","clientName":"Nightly export","requests":1520,"status429":95,"date":"2024-01-01T00:00:00.000Z"},
			{"clientId":"7d1e0a3b","clientName":"CRM sync","requests":310,"status429":0,"date":"2024-01-01T00:00:00.000Z"}]}`)
	})
	return httptest.NewServer(mux)
}

// The whole flow: a client, a query run to completion, its rows streamed.
func Example() {
	srv := exampleServer()
	defer srv.Close()

	c, err := client.New(client.WithBaseURLs(srv.URL, srv.URL), client.WithClientCredentials("my-client-id", "my-secret"))
	if err != nil {
		log.Fatal(err)
	}
	week := client.Between(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC))
	res, err := c.Run(context.Background(), client.Query{Interval: week, GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID}})
	if err != nil {
		log.Fatal(err)
	}
	for row, err := range res.Rows() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s: %d requests, %d rate-limited\n", row.Date.Format(time.DateOnly), *row.ClientName, *row.Requests, *row.Status429)
	}
	// Output:
	// 2024-01-01 Nightly export: 1520 requests, 95 rate-limited
	// 2024-01-01 CRM sync: 310 requests, 0 rate-limited
}

// A query with a typo fails before anything is sent, naming what is allowed.
func ExampleQuery_Validate() {
	q := client.Query{Interval: "2024-01-01/2024-01-08", GroupBy: []gen.GroupBy{"OauthClientId"}}
	fmt.Println(q.Validate())
	// Output:
	// gcusage: invalid query: groupBy[0] "OauthClientId": allowed OAuthClientId, OrganizationId, UserId, TemplateUri, HttpMethod
}
