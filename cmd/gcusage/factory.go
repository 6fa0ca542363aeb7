package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/spf13/pflag"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/cmd/internal/output"
	"github.com/gcusage/gcusage/usagetest"
)

// Factory builds what the commands take from the outside, once for the
// whole tree: the environment, the output streams, the clock and the
// transport. Tests make one with their own.
type Factory struct {
	Getenv         func(string) string
	Stdout, Stderr io.Writer
	Progress       io.Writer         // a terminal for the progress line; nil for none
	Transport      http.RoundTripper // nil: the network; tests give the stub's in-memory one
	Now            func() time.Time
	// OpenInBrowser opens a file, by its absolute path, in the default
	// browser (report --open); tests give one that records the path.
	OpenInBrowser func(path string) error

	// helpErr is the failure to write the help, which cobra's help
	// function cannot return: run maps it as any other error.
	helpErr error
}

func newFactory(getenv func(string) string, stdout, stderr io.Writer) *Factory {
	f := &Factory{Getenv: getenv, Stdout: stdout, Stderr: stderr, Now: time.Now, OpenInBrowser: openInBrowser}
	if fd, ok := stderr.(*os.File); ok && term.IsTerminal(int(fd.Fd())) {
		f.Progress = stderr
	}
	return f
}

// run is the whole command: it returns the exit code, 0 on success, 2 for
// a usage or validation error (nothing sent), 130 when interrupted (143
// for SIGTERM), 1 for any other failure. Every error comes up to here and
// is said in one line on stderr.
func (f *Factory) run(ctx context.Context, args []string) int {
	root := newRootCmd(f, args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		err = f.helpErr
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, syscall.EPIPE):
		// The reader went away (gcusage ... | head -1): what it wanted
		// was printed, as far as it read.
		return 0
	}
	fmt.Fprintln(f.Stderr, output.Escape(errorLine(errorText(err, cmd.Flags()))))
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

// errorLine is the one line in which gcusage says the error text s: its
// lines, which a server's text may hold, joined, and one "gcusage: " in
// front. An SDK error that a command wraps, such as the report's "the
// query by endpoint: gcusage: ...", keeps its prefix inside: one is
// enough.
func errorLine(s string) string {
	s = strings.ReplaceAll(strings.Join(strings.Fields(s), " "), ": gcusage: ", ": ")
	if !strings.HasPrefix(s, "gcusage: ") {
		s = "gcusage: " + s
	}
	return s
}

// usageError is bad input found before anything is sent: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// ConnOptions are the flags of every command that talks to the API: where,
// how long, and what to say on stderr.
type ConnOptions struct {
	Region, APIURL, LoginURL string
	Timeout                  time.Duration
	Quiet, Verbose           bool
	Demo, NoWait             bool
	Profiles                 ProfileOptions // --profile, --all-profiles, --config, --parallel, where the command has them

	flags *pflag.FlagSet // the command's, for the hints that resume it
	// again is what runs the command again that its flags do not say: its
	// words, and the interval it resolved to.
	again []string
}

// addConnFlags defines the connection flags on fs.
func addConnFlags(fs *pflag.FlagSet, c *ConnOptions) {
	c.flags = fs
	fs.StringVar(&c.Region, "region", "", "region `key` or domain, such as eu-west-1 (default $GENESYSCLOUD_REGION; see gcusage regions)")
	fs.StringVar(&c.APIURL, "api-url", "", "API base `URL`, overriding the region's; http:// only for loopback")
	fs.StringVar(&c.LoginURL, "login-url", "", "login base `URL`, overriding the region's; http:// only for loopback")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Minute, "give up after this long, printing how to resume; 0 waits until interrupted")
	fs.BoolVar(&c.Quiet, "quiet", false, "print nothing on stderr but errors and warnings")
	fs.BoolVar(&c.Verbose, "verbose", false, "log each HTTP attempt to stderr (never a token)")
}

// addDemoFlag defines --demo.
func addDemoFlag(fs *pflag.FlagSet, c *ConnOptions) {
	fs.BoolVar(&c.Demo, "demo", false, "run against an in-process stub with sample data: no account, no network")
}

// bound ends ctx after --timeout, if one is set.
func (c *ConnOptions) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.Timeout > 0 {
		return context.WithTimeout(ctx, c.Timeout)
	}
	return ctx, func() {}
}

// check refuses the connection flags' bad values, before anything is sent.
// A negative --timeout would otherwise mean no timeout at all, and a URL
// with a password would print it in every hint.
func (c *ConnOptions) check() error {
	if c.Timeout < 0 {
		return usagef("--timeout %s: want a positive duration such as 30m, or 0 to wait until interrupted", c.Timeout)
	}
	for _, u := range []struct{ flag, url string }{{"api-url", c.APIURL}, {"login-url", c.LoginURL}} {
		if err := checkURL(u.flag, u.url); err != nil {
			return err
		}
	}
	return nil
}

// note tells the user something on stderr, unless --quiet.
func (f *Factory) note(c *ConnOptions, msg string) {
	if !c.Quiet {
		fmt.Fprintln(f.Stderr, output.Escape("gcusage: "+msg))
	}
}

