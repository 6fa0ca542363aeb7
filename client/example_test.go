package client_test

import (
	"fmt"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
)

// A query with a typo fails before anything is sent, naming what is allowed.
func ExampleQuery_Validate() {
	q := client.Query{Interval: "2024-01-01/2024-01-08", GroupBy: []gen.GroupBy{"OauthClientId"}}
	fmt.Println(q.Validate())
	// Output:
	// gcusage: invalid query: groupBy[0] "OauthClientId": allowed OAuthClientId, OrganizationId, UserId, TemplateUri, HttpMethod
}

// A query of one OAuth client cannot group by user; the error names the
// field, the value and what is allowed, before anything is sent.
func ExampleQuery_ValidateClient() {
	q := client.Query{Interval: "2024-01-01/2024-01-08", GroupBy: []gen.GroupBy{gen.GroupByTemplateURI, gen.GroupByUserID}}
	fmt.Println(q.ValidateClient())
	// Output:
	// gcusage: invalid query: groupBy[1] "UserId": a query of one OAuth client cannot group by it; allowed OAuthClientId, OrganizationId, TemplateUri, HttpMethod
}
