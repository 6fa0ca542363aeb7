package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// conn holds the flags query and results share: where to connect, how long
// to wait and how to print.
type conn struct {
	fs                               *flag.FlagSet
	format, region, apiURL, loginURL string
	sort                             string
	top                              int
	timeout                          time.Duration
	quiet, verbose, demo, noWait     bool
	client                           string       // the OAuth client of a per-client query or summary
	search                           bool         // the execution is a simple search
	apiSort                          bool         // --sort is the API's sortBy (jobs), not the CLI's
	counts                           []gen.Metric // the counts the rows have, which --sort and --top rank by
}

func newConn(fs *flag.FlagSet) *conn {
	c := &conn{fs: fs, counts: client.Metrics()}
	fs.StringVar(&c.format, "format", "table", "output `format`: "+strings.Join(formats, ", "))
	fs.StringVar(&c.region, "region", "", "region `key` or domain, such as eu-west-1 (default $GENESYSCLOUD_REGION; see gcusage regions)")
	fs.StringVar(&c.apiURL, "api-url", "", "API base `URL`, overriding the region's; http:// only for loopback")
	fs.StringVar(&c.loginURL, "login-url", "", "login base `URL`, overriding the region's; http:// only for loopback")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "give up after this long, printing how to resume; 0 waits until interrupted")
	fs.BoolVar(&c.quiet, "quiet", false, "print nothing on stderr but errors")
	fs.BoolVar(&c.verbose, "verbose", false, "log each HTTP attempt to stderr (never a token)")
	fs.StringVar(&c.sort, "sort", "", "sort the rows by this `metric`, largest first: "+join(client.Metrics())+" (holds the rows in memory)")
	fs.IntVar(&c.top, "top", 0, "print only the first `N` rows of --sort (default: by requests when --metrics has it, else by the first metric it names)")
	return c
}

// cutShortHelp ends the help of every command that prints rows, and
// sortedHelp that of those whose --sort and --top hold the rows.
const (
	cutShortHelp = `

If the rows break off, the rows read so far are printed whole and the run
exits 1: csv and ndjson end on a whole line, and json is left without its
closing bracket on purpose, so that no parser takes it for a whole result.`
	sortedHelp = cutShortHelp + `
With --sort or --top nothing is printed unless every row was read.`
)

const queryAbout = `Start a usage query, wait for it and print its rows. The interval is
--interval, or --since and --until; by default the last 7 full UTC days
(usage is counted per UTC day, and today is not counted yet). A date-only
end is included, as the API reads it: --interval 2024-01-01/2024-01-31 is
all of January. Enum values are read in any case.

Without --granularity the rows are the API's totals over the whole
interval, one per group, with no date; --granularity day, week or month
gives a row per bucket with its date. Without --group-by the rows are per
OAuth client. The table shows the date (with a granularity), the columns
grouped by and the metrics asked for, and a totals row; it sizes its columns
from the first 1000 rows, so csv or ndjson suit large exports better. json
and ndjson print every field of each row as the API names it (empty
dimensions as "", zero counts as 0), and date only with a granularity.
The table, like stderr, shows control characters in the API's text escaped
(\x1b); csv, json and ndjson keep the text exact.

--client CLIENT_ID queries that OAuth client's usage only, on its own
endpoint; --group-by may then not hold UserId. 'gcusage results <id>
--client CLIENT_ID' resumes it.

--no-wait prints the execution id instead of waiting; 'gcusage results
<id>' waits for it later. Ctrl-C, or --timeout, stops the wait and prints
that command (Ctrl-C exits 130).

Credentials come from the environment: GENESYSCLOUD_OAUTHCLIENT_ID and
GENESYSCLOUD_OAUTHCLIENT_SECRET, or GENESYSCLOUD_ACCESS_TOKEN; the region
from --region or GENESYSCLOUD_REGION. --demo needs none of them. The
credentials need the permission oauth:client:view or usage:organization:view
(with --client, oauth:client:view).` + sortedHelp

