package main

import (
	"cmp"
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/cmd/internal/output"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

const summaryLong = `Summarize the usage of one OAuth client over its last days (--days, 7 by
default): start the summary, wait for it and print its rows, read from the
client's endpoint, a row per day. A timed-out wait prints the 'gcusage
results --client' command that resumes it. With --demo the client id may
be left out: the first client of the sample data is used.

The credentials need the permission ` + permClient + `.` + profilesHelp + outputHelp

const summaryExamples = `  gcusage summary --demo
  gcusage summary 2b9c8f4e-1d3a-4c5b-8e7f-0a1b2c3d4e5f --days 30
  gcusage summary 2b9c8f4e-1d3a-4c5b-8e7f-0a1b2c3d4e5f --format csv > client.csv`

// SummaryOptions are the flags and argument of gcusage summary.
type SummaryOptions struct {
	f    *Factory
	Conn ConnOptions
	Out  OutputOptions

	ClientID string
	Days     int
}

// NewCmdSummary is gcusage summary.
func NewCmdSummary(f *Factory, runF func(*SummaryOptions) error) *cobra.Command {
	o := &SummaryOptions{f: f}
	cmd := &cobra.Command{
		Use:     "summary <clientId> [flags]",
		Short:   "the usage of one OAuth client over its last days",
		Long:    summaryLong,
		Example: summaryExamples,
	}
	fs := cmd.Flags()
	fs.IntVar(&o.Days, "days", 7, "summarize the last `N` days")
	addOutputFlags(cmd, &o.Out, client.Metrics(), "Requests")
	addConnFlags(fs, &o.Conn)
	addDemoFlag(fs, &o.Conn)
	addProfileFlags(cmd, f, &o.Conn.Profiles, true)
	fs.BoolVar(&o.Conn.NoWait, "no-wait", false, "start the summary, print its execution id on stdout and the command that waits for it on stderr")
	leaf(cmd, func(a []string) error {
		if len(a) > 1 || len(a) == 0 && !o.Conn.Demo {
			return usagef("summary takes one OAuth client id, got %d arguments (see gcusage summary --help)", len(a))
		}
		return nil
	}, func(c *cobra.Command, a []string) error {
		if len(a) == 1 {
			o.ClientID = a[0]
		}
		if runF != nil {
			return runF(o)
		}
		return summaryRun(c.Context(), o)
	})
	return cmd
}

func summaryRun(ctx context.Context, o *SummaryOptions) error {
	if o.Days < 1 {
		return usagef("--days %d: want a positive number of days, such as 7", o.Days)
	}
	// With --demo the client may be left out: each org's first client is
	// summarized (the first org's without profiles).
	var firsts map[string]string
	demo := func(srv *usagetest.Server) string {
		if o.ClientID != "" {
			return fmt.Sprintf("client %s, last %d days", o.ClientID, o.Days)
		}
		o.ClientID = srv.ClientIDs()[0]
		if !o.Conn.Profiles.used() {
			return fmt.Sprintf("client %s, last %d days", o.ClientID, o.Days)
		}
		firsts = map[string]string{}
		for _, org := range srv.Orgs() {
			firsts[org.Name] = org.ClientIDs()[0]
		}
		return fmt.Sprintf("the first client of each org, last %d days", o.Days)
	}
	start := func(ctx context.Context, cl *client.Client) (*client.Execution, error) {
		return cl.Summary(ctx, cmp.Or(firsts[profileOf(ctx)], o.ClientID), o.Days)
	}
	if o.Conn.again = []string{"gcusage", "summary"}; o.ClientID != "" {
		o.Conn.again = append(o.Conn.again, shellQuote(o.ClientID))
	}
	// The resume hint reads the client id once the demo has chosen it.
	resume := func(id string) string { return resumeLegacy(&o.Conn, o.ClientID, false)(id) }
	return runLegacy(ctx, o.f, &o.Conn, &o.Out, queryColumns(gen.GranularityDay, nil, nil), "", demo, start, resume)
}

const searchLong = `Search the organization's usage records: per day, OAuth client name,
endpoint template and HTTP method, the fields --metrics asks for (all by
default), filtered by --client-name, --http-method and --template-uri
(comma lists; a record matches a value of each list given). Metrics and
methods are read in any case.

` + intervalHelp + `

The rows come in pages of --page-size (1000 at most), read one at a time.
The API gives a search 20,000 records at most: a search that reaches them
prints a warning on stderr, and its rows may be a part only. Results over
the API's 5 MB limit are refused: narrow the interval or add filters.
Records have no client id and no requests count, which no search metric
names: the table and csv leave them out.

The credentials need the permission ` + permSearch + `.` + profilesHelp + outputHelp

const searchExamples = `  gcusage search --demo --since 3d --client-name 'Nightly export'
  gcusage search --since 7d --client-name 'CRM sync' --template-uri 'api/v2/users/{userId}' --format csv
  gcusage search --interval 2024-01-01/2024-01-07 --http-method delete,put --metrics date,clientname,status429
  gcusage results 5c0e2f4a-7b1d-4c3e-8a9f-1e2d3c4b5a69 --search   (a search that timed out)`

// SearchOptions are the flags of gcusage search.
type SearchOptions struct {
	f    *Factory
	Conn ConnOptions
	Out  OutputOptions
	Span SpanOptions

	Metrics, ClientNames, HTTPMethods, TemplateURIs string
	PageSize                                        int
}

// NewCmdSearch is gcusage search.
func NewCmdSearch(f *Factory, runF func(*SearchOptions) error) *cobra.Command {
	o := &SearchOptions{f: f}
	cmd := &cobra.Command{
		Use:     "search [flags]",
		Short:   "a simple search of the usage records, filtered by client name, method and endpoint",
		Long:    searchLong,
		Example: searchExamples,
	}
	fs := cmd.Flags()
	addSpanFlags(fs, &o.Span, ivUsage)
	fs.StringVar(&o.Metrics, "metrics", "", "comma `list` of "+join(client.SearchMetrics())+" (default all)")
	fs.StringVar(&o.ClientNames, "client-name", "", "comma `list` of OAuth client names to keep")
	fs.StringVar(&o.HTTPMethods, "http-method", "", "comma `list` of "+join(client.HTTPMethods())+" to keep")
	fs.StringVar(&o.TemplateURIs, "template-uri", "", "comma `list` of endpoint templates to keep, such as api/v2/users/{userId}")
	fs.IntVar(&o.PageSize, "page-size", client.MaxPageSize, "rows per page of a search, 1 to 1000")
	addOutputFlags(cmd, &o.Out, searchCounts(nil), "the first count --metrics names, Status200 by default")
	addConnFlags(fs, &o.Conn)
	addDemoFlag(fs, &o.Conn)
	addProfileFlags(cmd, f, &o.Conn.Profiles, true)
	fs.BoolVar(&o.Conn.NoWait, "no-wait", false, "start the search, print its execution id on stdout and the command that waits for it on stderr")
	completeList(cmd, "metrics", client.SearchMetrics())
	completeList(cmd, "http-method", client.HTTPMethods())
	leaf(cmd, noArgs("search"), func(c *cobra.Command, _ []string) error {
		if runF != nil {
			return runF(o)
		}
		return searchRun(c.Context(), o)
	})
	return cmd
}

func searchRun(ctx context.Context, o *SearchOptions) error {
	s := client.SimpleSearch{ClientNames: textList(o.ClientNames), TemplateURIs: textList(o.TemplateURIs), PageSize: o.PageSize}
	var note string
	err := checkPageSize(o.PageSize)
	if err != nil {
		return err
	}
	if s.Interval, note, err = o.Span.interval(o.f.Now()); err != nil {
		return err
	}
	if s.Metrics, err = parseList("metrics", o.Metrics, client.SearchMetrics()); err != nil {
		return err
	}
	if s.HTTPMethods, err = parseList("http-method", o.HTTPMethods, client.HTTPMethods()); err != nil {
		return err
	}
	o.Out.counts = searchCounts(s.Metrics)
	if err := s.Validate(); err != nil {
		return err
	}
	start := func(ctx context.Context, cl *client.Client) (*client.Execution, error) { return cl.StartSearch(ctx, s) }
	o.Conn.again = []string{"gcusage", "search", "--interval", shellQuote(s.Interval)}
	return runLegacy(ctx, o.f, &o.Conn, &o.Out, searchColumns(s.Metrics), note,
		func(*usagetest.Server) string { return "interval " + s.Interval }, start, resumeLegacy(&o.Conn, "", true))
}

// searchFields map the search metrics to the columns they fill.
var searchFields = map[gen.SimpleSearchMetric]output.Column{
	gen.SimpleSearchMetricDate:        output.Date,
	gen.SimpleSearchMetricClientName:  output.ClientName,
	gen.SimpleSearchMetricHTTPMethod:  output.HTTPMethod,
	gen.SimpleSearchMetricTemplateURI: output.TemplateURI,
	gen.SimpleSearchMetricStatus200:   output.Status200,
	gen.SimpleSearchMetricStatus300:   output.Status300,
	gen.SimpleSearchMetricStatus400:   output.Status400,
	gen.SimpleSearchMetricStatus500:   output.Status500,
	gen.SimpleSearchMetricStatus429:   output.Status429,
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
func searchColumns(metrics []gen.SimpleSearchMetric) []output.Column {
	if len(metrics) == 0 {
		metrics = client.SearchMetrics()
	}
	cols := make([]output.Column, len(metrics))
	for i, m := range metrics {
		cols[i] = searchFields[m]
	}
	return cols
}
