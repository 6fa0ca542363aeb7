package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

const summaryAbout = `Summarize the usage of one OAuth client over its last days (--days, 7 by
default): start the summary, wait for it and print its rows, read from the
client's endpoint. A timed-out wait prints the 'gcusage results --client'
command that resumes it. With --demo the client id may be left out: the
first client of the sample data is used.

The credentials need the permission oauth:client:view.` + sortedHelp

const summaryExamples = `  gcusage summary --demo
  gcusage summary 2b9c8f4e-1d3a-4c5b-8e7f-0a1b2c3d4e5f --days 30
  gcusage summary 2b9c8f4e-1d3a-4c5b-8e7f-0a1b2c3d4e5f --format csv > client.csv`

func (a *app) summary(ctx context.Context, args []string) error {
	cmd := newCommand("summary", "gcusage summary <clientId> [flags]", summaryAbout, summaryExamples)
	c := newConn(cmd.fs)
	days := cmd.fs.Int("days", 7, "summarize the last `N` days")
	cmd.fs.BoolVar(&c.demo, "demo", false, "run against an in-process stub with sample data: no account, no network")
	cmd.fs.BoolVar(&c.noWait, "no-wait", false, "start the summary, print its execution id on stdout and the command that waits for it on stderr")
	pos, err := cmd.parse(a.stdout, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 1 || len(pos) == 0 && !c.demo:
		return usagef("summary takes one OAuth client id, got %d arguments (see gcusage summary --help)", len(pos))
	case *days < 1:
		return usagef("--days %d: want a positive number of days, such as 7", *days)
	case len(pos) == 1:
		c.client = pos[0]
	}
	opts, done, err := a.connect(c, func(srv *usagetest.Server) string {
		if c.client == "" {
			c.client = srv.ClientIDs()[0]
		}
		return fmt.Sprintf("client %s, last %d days", c.client, *days)
	})
	if err != nil {
		return err
	}
	defer done()
	start := func(ctx context.Context, cl *client.Client) (*client.Execution, error) {
		return cl.Summary(ctx, c.client, *days)
	}
	return a.execute(ctx, c, opts, start, queryColumns(gen.GranularityDay, nil, nil))
}

const searchAbout = `Search the organization's usage records: per day, OAuth client name,
endpoint template and HTTP method, the fields --metrics asks for (all by
default), filtered by --client-name, --http-method and --template-uri
(comma lists; a record matches a value of each list given). The interval
is --interval, or --since and --until, as for 'gcusage query'. Metrics
and methods are read in any case.

The rows come in pages of --page-size (1000 at most), read one at a time.
The API gives a search 20,000 records at most: a search that reaches them
prints a warning on stderr, and its rows may be a part only. Results over
the API's 5 MB limit are refused: narrow the interval or add filters.
Records have no client id and no requests count, which no search metric
names: the table and csv leave them out.

The credentials need the permission oauth:client:view or
usage:organization:view.` + sortedHelp

const searchExamples = `  gcusage search --demo --since 3d --client-name 'Nightly export'
  gcusage search --since 7d --client-name 'CRM sync' --template-uri 'api/v2/users/{userId}' --format csv
  gcusage search --interval 2024-01-01/2024-01-07 --http-method delete,put --metrics date,clientname,status429
  gcusage results 5c0e2f4a-7b1d-4c3e-8a9f-1e2d3c4b5a69 --search   (a search that timed out)`