const queryExamples = `  gcusage query --demo
  id=$(gcusage query --since 30d --no-wait) && gcusage results "$id" --format csv
  gcusage query --since 30d --group-by oauthclientid,httpmethod --metrics requests,status429
  gcusage query --interval 2024-01-01/2024-02-01 --granularity week --format csv > usage.csv
  gcusage query --since 2024-03-01 --until 36h --group-by TemplateUri --format ndjson
  gcusage query --client 2b9c8f4e-1d3a-4c5b-8e7f-0a1b2c3d4e5f --group-by templateuri,httpmethod
  gcusage query --api-url http://127.0.0.1:8765 --login-url http://127.0.0.1:8765 --format json
      (against 'go run ./cmd/gcusage-stub', with its demo credentials in the env)`

func (a *app) query(ctx context.Context, args []string) error {
	cmd := newCommand("query", "gcusage query [flags]", queryAbout, queryExamples)
	fs := cmd.fs
	c := newConn(fs)
	span := spanFlags(fs, "ISO-8601 interval `START/END`, such as 2024-01-01/2024-01-08 or 2024-01-01T00:00:00Z/2024-01-08T00:00:00Z")
	granularities, groupBys, metrics := client.Granularities(), client.GroupBys(), client.Metrics()
	gran := fs.String("granularity", "", "bucket `size`: "+join(granularities)+" (default none: one total per group over the interval)")
	groupBy := fs.String("group-by", string(groupBys[0]), "comma `list` of "+join(groupBys)+`; "" for the API's default, per OAuth client`)
	mets := fs.String("metrics", "", "comma `list` of "+join(metrics)+" (default all)")
	fs.BoolVar(&c.demo, "demo", false, "run against an in-process stub with sample data: no account, no network")
	fs.BoolVar(&c.noWait, "no-wait", false, "start the query, print its execution id on stdout and the command that waits for it on stderr")
	fs.StringVar(&c.client, "client", "", "query the usage of this OAuth client `id` only, on its own endpoint (no UserId in --group-by)")
	pos, err := cmd.parse(a.stdout, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("query takes no arguments, got %q (flags start with --)", pos[0])
	}
	var q client.Query
	if q.Interval, err = span.interval(a.now()); err != nil {
		return err
	}
	if q.GroupBy, err = parseList("group-by", *groupBy, groupBys); err != nil {
		return err
	}
	if q.Metrics, err = parseList("metrics", *mets, metrics); err != nil {
		return err
	}
	if len(q.Metrics) > 0 {
		c.counts = q.Metrics
	}
	if q.Granularity, err = parseGranularity(*gran); err != nil {
		return err
	}
	start := func(ctx context.Context, cl *client.Client) (*client.Execution, error) { return cl.Start(ctx, q) }
	if c.client != "" {
		err = q.ValidateClient()
		start = func(ctx context.Context, cl *client.Client) (*client.Execution, error) {
			return cl.StartClient(ctx, c.client, q)
		}
	} else {
		err = q.Validate()
	}
	if err != nil {
		return err
	}
	opts, done, err := a.connect(c, func(*usagetest.Server) string { return "interval " + q.Interval })
	if err != nil {
		return err
	}
	defer done()
	return a.execute(ctx, c, opts, start, queryColumns(q.Granularity, q.GroupBy, q.Metrics))
}

// connect returns the client's options from the flags and the environment,
// or with --demo those of an in-process stub, which done closes; the
// demo's note on stderr then says what it runs, as demo tells from the
// stub.
func (a *app) connect(c *conn, demo func(*usagetest.Server) string) (opts []client.Option, done func(), err error) {
	if !c.demo {
		opts, err := a.options(c)
		return opts, func() {}, err
	}
	if c.region != "" || c.apiURL != "" || c.loginURL != "" || c.noWait {
		return nil, nil, usagef("--demo runs against an in-process stub that ends with the run: drop --region, --api-url, --login-url and --no-wait")
	}
	if err := c.check(); err != nil {
		return nil, nil, err
	}
	srv, err := usagetest.Start(usagetest.InMemory(), usagetest.WithRunning(2, 0), usagetest.WithPopulation(usagetest.Population{Clients: 5}),
		usagetest.WithNow(a.now)) // the stub's today is the command's
	if err != nil {
		return nil, nil, err
	}
	a.note(c, "demo: "+demo(srv)+", sample data from an in-process stub; no account, nothing sent over the network")
	return []client.Option{
		client.WithBaseURLs(srv.URL, srv.LoginURL),
		client.WithClientCredentials(srv.ClientID, srv.ClientSecret),
		client.WithHTTPClient(&http.Client{Transport: srv.Transport()}),
	}, srv.Close, nil
}

