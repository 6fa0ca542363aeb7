// Package client is the Go SDK of the Genesys Cloud API Usage query: it
// starts a usage query, waits for it politely and streams its rows.
//
// A Client gets and renews its OAuth token, retries rate limits and
// transient faults within a budget, and fails with typed errors: *APIError,
// *RateLimitError, *ExecutionError (which always carries the execution id,
// so a wait can be resumed), *ValidationError (a bad query, found before
// anything is sent) and *AuthError.
//
//	c, err := client.New(client.WithRegion("eu-west-1"), client.WithClientCredentials(id, secret))
//	res, err := c.Run(ctx, client.Query{Interval: client.Between(from, to), GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID}})
//	for row, err := range res.Rows() { ... }
//
// The same handle, wait loop and streaming serve the usage of one OAuth
// client (StartClient, RunClient, Summary, resumed with ClientExecution or
// WaitClient) and simple search (StartSearch, RunSearch, resumed with
// SearchExecution), whose Result.Rows reads page after page up to the API's
// cap of MaxSearchRecords (Result.Capped).
//
// Layers, outermost first: the generated client (gen), a retrying doer, an
// auth transport that adds the bearer token only for the API's origin, and
// the base transport.
package client
