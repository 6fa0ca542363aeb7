// Command gcusage runs Genesys Cloud API usage queries from the shell: it
// starts the query, waits for it and prints the rows as a table, csv, json
// or ndjson. `gcusage query --demo` does it all against an in-process stub.
//
// The commands are a cobra tree (root.go) built on one Factory
// (factory.go); every command prints its rows through cmd/internal/output.
package main

// docs/cli.md is the reference generated from the command tree.
//go:generate go test -run=^TestCLIReference$ -update .

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A write to a closed pipe (gcusage ... | head -1) then fails with
	// EPIPE, which ends the run quietly with exit code 0, rather than
	// killing the process with SIGPIPE (exit code 141).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	os.Exit(newFactory(os.Getenv, os.Stdout, os.Stderr).run(interruptContext(), os.Args[1:]))
}

// interruptContext ends at the first SIGINT or SIGTERM, which cancels the
// wait so that it prints how to resume. Before that, it gives the signals
// back their default action: should anything not heed the context, a
// second Ctrl-C still kills the process.
func interruptContext() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		signal.Stop(sig)
		cancel(interrupted{s})
	}()
	return ctx
}

// interrupted is the cause of a context that a signal ended.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string { return "interrupted by " + i.sig.String() }

// interruptedCode is the exit code of a run that ctx's end cut short: 128
// plus the signal's number, as a shell reports a process the signal killed;
// 130 (SIGINT's) when the cause is not known.
func interruptedCode(ctx context.Context) int {
	var i interrupted
	if errors.As(context.Cause(ctx), &i) {
		if s, ok := i.sig.(syscall.Signal); ok {
			return 128 + int(s)
		}
	}
	return 130
}
