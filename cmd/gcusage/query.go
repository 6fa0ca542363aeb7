package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/cmd/internal/output"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// outputHelp ends the help of every command that prints rows: the rules of
// the one output layer, and what a run cut short leaves.
const outputHelp = `

The table escapes control characters in the API's text (\x1b), sizes its
columns from the first rows and cuts a later text cell that does not fit
with an ellipsis; a count is never cut, but widens its column. It ends
with a TOTAL line (with --top N, one for the N rows shown and one for all
rows). csv and table show the same columns, in one order: dimensions,
then the date, then the counts; an empty cell is "" in csv and - in the
table, a date is 2024-01-31. csv is never cut, and a text cell that
starts with = + - @ tab or CR gets a leading ' (--csv-raw keeps it
exact). json and ndjson print the API's own objects, exact.

If the rows break off, the rows read so far are printed whole and the run
exits 1: csv and ndjson end on a whole line, and json is left without its
closing bracket on purpose, so that no parser takes it for a whole result.
With --sort or --top nothing is printed unless every row was read.`

// intervalHelp is the rule of --interval, --since and --until.
const intervalHelp = `The interval is --interval START/END (ISO 8601, both ends included when
they are dates), or --since and --until; by default the last 7 full UTC
days. Usage is counted up to the end of yesterday (UTC): an interval that
reaches into today or later is cut to end yesterday, with a note on
stderr, and one that starts today or later is refused.`

const queryLong = `Start a usage query, wait for it and print its rows.

` + intervalHelp + ` Enum
values are read in any case.

Without --granularity the rows are the API's totals over the whole
interval, one per group, with no date; --granularity day, week or month
gives a row per bucket with its date. Without --group-by the rows are per
OAuth client.

--client CLIENT_ID queries that OAuth client's usage only, on its own
endpoint; --group-by may then not hold UserId. 'gcusage results <id>
--client CLIENT_ID' resumes it.

--no-wait prints the execution id instead of waiting; 'gcusage results
<id>' waits for it later. Ctrl-C, or --timeout, stops the wait and prints
that command (Ctrl-C exits 130).

Credentials come from the environment (or from profiles, below):
GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET, or
GENESYSCLOUD_ACCESS_TOKEN; the region from --region or
GENESYSCLOUD_REGION. --demo needs none of them. The credentials need the
permission ` + permOrg + `
(with --client, ` + permClient + `).` + profilesHelp + outputHelp

const queryExamples = `  gcusage query --demo
  id=$(gcusage query --since 30d --no-wait) && gcusage results "$id" --format csv
  gcusage query --since 30d --group-by oauthclientid,httpmethod --metrics requests,status429
  gcusage query --interval 2024-01-01/2024-02-01 --granularity week --format csv > usage.csv
  gcusage query --since 2024-03-01 --until 36h --group-by TemplateUri --format ndjson
  gcusage query --client 2b9c8f4e-1d3a-4c5b-8e7f-0a1b2c3d4e5f --group-by templateuri,httpmethod
  gcusage query --api-url http://127.0.0.1:8765 --login-url http://127.0.0.1:8765 --format json
      (against 'go run ./cmd/gcusage-stub', with its demo credentials in the env)
  gcusage query --demo --all-profiles --group-by OrganizationId,OAuthClientId
  gcusage query --profile acme-prod,acme-test --since 30d --format csv > two-orgs.csv
  gcusage query --all-profiles --config partner.toml --parallel 8 --format ndjson`

const ivUsage = "ISO-8601 interval `START/END`, such as 2024-01-01/2024-01-07 or 2024-01-01T00:00:00Z/2024-01-08T00:00:00Z"

// QueryOptions are the flags of gcusage query.
type QueryOptions struct {
	f    *Factory
	Conn ConnOptions
	Out  OutputOptions
	Span SpanOptions

	Granularity, GroupBy, Metrics string
	ClientID                      string // the OAuth client of a per-client query
}