const resultsAbout = `Wait for an execution started earlier, such as one a 'gcusage query' gave
up on or started with --no-wait, and print its rows. The query's shape is
not known here, so the table and csv show every field of the API's row. An
execution id belongs to the organization and the region that started it.
A query or summary of one OAuth client is read on that client's endpoint:
give its id with --client. A simple search is read page by page: give
--search (and --page-size).` + sortedHelp

const resultsExamples = `  gcusage results 6a1f0c2e-5b7d-4e3a-9c1f-2d8e4b6a0f13
  gcusage results 6a1f0c2e-5b7d-4e3a-9c1f-2d8e4b6a0f13 --format json --timeout 30m
  gcusage results 6a1f0c2e-5b7d-4e3a-9c1f-2d8e4b6a0f13 --client 2b9c8f4e-1d3a-4c5b-8e7f-0a1b2c3d4e5f
  gcusage results 5c0e2f4a-7b1d-4c3e-8a9f-1e2d3c4b5a69 --search --format csv`

func (a *app) results(ctx context.Context, args []string) error {
	cmd := newCommand("results", "gcusage results <executionId> [flags]", resultsAbout, resultsExamples)
	c := newConn(cmd.fs)
	cmd.fs.StringVar(&c.client, "client", "", "the OAuth client `id` of a per-client query or summary")
	cmd.fs.BoolVar(&c.search, "search", false, "the execution is a simple search: read its pages")
	pageSize := pageSizeFlag(cmd.fs)
	pos, err := cmd.parse(a.stdout, args)
	if err != nil {
		return err
	}
	if c.search {
		c.counts = searchCounts(nil)
	}
	if len(pos) != 1 {
		return usagef("results takes one execution id, got %d arguments (see gcusage results --help)", len(pos))
	}
	if strings.TrimSpace(pos[0]) == "" {
		return usagef("results: the execution id is empty (see gcusage results --help)")
	}
	opts, err := a.options(c)
	if err != nil {
		return err
	}
	cols, resume := columns, func(_ context.Context, cl *client.Client) (*client.Execution, error) {
		return cl.Execution(pos[0]), nil
	}
	switch {
	case c.client != "" && c.search:
		return usagef("--client and --search name different kinds of execution: give one")
	case c.client != "":
		resume = func(_ context.Context, cl *client.Client) (*client.Execution, error) {
			return cl.ClientExecution(c.client, pos[0]), nil
		}
	case c.search:
		cols, resume = searchColumns(nil), func(_ context.Context, cl *client.Client) (*client.Execution, error) {
			return cl.SearchExecution(pos[0], *pageSize), nil
		}
	}
	return a.execute(ctx, c, opts, resume, cols)
}

// bound ends ctx after --timeout, if one is set.
func (c *conn) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout > 0 {
		return context.WithTimeout(ctx, c.timeout)
	}
	return ctx, func() {}
}

// check refuses the shared flags' bad values. A negative --timeout would
// otherwise mean no timeout at all.
func (c *conn) check() error {
	if c.timeout < 0 {
		return usagef("--timeout %s: want a positive duration such as 30m, or 0 to wait until interrupted", c.timeout)
	}
	c.format = strings.ToLower(c.format)
	if !slices.Contains(formats, c.format) {
		return usagef("--format %q: allowed %s", c.format, strings.Join(formats, ", "))
	}
	if c.top < 0 {
		return usagef("--top %d: want a positive number of rows", c.top)
	}
	if !c.apiSort && (c.sort != "" || c.top != 0) {
		_, err := c.rankBy()
		return err
	}
	return nil
}