// clearProgress ends the progress line, if one is shown.
func (f *Factory) clearProgress(c *ConnOptions) {
	if f.Progress != nil && !c.Quiet {
		fmt.Fprint(f.Progress, "\r\x1b[K")
	}
}

// connect returns the client's options from the flags and the environment,
// or with --demo those of an in-process stub, which done closes; the
// demo's note on stderr then says what it runs, as demo tells from the
// stub.
func (f *Factory) connect(c *ConnOptions, demo func(*usagetest.Server) string) (opts []client.Option, done func(), err error) {
	if !c.Demo {
		opts, err := f.options(c)
		return opts, func() {}, err
	}
	srv, err := f.demoStub(c, demo)
	if err != nil {
		return nil, nil, err
	}
	return []client.Option{
		client.WithBaseURLs(srv.URL, srv.LoginURL),
		client.WithClientCredentials(srv.ClientID, srv.ClientSecret),
		client.WithHTTPClient(&http.Client{Transport: srv.Transport()}),
	}, srv.Close, nil
}

// demoStub starts the in-process stub of --demo and says what it runs.
// It serves the demo organizations (usagetest.DemoOrgs), the first of
// which has the standalone stub's data: its default population, 3
// clients, and the same seed. Its credentials are srv.ClientID and
// ClientSecret; the built-in demo profiles log in to each.
func (f *Factory) demoStub(c *ConnOptions, demo func(*usagetest.Server) string) (*usagetest.Server, error) {
	if c.Region != "" || c.APIURL != "" || c.LoginURL != "" || c.NoWait {
		return nil, usagef("--demo runs against an in-process stub that ends with the run: drop --region, --api-url, --login-url and --no-wait")
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	srv, err := usagetest.Start(usagetest.InMemory(), usagetest.WithOrgs(usagetest.DemoOrgs()...),
		usagetest.WithRunning(2, 0), usagetest.WithNow(f.Now)) // the stub's today is the command's
	if err != nil {
		return nil, err
	}
	f.note(c, "demo: "+demo(srv)+", sample data from an in-process stub; no account, nothing sent over the network")
	return srv, nil
}

const (
	idVar, secretVar = "GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_OAUTHCLIENT_SECRET"
	tokenVar         = "GENESYSCLOUD_ACCESS_TOKEN"
	regionVar        = "GENESYSCLOUD_REGION"
)

// options reads the flags and the environment into the client's options;
// a missing or bad one is a usage error, found before anything is sent.
func (f *Factory) options(c *ConnOptions) ([]client.Option, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	apiURL, loginURL := c.APIURL, c.LoginURL
	token := f.Getenv(tokenVar)
	// A region is read, and checked, even when both URLs are given: a typo
	// in GENESYSCLOUD_REGION should not wait for the day it is needed.
	source, name := "--region", c.Region
	if name == "" {
		source, name = regionVar, f.Getenv(regionVar)
	}
	r, ok := client.LookupRegion(name)
	switch {
	case strings.Contains(name, "@"): // user:password@host: never printed
		return nil, usagef("%s: it holds an @, as user information (user:password@) does, which is not shown here: give a region key such as eu-west-1, or a domain such as mypurecloud.ie (see gcusage regions)", source)
	case name != "" && !ok:
		return nil, usagef("%s %q: unknown region: allowed %s, or their domains (see gcusage regions)", source, name, strings.Join(regionKeys(), ", "))
	}
	if apiURL == "" || loginURL == "" && token == "" { // a token needs no login
		if name == "" {
			return nil, usagef("no region: set %s or --region (see gcusage regions), or give --api-url and --login-url (--api-url alone with %s)", regionVar, tokenVar)
		}
		apiURL, loginURL = cmp.Or(apiURL, r.APIURL()), cmp.Or(loginURL, r.LoginURL())
	}
	opts := []client.Option{client.WithBaseURLs(apiURL, loginURL)}
	if f.Transport != nil {
		opts = append(opts, client.WithHTTPClient(&http.Client{Transport: f.Transport}))
	}
	id, secret := f.Getenv(idVar), f.Getenv(secretVar)
	switch {
	case token != "":
		return append(opts, client.WithAccessToken(token)), nil
	case id != "" && secret != "":
		return append(opts, client.WithClientCredentials(id, secret)), nil
	case id != "":
		return nil, usagef("%s is set but %s is not", idVar, secretVar)
	case secret != "":
		return nil, usagef("%s is set but %s is not", secretVar, idVar)
	}
	return nil, usagef("no credentials: set %s and %s, or %s (or try --demo)", idVar, secretVar, tokenVar)
}

func regionKeys() []string {
	var keys []string
	for _, r := range client.Regions() {
		keys = append(keys, r.Key)
	}
	return keys
}

// checkURL refuses a base URL with an @ anywhere (user:password@, however
// malformed the rest), which every hint would print, or a query or a
// fragment, which may hold a key, without printing any of it; and one
// without its scheme, such as 127.0.0.1:8765, or with one slash after it,
// with the URL it was most likely meant to be.
func checkURL(flagName, u string) error {
	switch {
	case u == "":
		return nil
	case strings.Contains(u, "@"):
		return usagef("--%s: the URL holds an @, as user information (user:password@) does; it is not shown here and never sent: "+
			"give the base URL alone, such as https://api.mypurecloud.com, and the credentials in %s and %s or %s", flagName, idVar, secretVar, tokenVar)
	case strings.ContainsAny(u, "?#"):
		return usagef("--%s: the URL holds a query or a fragment (? or #), which is not shown here and never sent: "+
			"give the base URL alone, such as https://api.mypurecloud.com", flagName)
	case strings.Contains(u, "://"):
		return nil
	}
	if s, rest, ok := strings.Cut(u, ":"); ok && (strings.EqualFold(s, "http") || strings.EqualFold(s, "https")) {
		return usagef("--%s %q: want two slashes after the scheme, as in %s", flagName, u, s+"://"+strings.TrimLeft(rest, "/"))
	}
	hostPart, _, _ := strings.Cut(u, "/")
	scheme := "https://"
	host, _, err := net.SplitHostPort(hostPart)
	if err != nil {
		host = hostPart
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		scheme = "http://"
	}
	return usagef("--%s %q: no scheme: add one, as in %s (http:// only for loopback)", flagName, u, scheme+u)
}

// newClient adds logging and progress to opts. Its errors are bad settings,
// found before anything is sent.
func (f *Factory) newClient(c *ConnOptions, opts []client.Option) (*client.Client, error) {
	cl, err := client.New(append(opts, f.observers(c, "", nil)...)...)
	var ce *client.ConfigError
	switch {
	case errors.As(err, &ce) && envNames[ce.Field] != "":
		// The user gave the variable, not the option: name it.
		return nil, &usageError{"gcusage: " + envNames[ce.Field] + ": " + ce.Reason}
	case err != nil:
		return nil, &usageError{err.Error()}
	}
	return cl, nil
}

// observers are the client's options that log and show progress. label
// names whose client it is in each line: "" for the command's one client,
// "profile acme: " for one org of several. Each attempt is logged on
// stderr with --verbose; a retry is said there too with --verbose, else on
// line. A nil line is the one client's: the progress line of a terminal,
// which shows its polls as well. An org of several gives the line that
// counts the orgs, and no poll shows.
func (f *Factory) observers(c *ConnOptions, label string, line func(msg string)) []client.Option {
	// The SDK refuses an interval that ends after today by its clock,
	// which must be the command's: tests move it, and the CLI's own
	// interval rule has cut the interval at today by the same clock.
	opts := []client.Option{client.WithNow(f.Now), client.WithLogger(f.logger(c, label))}
	if line == nil && f.Progress != nil && !c.Quiet {
		line = func(msg string) { fmt.Fprint(f.Progress, "\r\x1b[K"+output.Escape("gcusage: "+msg)) }
		opts = append(opts, client.WithPollPolicy(client.PollPolicy{OnPoll: func(e client.PollEvent) {
			fmt.Fprintf(f.Progress, "\r\x1b[Kgcusage: execution %s: %s, poll %d, %s elapsed",
				output.Escape(e.ID), output.Escape(string(e.Status)), e.Attempt, e.Elapsed.Round(100*time.Millisecond))
		}}))
	}
	// What failed and which attempt comes next, so that a retried failure
	// is never silent.
	if line != nil || c.Verbose {
		opts = append(opts, client.WithRetryPolicy(client.RetryPolicy{OnRetry: func(e client.RetryEvent) {
			msg := label + retried(e)
			if c.Verbose {
				fmt.Fprintln(f.Stderr, output.Escape("gcusage: "+msg))
			} else {
				line(msg)
			}
		}}))
	}
	return opts
}

// logger logs the client's records on stderr as the CLI's other lines
// read (lineHandler): warnings, errors only with --quiet, and each attempt
// with --verbose. label names the org of a run over several.
func (f *Factory) logger(c *ConnOptions, label string) *slog.Logger {
	level := slog.LevelWarn
	switch {
	case c.Verbose:
		level = slog.LevelDebug
	case c.Quiet:
		level = slog.LevelError
	}
	return slog.New(newLineHandler(f.Stderr, level, label))
}

// retried says what failed and which attempt comes next.
func retried(e client.RetryEvent) string {
	cause := http.StatusText(e.StatusCode)
	if e.StatusCode == 0 && e.Err != nil {
		cause = strings.TrimPrefix(e.Err.Error(), "gcusage: ") // the line has its prefix
	} else if e.StatusCode != 0 {
		cause = fmt.Sprintf("%d %s", e.StatusCode, cause)
	}
	return fmt.Sprintf("%s %s: %s; attempt %d in %s", e.Method, e.Path, cause, e.Attempt+1, e.Delay.Round(100*time.Millisecond))
}

// envNames are the variables the CLI reads the credential options from.
var envNames = map[string]string{
	"WithAccessToken":       tokenVar,
	"WithClientCredentials": idVar + " / _SECRET",
}
