// Package client is the Go SDK of the Genesys Cloud API Usage query: it
// starts a usage query, waits for it politely and streams its rows.
//
// A Client gets and renews its OAuth token, retries rate limits and
// transient faults within a budget, and fails with typed errors: *APIError,
// *RateLimitError, *ExecutionError (which always carries the execution id,
// so a wait can be resumed), *ValidationError (a bad query, found before
// anything is sent), *ConfigError (a bad option of New), *DecodeError (an
// answer that could not be read) and *AuthError. Starting work is not
// idempotent: a start that may have reached the server is not sent again,
// and its error wraps ErrMaybeStarted. No interval may end after today, the
// date of the client's clock (WithNow).
//
//	c, err := client.New(client.WithRegion("eu-west-1"), client.WithClientCredentials(id, secret))
//	res, err := c.Run(ctx, client.Query{Interval: client.Days(first, last), GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID}})
//	for row, err := range res.Rows() { ... }
//
// The rows are plain values, as the API sends them: "" for the dimensions
// not grouped by, 0 for zero counts, and a zero Date when the query has no
// granularity (the rows are then totals over the interval).
//
// The same handle, wait loop and streaming serve the usage of one OAuth
// client (StartClient, RunClient, Summary, resumed with ClientExecution or
// WaitClient) and simple search (StartSearch, RunSearch, resumed with
// SearchExecution), whose Result.Rows reads page after page up to the API's
// cap of MaxSearchRecords (Result.Capped). The 2025 usage query jobs
// (StartJob, RunJob, resumed with Job) go through the same wait loop too,
// with their own states and pages; RunJobs runs an interval of any length
// as windows of at most 90 days and yields one stream of entities.
//
// Layers, outermost first: the generated client (gen), a retrying doer, an
// auth transport that adds the bearer token only for the API's origin, and
// the base transport.
package client