// rankBy is the count that --sort names, or that --top ranks by without
// it: requests when the rows have it, else the first count they have. A
// count the rows lack (left out of --metrics, or a search's requests)
// would be 0 in every row, and rank nothing: it is refused.
func (c *conn) rankBy() (gen.Metric, error) {
	if c.sort == "" {
		switch {
		case slices.Contains(c.counts, gen.MetricRequests):
			return gen.MetricRequests, nil
		case len(c.counts) == 0:
			return "", usagef("--top: the rows have no count to rank by: add one of %s to --metrics", join(searchCounts(nil)))
		}
		return c.counts[0], nil
	}
	m, err := parseList("sort", c.sort, c.counts)
	switch {
	case err != nil && indexFold(client.Metrics(), c.sort) >= 0:
		return "", usagef("--sort %q: the rows have no such count (a metric left out of --metrics, or a search's requests): allowed %s", c.sort, join(c.counts))
	case err != nil:
		return "", err
	case len(m) != 1:
		return "", usagef("--sort %q: give one of %s", c.sort, join(c.counts))
	}
	return m[0], nil
}

// order wraps w in a sorter when --sort or --top asks for one.
func (c *conn) order(w rowWriter) rowWriter {
	if c.sort == "" && c.top == 0 {
		return w
	}
	m, _ := c.rankBy() // check refused what cannot be ranked
	col := columns[slices.IndexFunc(columns, func(col column) bool { return col.name == metricColumns[m] })]
	return &sorter{rowWriter: w, by: col.count, top: c.top}
}

// options reads the flags and the environment into the client's options;
// a missing or bad one is a usage error, found before anything is sent.
func (a *app) options(c *conn) ([]client.Option, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	for _, u := range []struct{ flag, url string }{{"api-url", c.apiURL}, {"login-url", c.loginURL}} {
		if err := checkScheme(u.flag, u.url); err != nil {
			return nil, err
		}
	}
	var opts []client.Option
	apiURL, loginURL := c.apiURL, c.loginURL
	token := a.getenv("GENESYSCLOUD_ACCESS_TOKEN")
	// A region is read, and checked, even when both URLs are given: a typo
	// in GENESYSCLOUD_REGION should not wait for the day it is needed.
	source, name := "--region", c.region
	if name == "" {
		source, name = "GENESYSCLOUD_REGION", a.getenv("GENESYSCLOUD_REGION")
	}
	r, ok := client.LookupRegion(name)
	if name != "" && !ok {
		keys := make([]string, 0, len(client.Regions()))
		for _, reg := range client.Regions() {
			keys = append(keys, reg.Key)
		}
		return nil, usagef("%s %q: unknown region: allowed %s, or their domains (see gcusage regions)", source, name, strings.Join(keys, ", "))
	}
	if apiURL == "" || loginURL == "" && token == "" { // a token needs no login
		if name == "" {
			return nil, usagef("no region: set GENESYSCLOUD_REGION or --region (see gcusage regions), or give --api-url and --login-url (--api-url alone with GENESYSCLOUD_ACCESS_TOKEN)")
		}
		apiURL, loginURL = cmp.Or(apiURL, r.APIURL()), cmp.Or(loginURL, r.LoginURL())
	}
	opts = append(opts, client.WithBaseURLs(apiURL, loginURL))
	if a.transport != nil {
		opts = append(opts, client.WithHTTPClient(&http.Client{Transport: a.transport}))
	}
	const idVar, secretVar = "GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_OAUTHCLIENT_SECRET"
	id, secret := a.getenv(idVar), a.getenv(secretVar)
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
	return nil, usagef("no credentials: set %s and %s, or GENESYSCLOUD_ACCESS_TOKEN (or try --demo)", idVar, secretVar)
}