// NewCmdQuery is gcusage query. runF, when a test gives one, gets the
// options in place of the run.
func NewCmdQuery(f *Factory, runF func(*QueryOptions) error) *cobra.Command {
	o := &QueryOptions{f: f}
	cmd := &cobra.Command{
		Use:     "query [flags]",
		Short:   "start a usage query, wait for it and print the rows (--client: of one OAuth client)",
		Long:    queryLong,
		Example: queryExamples,
	}
	fs := cmd.Flags()
	addSpanFlags(fs, &o.Span, ivUsage)
	fs.StringVar(&o.Granularity, "granularity", "", "bucket `size`: "+join(client.Granularities())+" (default none: one total per group over the interval)")
	fs.StringVar(&o.GroupBy, "group-by", string(client.GroupBys()[0]), "comma `list` of "+join(client.GroupBys())+`; "" for the API's default, per OAuth client`)
	fs.StringVar(&o.Metrics, "metrics", "", "comma `list` of "+join(client.Metrics())+" (default all)")
	fs.StringVar(&o.ClientID, "client", "", "query the usage of this OAuth client `id` only, on its own endpoint (no UserId in --group-by)")
	addOutputFlags(cmd, &o.Out, client.Metrics(), rankedByMetrics)
	addConnFlags(fs, &o.Conn)
	addDemoFlag(fs, &o.Conn)
	addProfileFlags(cmd, f, &o.Conn.Profiles, true)
	fs.BoolVar(&o.Conn.NoWait, "no-wait", false, "start the query, print its execution id on stdout and the command that waits for it on stderr")
	completeEnum(cmd, "granularity", client.Granularities())
	completeList(cmd, "group-by", client.GroupBys())
	completeList(cmd, "metrics", client.Metrics())
	leaf(cmd, noArgs("query"), func(c *cobra.Command, _ []string) error {
		if runF != nil {
			return runF(o)
		}
		return queryRun(c.Context(), o)
	})
	return cmd
}

func queryRun(ctx context.Context, o *QueryOptions) error {
	var q client.Query
	var note string
	var err error
	if q.Interval, note, err = o.Span.interval(o.f.Now()); err != nil {
		return err
	}
	if q.GroupBy, err = parseList("group-by", o.GroupBy, client.GroupBys()); err != nil {
		return err
	}
	if q.Metrics, err = parseList("metrics", o.Metrics, client.Metrics()); err != nil {
		return err
	}
	if len(q.Metrics) > 0 {
		o.Out.counts = q.Metrics
	}
	if q.Granularity, err = parseGranularity(o.Granularity); err != nil {
		return err
	}
	start := func(ctx context.Context, cl *client.Client) (*client.Execution, error) { return cl.Start(ctx, q) }
	if o.ClientID != "" {
		err = q.ValidateClient()
		start = func(ctx context.Context, cl *client.Client) (*client.Execution, error) {
			return cl.StartClient(ctx, o.ClientID, q)
		}
	} else {
		err = q.Validate()
	}
	if err != nil {
		return err
	}
	o.Conn.again = []string{"gcusage", "query", "--interval", shellQuote(q.Interval)}
	return runLegacy(ctx, o.f, &o.Conn, &o.Out, queryColumns(q.Granularity, q.GroupBy, q.Metrics), note,
		func(*usagetest.Server) string { return "interval " + q.Interval }, start, resumeLegacy(&o.Conn, o.ClientID, false))
}

// runLegacy checks the output flags, connects (a demo's note names what
// it runs) and runs a command of the legacy service, saying note first.
func runLegacy(ctx context.Context, f *Factory, conn *ConnOptions, out *OutputOptions, cols []output.Column, note string,
	demo func(*usagetest.Server) string, start func(context.Context, *client.Client) (*client.Execution, error), resume func(string) string) error {
	wo, err := out.writerOptions(cols)
	if err != nil {
		return err
	}
	run, done, err := f.connectRun(conn, wo, demo)
	if err != nil {
		return err
	}
	defer done()
	if note != "" {
		f.note(conn, "note: "+note)
	}
	return run.execute(ctx, start, resume)
}

// resumeLegacy returns the results command that picks up an execution of
// the legacy service where the run stopped, with the flags that read and
// print it.
func resumeLegacy(c *ConnOptions, clientID string, search bool) func(id string) string {
	return func(id string) string {
		cmd := []string{"gcusage", "results", shellQuote(id)}
		if clientID != "" {
			cmd = append(cmd, "--client", shellQuote(clientID))
		}
		if search {
			cmd = append(cmd, "--search")
		}
		return rerun(cmd, c, oneOf(resumeFlags...))
	}
}

// groupColumns maps the legacy query's dimensions to the columns they fill.
var groupColumns = map[gen.GroupBy][]output.Column{
	gen.GroupByOAuthClientID:  {output.ClientID, output.ClientName},
	gen.GroupByOrganizationID: {output.OrganizationID},
	gen.GroupByUserID:         {output.UserID},
	gen.GroupByTemplateURI:    {output.TemplateURI},
	gen.GroupByHTTPMethod:     {output.HTTPMethod},
}

