package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/gcusage/gcusage/client"
)

// app is one run of the command. Everything it reads from the outside is
// here, so tests drive it with their own env, output and transport.
type app struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	progress       io.Writer         // a terminal for the progress line; nil for none
	transport      http.RoundTripper // nil: the network; tests give the stub's in-memory one
	now            func() time.Time
}

// run is the whole command: it returns the exit code, 0 on success, 2 for a
// usage or validation error (nothing sent), 130 when interrupted (143 for
// SIGTERM), 1 for any other failure.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return newApp(getenv, stdout, stderr).run(ctx, args)
}

func newApp(getenv func(string) string, stdout, stderr io.Writer) *app {
	a := &app{getenv: getenv, stdout: stdout, stderr: stderr, now: time.Now}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		a.progress = stderr
	}
	return a
}

func (a *app) run(ctx context.Context, args []string) int {
	err := a.dispatch(ctx, args)
	if err == nil || errors.Is(err, errHelpShown) {
		return 0
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if !strings.HasPrefix(msg, "gcusage: ") {
		msg = "gcusage: " + msg
	}
	fmt.Fprintln(a.stderr, escape(msg))
	if ctx.Err() != nil {
		return interruptedCode(ctx)
	}
	var ue *usageError
	var ve *client.ValidationError
	if errors.As(err, &ue) || errors.As(err, &ve) {
		return 2
	}
	return 1
}

const mainHelp = `gcusage runs Genesys Cloud API usage queries: which OAuth clients, users and
endpoints call your organization's API, and how many calls failed.

Usage:
  gcusage <command> [flags]

Commands:
  query     start a usage query, wait for it and print the rows (--client: of one OAuth client)
  summary   the usage of one OAuth client over its last days
  search    a simple search of the usage records, filtered by client name, method and endpoint
  results   wait for an execution started earlier and print its rows
  jobs      run a usage query job of the 2025 service (all requests, filters, pages)
  regions   list the region keys and domains
  version   print the version (also --version or -v)
  help      show help for a command

Credentials come from the environment only:
  GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET, or GENESYSCLOUD_ACCESS_TOKEN,
  and GENESYSCLOUD_REGION (a key such as eu-west-1, or a domain such as mypurecloud.ie).

Examples:
  gcusage query --demo                      # sample data from an in-process stub, no account
  gcusage query --since 30d --group-by OAuthClientId,HttpMethod
  gcusage results 6a1f0c2e-... --format csv
  gcusage summary 2b9c8f4e-... --days 30
  gcusage search --since 3d --client-name 'Nightly export' --http-method get --format csv
  go run ./cmd/gcusage-stub                 # a standalone stub on 127.0.0.1:8765 to point --api-url at

Run 'gcusage <command> --help' (or 'gcusage help <command>') for the flags of a command.
`

func (a *app) dispatch(ctx context.Context, args []string) error {
	want := strings.Join(commands[:len(commands)-1], ", ") + " or " + commands[len(commands)-1]
	if len(args) == 0 {
		return usagef("a command is needed: %s (see gcusage --help)", want)
	}
	cmd, rest := alias(args[0]), args[1:]
	switch cmd {
	case "query":
		return a.query(ctx, rest)
	case "results":
		return a.results(ctx, rest)
	case "summary":
		return a.summary(ctx, rest)
	case "search":
		return a.search(ctx, rest)
	case "jobs":
		return a.jobs(ctx, rest)
	case "regions":
		return a.simple("regions", "List the region keys and domains that --region and GENESYSCLOUD_REGION accept.", "gcusage regions", rest, a.regions)
	case "version":
		return a.simple("version", "Print the version of gcusage (also --version or -v).", "gcusage version", rest, a.version)
	case "help":
		// The words that are not themselves requests for help name the
		// command (jobs query: two words); asking it for its help cannot
		// come back here.
		var words []string
		for _, w := range rest {
			if alias(w) != "help" {
				words = append(words, w)
			}
		}
		if len(words) > 0 {
			return a.dispatch(ctx, append(words, "--help"))
		}
		_, err := io.WriteString(a.stdout, mainHelp)
		return err
	}
	msg := fmt.Sprintf("unknown command %q: want %s", cmd, want)
	if s := suggest(cmd, commands); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return &usageError{msg}
}

// commands are the words dispatch knows, for suggestions.
var commands = []string{"query", "summary", "search", "results", "jobs", "regions", "version", "help"}

// alias maps the flag spellings of help and version to their commands.
func alias(arg string) string {
	switch arg {
	case "-h", "-help", "--help":
		return "help"
	case "-v", "-version", "--version":
		return "version"
	}
	return arg
}

// command is a subcommand's flags and help.
type command struct {
	fs                     *flag.FlagSet
	usage, about, examples string
}

func newCommand(name, usage, about, examples string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by app.run
	fs.Usage = func() {}
	return &command{fs: fs, usage: usage, about: about, examples: examples}
}

// errHelpShown ends a command that printed its help: exit code 0.
var errHelpShown = errors.New("help shown")

// parse parses args; on --help, or help as the first argument (gcusage
// query help), it prints the help to stdout.
func (c *command) parse(stdout io.Writer, args []string) ([]string, error) {
	pos, err := parseArgs(c.fs, args)
	if isHelp(err) || err == nil && len(pos) > 0 && pos[0] == "help" {
		fmt.Fprintf(stdout, "Usage:\n  %s\n\n%s\n", c.usage, c.about)
		if hasFlags(c.fs) {
			fmt.Fprintln(stdout, "\nFlags:")
			c.fs.SetOutput(stdout)
			c.fs.PrintDefaults()
		}
		fmt.Fprintf(stdout, "\nExamples:\n%s\n", c.examples)
		return nil, errHelpShown
	}
	if err != nil {
		msg := fmt.Sprintf("%s: %v", c.fs.Name(), err)
		if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
			var names []string
			c.fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
			if s := suggest(name, names); s != "" {
				msg += "; did you mean --" + s + "?"
			}
		}
		return nil, usagef("%s (see gcusage %s --help)", msg, c.fs.Name())
	}
	return pos, nil
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// simple runs a command without flags or arguments.
func (a *app) simple(name, about, examples string, args []string, do func() error) error {
	c := newCommand(name, "gcusage "+name, about, "  "+examples)
	pos, err := c.parse(a.stdout, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("%s takes no arguments, got %q", name, pos[0])
	}
	return do()
}

func (a *app) regions() error {
	w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "REGION\tDOMAIN\tAPI URL")
	for _, r := range client.Regions() {
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.Key, r.Domain, r.APIURL())
	}
	return w.Flush()
}

func (a *app) version() error {
	_, err := fmt.Fprintf(a.stdout, "gcusage %s %s %s/%s\n", client.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