// checkScheme refuses a base URL given without its scheme, such as
// 127.0.0.1:8765, with the URL it was most likely meant to be.
func checkScheme(flagName, u string) error {
	if u == "" || strings.Contains(u, "://") {
		return nil
	}
	scheme := "https://"
	host, _, err := net.SplitHostPort(u)
	if err != nil {
		host, _, _ = strings.Cut(u, "/")
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		scheme = "http://"
	}
	return usagef("--%s %q: no scheme: add one, as in %s (http:// only for loopback)", flagName, u, scheme+u)
}

// newClient adds logging and progress to opts. Its errors are bad settings,
// found before anything is sent.
func (a *app) newClient(c *conn, opts []client.Option) (*client.Client, error) {
	level := slog.LevelWarn
	switch {
	case c.verbose:
		level = slog.LevelDebug
	case c.quiet:
		level = slog.LevelError
	}
	opts = append(opts, client.WithLogger(slog.New(withoutCap{slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level})})))
	// What failed and which attempt comes next: on the progress line of a
	// terminal, and on stderr with --verbose, so that a retried failure is
	// never silent.
	if (a.progress != nil && !c.quiet) || c.verbose {
		opts = append(opts, client.WithRetryPolicy(client.RetryPolicy{OnRetry: func(e client.RetryEvent) {
			cause := http.StatusText(e.StatusCode)
			if e.StatusCode == 0 && e.Err != nil {
				cause = e.Err.Error()
			} else if e.StatusCode != 0 {
				cause = fmt.Sprintf("%d %s", e.StatusCode, cause)
			}
			msg := fmt.Sprintf("gcusage: %s %s: %s; attempt %d in %s", e.Method, e.Path, cause, e.Attempt+1, e.Delay.Round(100*time.Millisecond))
			if c.verbose {
				fmt.Fprintln(a.stderr, escape(msg))
			} else {
				fmt.Fprint(a.progress, "\r\x1b[K"+escape(msg))
			}
		}}))
	}
	if a.progress != nil && !c.quiet {
		opts = append(opts, client.WithPollPolicy(client.PollPolicy{OnPoll: func(e client.PollEvent) {
			fmt.Fprintf(a.progress, "\r\x1b[Kgcusage: execution %s: %s, poll %d, %s elapsed",
				escape(e.ID), escape(string(e.Status)), e.Attempt, e.Elapsed.Round(100*time.Millisecond))
		}}))
	}
	cl, err := client.New(opts...)
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

// withoutCap drops the SDK's record of a search stopped at the API's cap:
// execute prints its own warning, with the cap and what to do, even with
// --quiet, and once is enough.
type withoutCap struct{ slog.Handler }

func (h withoutCap) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "the search stopped at the API's cap") {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h withoutCap) WithAttrs(attrs []slog.Attr) slog.Handler {
	return withoutCap{h.Handler.WithAttrs(attrs)}
}

func (h withoutCap) WithGroup(name string) slog.Handler { return withoutCap{h.Handler.WithGroup(name)} }

// envNames are the variables the CLI reads the credential options from.
var envNames = map[string]string{
	"WithAccessToken":       "GENESYSCLOUD_ACCESS_TOKEN",
	"WithClientCredentials": "GENESYSCLOUD_OAUTHCLIENT_ID / _SECRET",
}

// note tells the user something on stderr, unless --quiet.
func (a *app) note(c *conn, msg string) {
	if !c.quiet {
		fmt.Fprintln(a.stderr, escape("gcusage: "+msg))
	}
}

