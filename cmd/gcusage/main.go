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
	os.Exit(run(interruptContext(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// interruptContext ends at the first SIGINT or SIGTERM, which cancels the
// wait so that it prints how to resume. Before that, it gives the signals
// back their default action: should anything not heed the context, a
// second Ctrl-C still kills the process.
func interruptContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		signal.Stop(sig)
		cancel()
	}()
	return ctx
}
