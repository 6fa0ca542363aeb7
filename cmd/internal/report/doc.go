// Package report turns usage rows into one self-contained HTML file: the
// organization's API usage per day and per OAuth client, its 429s and
// errors, and its top clients and endpoints, drawn by Apache ECharts, which
// the file carries inline. It is the core of `gcusage report`; see
// docs/report.md for what each chart means and how each number is computed.
//
// A Builder takes the rows as they stream, one at a time, in two kinds:
// ClientDay rows (one day of one OAuth client) and Endpoint rows (totals of
// one template URI and method over the interval). Memory stays bounded
// whatever the server sends: past Limits.Clients OAuth clients (or
// Limits.Endpoints endpoints) further ones are counted under "other", and
// every total stays exact. Builder.Section names a part of the report, such
// as one organization of many; the builder itself is the section across all
// of them. Collect runs the two queries through the SDK and feeds a builder.
//
// Builder.Report computes what the page shows; Report.WriteHTML writes the
// page, and WriteFile writes it to a temporary file beside the target that
// takes the target's name only once complete, never over an existing file.
//
// The library's minified file, and its license and notice, are copied into
// lib/ by `go generate` from the npm package that assets/package-lock.json
// pins; `make check-generate` checks that the committed copy is that one.
package report

//go:generate go run gen_assets.go