// execute builds the client, gets the execution from start, waits for it
// and prints its rows, all within --timeout. A wait cut short names the
// command that resumes it.
func (a *app) execute(ctx context.Context, c *conn, opts []client.Option,
	start func(context.Context, *client.Client) (*client.Execution, error), cols []column) error {
	cl, err := a.newClient(c, opts)
	if err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	exec, err := start(ctx, cl)
	if err != nil {
		return withHint(err)
	}
	if c.noWait {
		if _, err := fmt.Fprintln(a.stdout, escape(exec.ID)); err != nil {
			return err
		}
		a.note(c, "execution "+exec.ID+" started; wait for it with: "+c.resume(exec.ID))
		return nil
	}
	res, err := exec.Wait(ctx)
	if a.progress != nil && !c.quiet {
		fmt.Fprint(a.progress, "\r\x1b[K")
	}
	if err == nil {
		err = a.print(res, c.order(newRowWriter(c.format, a.stdout, cols)))
	}
	if err == nil && res.Capped() { // a part only, however --quiet
		fmt.Fprintf(a.stderr, "gcusage: warning: the search stopped at the API's cap of %d records, so the rows may be a part only: narrow the interval or add filters\n", client.MaxSearchRecords)
	}
	switch {
	case err == nil || c.demo:
	case resumable(err) && errors.As(err, new(*client.DecodeError)):
		return fmt.Errorf("%w; read it again with: %s", err, c.resume(exec.ID))
	case resumable(err):
		return fmt.Errorf("%w; resume with: %s", err, c.resume(exec.ID))
	case errors.Is(err, client.ErrQueryFailed):
		return fmt.Errorf("%w; start a new query: this one would fail again", err)
	}
	return withHint(err)
}

// resumable tells a run that the same command picks up again from one
// that would fail the same way (a 4xx, a refused login, a failed query): a
// wait cut short by --timeout or Ctrl-C, or an answer cut short, which is
// most often the network's doing.
func resumable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, new(*client.DecodeError))
}

// withHint adds what to check to a failure that would fail again the same
// way: credentials, permissions, or an id from elsewhere.
func withHint(err error) error {
	var ae *client.AuthError
	var api *client.APIError
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return fmt.Errorf("%w; no such host: check --region (or GENESYSCLOUD_REGION) or --api-url and --login-url", err)
	case errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w; check GENESYSCLOUD_OAUTHCLIENT_ID / _SECRET and the region", err)
	case !errors.As(err, &api):
	case api.StatusCode == http.StatusForbidden && strings.Contains(api.Path, "/usage/client/"):
		return fmt.Errorf("%w; the credentials need the permission usage:client:view", err)
	case api.StatusCode == http.StatusForbidden && strings.Contains(api.Path, "/aggregates/query/jobs"):
		return fmt.Errorf("%w; the credentials need the permission usage:organization:view", err)
	case api.StatusCode == http.StatusNotFound && strings.Contains(api.Path, "/aggregates/query/jobs/"):
		return fmt.Errorf("%w; a job id belongs to one organization and region, and a client's job is read with its --client: check the id, the credentials and the region", err)
	case api.StatusCode == http.StatusForbidden && strings.Contains(api.Path, "/oauth/clients/"):
		return fmt.Errorf("%w; the credentials need the permission oauth:client:view", err)
	case api.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w; the credentials need the permission oauth:client:view or usage:organization:view", err)
	case api.StatusCode == http.StatusNotFound && strings.Contains(api.Path, "/oauth/clients/"):
		return fmt.Errorf("%w; an OAuth client id, and an execution id, belong to one organization and region: check the ids, the credentials and the region", err)
	case api.StatusCode == http.StatusNotFound && errors.As(err, new(*client.ExecutionError)):
		return fmt.Errorf("%w; an execution id belongs to one organization and region: check the credentials and the region", err)
	}
	return err
}

// print writes the rows as they are decoded. When they break off, the rows
// read so far are written whole and the error is returned.
func (a *app) print(res *client.Result, w rowWriter) error {
	defer res.Close()
	for row, err := range res.Rows() {
		if err == nil {
			err = w.write(&row)
		}
		if err != nil {
			w.abort()
			return err
		}
	}
	return w.close()
}

// resume is the results command that picks up the execution id where this
// run stopped, with the connection and format flags it was given.
func (c *conn) resume(id string) string {
	args := []string{"gcusage", "results", shellQuote(id)}
	if c.client != "" {
		args = append(args, "--client", shellQuote(c.client))
	}
	if c.search {
		args = append(args, "--search")
	}
	c.fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "format", "region", "api-url", "login-url", "sort", "top", "page-size":
			args = append(args, "--"+f.Name, shellQuote(f.Value.String()))
		}
	})
	return strings.Join(args, " ")
}

// shellQuote leaves plain words alone and single-quotes anything else, so
// the resume command can be pasted as is.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
