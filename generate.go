// Package gcusage is the Go SDK and command-line tool for the Genesys Cloud
// API Usage API: which OAuth clients, users and endpoints call an
// organization's API, and how many of those calls failed or hit the rate
// limit.
//
// Most programs import [github.com/gcusage/gcusage/client], which starts a
// usage query, waits for it and streams its rows. The typed models and the
// low-level client are generated from api/usage.yaml into
// [github.com/gcusage/gcusage/gen]; [github.com/gcusage/gcusage/usagetest]
// is a stub of the API to test against.
package gcusage

// The generator runs from the tools module so that it never enters the
// go.mod of programs that import gcusage; outside the workspace of go.work,
// which does not take -modfile.
//go:generate env GOWORK=off go tool -modfile=tools/go.mod oapi-codegen -config api/oapi-codegen.yaml api/usage.yaml
