// Command gcusage runs Genesys Cloud API usage queries from the shell: it
// starts the query, waits for it and prints the rows as a table, csv, json
// or ndjson. `gcusage query --demo` does it all against an in-process stub.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// An interrupt cancels the wait, which then prints how to resume.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