func (a *app) search(ctx context.Context, args []string) error {
	cmd := newCommand("search", "gcusage search [flags]", searchAbout, searchExamples)
	fs := cmd.fs
	c := newConn(fs)
	c.search = true
	fs.Lookup("sort").Usage = "sort the rows by this `metric`, largest first: " + join(searchCounts(nil)) + " (holds the rows in memory)"
	span := spanFlags(fs, "ISO-8601 interval `START/END`, such as 2024-01-01/2024-01-08 or 2024-01-01T00:00:00Z/2024-01-08T00:00:00Z")
	mets := fs.String("metrics", "", "comma `list` of "+join(client.SearchMetrics())+" (default all)")
	names := fs.String("client-name", "", "comma `list` of OAuth client names to keep")
	methods := fs.String("http-method", "", "comma `list` of "+join(client.HTTPMethods())+" to keep")
	templates := fs.String("template-uri", "", "comma `list` of endpoint templates to keep, such as api/v2/users/{userId}")
	pageSize := pageSizeFlag(fs)
	fs.BoolVar(&c.demo, "demo", false, "run against an in-process stub with sample data: no account, no network")
	fs.BoolVar(&c.noWait, "no-wait", false, "start the search, print its execution id on stdout and the command that waits for it on stderr")
	pos, err := cmd.parse(a.stdout, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("search takes no arguments, got %q (flags start with --)", pos[0])
	}
	s := client.SimpleSearch{ClientNames: textList(*names), TemplateURIs: textList(*templates), PageSize: *pageSize}
	if s.Interval, err = span.interval(a.now()); err != nil {
		return err
	}
	if s.Metrics, err = parseList("metrics", *mets, client.SearchMetrics()); err != nil {
		return err
	}
	if s.HTTPMethods, err = parseList("http-method", *methods, client.HTTPMethods()); err != nil {
		return err
	}
	c.counts = searchCounts(s.Metrics)
	if err := s.Validate(); err != nil {
		return err
	}
	opts, done, err := a.connect(c, func(*usagetest.Server) string { return "interval " + s.Interval })
	if err != nil {
		return err
	}
	defer done()
	start := func(ctx context.Context, cl *client.Client) (*client.Execution, error) { return cl.StartSearch(ctx, s) }
	return a.execute(ctx, c, opts, start, searchColumns(s.Metrics))
}

// pageSizeFlag defines --page-size, the rows of each page of a search.
func pageSizeFlag(fs *flag.FlagSet) *int {
	return fs.Int("page-size", client.MaxPageSize, fmt.Sprintf("rows per page of a search, 1 to %d", client.MaxPageSize))
}

// textList reads a comma list of free text, such as client names, exact.
func textList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// searchFields map the search metrics to the fields they fill.
var searchFields = map[gen.SimpleSearchMetric]string{
	gen.SimpleSearchMetricDate:        "date",
	gen.SimpleSearchMetricClientName:  "clientName",
	gen.SimpleSearchMetricHTTPMethod:  "httpMethod",
	gen.SimpleSearchMetricTemplateURI: "templateUri",
	gen.SimpleSearchMetricStatus200:   "status200",
	gen.SimpleSearchMetricStatus300:   "status300",
	gen.SimpleSearchMetricStatus400:   "status400",
	gen.SimpleSearchMetricStatus500:   "status500",
	gen.SimpleSearchMetricStatus429:   "status429",
}

// searchCounts returns the counts of a search's records, in the order
// metrics asks for them (all of them when it is empty): the status
// counters only, since a record has no requests count.
func searchCounts(metrics []gen.SimpleSearchMetric) []gen.Metric {
	if len(metrics) == 0 {
		metrics = client.SearchMetrics()
	}
	var out []gen.Metric
	for _, m := range metrics {
		if i := indexFold(client.Metrics(), string(m)); i >= 0 {
			out = append(out, client.Metrics()[i])
		}
	}
	return out
}

// searchColumns returns the columns of a search's records: those of the
// metrics asked for, all of them when none is.
func searchColumns(metrics []gen.SimpleSearchMetric) []column {
	if len(metrics) == 0 {
		metrics = client.SearchMetrics()
	}
	want := map[string]bool{}
	for _, m := range metrics {
		want[searchFields[m]] = true
	}
	return slices.DeleteFunc(slices.Clone(columns), func(c column) bool { return !want[c.name] })
}