// queryColumns returns the columns a query's rows fill: the columns
// grouped by (per OAuth client when none is), the date when it has a
// granularity (without one the rows are totals over the interval), and the
// metrics asked for (all of them when none is). The API sends the other
// fields empty, so the table is the same shape whatever rows come back,
// even none.
func queryColumns(g gen.Granularity, groupBy []gen.GroupBy, metrics []gen.Metric) []output.Column {
	if len(groupBy) == 0 {
		groupBy = []gen.GroupBy{gen.GroupByOAuthClientID}
	}
	var cols []output.Column
	for _, d := range groupBy {
		cols = append(cols, groupColumns[d]...)
	}
	if g != "" {
		cols = append(cols, output.Date)
	}
	return append(cols, metricCols(metrics)...)
}

// metricCols are the columns of metrics, all counts when none is named.
func metricCols(metrics []gen.Metric) []output.Column {
	if len(metrics) == 0 {
		metrics = client.Metrics()
	}
	cols := make([]output.Column, len(metrics))
	for i, m := range metrics {
		cols[i] = output.MetricColumn(m)
	}
	return cols
}

const resultsLong = `Wait for an execution started earlier, such as one a 'gcusage query' gave
up on or started with --no-wait, and print its rows. The query's shape is
not known here, so the table and csv show every field of the API's row. An
execution id belongs to the organization and the region that started it.
A query or summary of one OAuth client is read on that client's endpoint:
give its id with --client. A simple search is read page by page: give
--search (and --page-size).` + outputHelp

const resultsExamples = `  gcusage results 6a1f0c2e-5b7d-4e3a-9c1f-2d8e4b6a0f13
  gcusage results 6a1f0c2e-5b7d-4e3a-9c1f-2d8e4b6a0f13 --format json --timeout 30m
  gcusage results 6a1f0c2e-5b7d-4e3a-9c1f-2d8e4b6a0f13 --client 2b9c8f4e-1d3a-4c5b-8e7f-0a1b2c3d4e5f
  gcusage results 5c0e2f4a-7b1d-4c3e-8a9f-1e2d3c4b5a69 --search --format csv`

// ResultsOptions are the flags and argument of gcusage results.
type ResultsOptions struct {
	f    *Factory
	Conn ConnOptions
	Out  OutputOptions

	ExecutionID string
	ClientID    string // of a per-client query or summary
	Search      bool
	PageSize    int
}

// NewCmdResults is gcusage results.
func NewCmdResults(f *Factory, runF func(*ResultsOptions) error) *cobra.Command {
	o := &ResultsOptions{f: f}
	cmd := &cobra.Command{
		Use:     "results <executionId> [flags]",
		Short:   "wait for an execution started earlier and print its rows",
		Long:    resultsLong,
		Example: resultsExamples,
	}
	fs := cmd.Flags()
	fs.StringVar(&o.ClientID, "client", "", "the OAuth client `id` of a per-client query or summary")
	fs.BoolVar(&o.Search, "search", false, "the execution is a simple search: read its pages")
	fs.IntVar(&o.PageSize, "page-size", client.MaxPageSize, "rows per page of a search, 1 to 1000")
	addOutputFlags(cmd, &o.Out, client.Metrics(), "Requests; with --search, by Status200")
	addConnFlags(fs, &o.Conn)
	addProfileFlags(cmd, f, &o.Conn.Profiles, false)
	leaf(cmd, oneID("results", "execution id"), func(c *cobra.Command, a []string) error {
		o.ExecutionID = a[0]
		if runF != nil {
			return runF(o)
		}
		return resultsRun(c.Context(), o)
	})
	return cmd
}

func resultsRun(ctx context.Context, o *ResultsOptions) error {
	if err := checkPageSize(o.PageSize); err != nil {
		return err
	}
	cols := queryColumns(gen.GranularityDay, client.GroupBys(), nil)
	start := func(_ context.Context, cl *client.Client) (*client.Execution, error) {
		return cl.Execution(o.ExecutionID), nil
	}
	switch {
	case o.ClientID != "" && o.Search:
		return usagef("--client and --search name different kinds of execution: give one")
	case o.ClientID != "":
		start = func(_ context.Context, cl *client.Client) (*client.Execution, error) {
			return cl.ClientExecution(o.ClientID, o.ExecutionID), nil
		}
	case o.Search:
		o.Out.counts = searchCounts(nil)
		cols = searchColumns(nil)
		start = func(_ context.Context, cl *client.Client) (*client.Execution, error) {
			return cl.SearchExecution(o.ExecutionID, o.PageSize), nil
		}
	}
	return runLegacy(ctx, o.f, &o.Conn, &o.Out, cols, "", nil, start, resumeLegacy(&o.Conn, o.ClientID, o.Search))
}
