package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

const jobsAbout = `Run a usage query job of the 2025 usage query service and print its
entities. Unlike 'gcusage query', jobs count every request, not only
billable ones, show the OAuth clients of Genesys' own organizations,
filter, sort and page. The API takes at most 90 days starting at most a
year ago: a longer interval is split into windows of whole UTC days, run
at most 4 at a time. With --granularity the entities come window by
window; without one, each group's totals are summed across the windows.

json and ndjson print the API's entity objects (oauthClient, user nested);
csv and table flatten them (oauthClient.id, oauthClient.name, user.id).
When the wait is cut short (--timeout, Ctrl-C) or an answer cannot be
read, the error says how to pick the run up. With --granularity, or in a
single window, it names a 'gcusage jobs results' command for each job
started and not read, and a 'gcusage jobs query' with every flag of the
run and that window's --interval for each window not started yet.
Without one, a split run sums each group's totals across windows: it
names the same 'gcusage jobs query' over the same --interval, to run
again whole. Other failures (a refused login, a 4xx, a failed job) would
fail the same way: they name what to check instead.

'gcusage jobs results JOB_ID [--client CLIENT_ID]' reads one job again.
Jobs over the organization need usage:organization:view; --client jobs
need usage:client:view.` + cutShortHelp

const jobsExamples = `  gcusage jobs query --demo --since 30d --group-by oauthclientid --granularity week
  gcusage jobs query --since 200d --group-by OauthClientId,HttpMethod --sort requestCount:desc --format csv
  gcusage jobs query --client 2b9c8f4e-... --since 30d --group-by TemplateUri --format ndjson
  gcusage jobs results 6a1f7a52-8c1e-4e0f-9f5e-3d1b2c4a5e6f --format json`

// jobs dispatches jobs query and jobs results.
func (a *app) jobs(ctx context.Context, args []string) error {
	if len(args) == 0 || alias(args[0]) == "help" {
		fmt.Fprintf(a.stdout, "Usage:\n  gcusage jobs query [flags]\n  gcusage jobs results JOB_ID [--client CLIENT_ID] [flags]\n\n%s\n\nExamples:\n%s\n", jobsAbout, jobsExamples)
		if len(args) == 0 {
			return usagef("jobs needs a subcommand: query or results")
		}
		return nil
	}
	switch args[0] {
	case "query":
		return a.jobsQuery(ctx, args[1:])
	case "results":
		return a.jobsResults(ctx, args[1:])
	}
	return usagef("unknown jobs subcommand %q: want query or results", args[0])
}

// jobsConn is conn with its --sort read as the API's sortBy.
func jobsConn(fs *flag.FlagSet) *conn {
	c := newConn(fs)
	c.apiSort = true
	f := fs.Lookup("sort")
	f.Usage = "sort by an entity `field` such as requestCount or date, :asc or :desc (default :asc); a comma list"
	fs.Lookup("top").Usage = "not for jobs"
	return c
}

func (a *app) jobsQuery(ctx context.Context, args []string) error {
	cmd := newCommand("jobs query", "gcusage jobs query [flags]", jobsAbout, jobsExamples)
	fs := cmd.fs
	c := jobsConn(fs)
	span := spanFlags(fs, "ISO-8601 interval `START/END`, both ends included, starting at most a year ago")
	gran := fs.String("granularity", "", "bucket `size`: "+join(client.Granularities())+" (default none: one total per group)")
	groupBy := fs.String("group-by", "", "comma `list` of "+join(client.JobsGroupBys())+"; with --client: "+join(client.ClientJobsGroupBys())+" (default none: not aggregated)")
	mets := fs.String("metrics", "", "comma `list` of "+join(client.Metrics())+" (default all)")
	templates := fs.String("template-uri", "", "only these template URIs (comma `list`)")
	methods := fs.String("http-method", "", "only these HTTP methods (comma `list` of "+join(client.JobsHTTPMethods())+")")
	plats := fs.String("platform", "", "only these platforms (comma `list`)")
	users := fs.String("user-id", "", "only these user ids (comma `list`)")
	oauth := fs.String("oauth-client-id", "", "only these OAuth client ids (comma `list`)")
	orgs := fs.String("organization-id", "", "with --client: only these organization ids (comma `list`)")
	clientID := fs.String("client", "", "query one OAuth client's job (`CLIENT_ID`) instead of the organization's")
	pageSize := fs.Int("page-size", 1000, "entities per page, 1 to 1000")
	concurrency := fs.Int("concurrency", 4, "windows run at once")
	fs.BoolVar(&c.demo, "demo", false, "run against an in-process stub with sample data: no account, no network")
	pos, err := cmd.parse(a.stdout, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("jobs query takes no arguments, got %q (flags start with --)", pos[0])
	}
	q := client.JobQuery{ClientID: *clientID, PageSize: *pageSize, TemplateURIs: list(*templates), Platforms: list(*plats),
		UserIDs: list(*users), OAuthClientIDs: list(*oauth), OrganizationIDs: list(*orgs)}
	if q.Interval, err = span.interval(a.now()); err != nil {
		return err
	}
	if q.ClientID == "" {
		q.GroupBy, err = parseList("group-by", *groupBy, client.JobsGroupBys())
	} else {
		q.ClientGroupBy, err = parseList("group-by", *groupBy, client.ClientJobsGroupBys())
	}
	if err != nil {
		return err
	}
	if q.Metrics, err = parseList("metrics", *mets, client.Metrics()); err != nil {
		return err
	}
	if q.HTTPMethods, err = parseList("http-method", *methods, client.JobsHTTPMethods()); err != nil {
		return err
	}
	if q.Granularity, err = parseGranularity(*gran); err != nil {
		return err
	}
	if q.SortBy, err = parseSort(c.sort); err != nil {
		return err
	}
	if c.top != 0 {
		return usagef("--top is not for jobs: use --sort and stop reading")
	}
	if err := q.Validate(a.now()); err != nil {
		return err
	}
	opts, done, err := a.connect(c, func(*usagetest.Server) string { return "interval " + q.Interval })
	if err != nil {
		return err
	}
	defer done()
	return a.runJobs(ctx, c, opts, func(ctx context.Context, cl *client.Client) iterEntities {
		return cl.RunJobs(ctx, q, client.JobOptions{Concurrency: *concurrency, Now: a.now, OnStart: func(w client.JobWindow) {
			a.note(c, "job "+w.JobID+" started for "+w.Interval)
		}})
	}, entityColumns(q), resumeJobs(c, q))
}

func (a *app) jobsResults(ctx context.Context, args []string) error {
	cmd := newCommand("jobs results", "gcusage jobs results JOB_ID [--client CLIENT_ID] [flags]", jobsAbout, jobsExamples)
	c := jobsConn(cmd.fs)
	clientID := cmd.fs.String("client", "", "the OAuth client (`CLIENT_ID`) of a client's job")
	pageSize := cmd.fs.Int("page-size", 1000, "entities per page, 1 to 1000")
	pos, err := cmd.parse(a.stdout, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return usagef("jobs results takes one job id, got %d arguments (see gcusage jobs results --help)", len(pos))
	}
	if c.sort != "" || c.top != 0 {
		return usagef("--sort and --top are for jobs query: a job's order was set when it started")
	}
	opts, err := a.options(c)
	if err != nil {
		return err
	}
	return a.runJobs(ctx, c, opts, func(ctx context.Context, cl *client.Client) iterEntities {
		return func(yield func(client.Entity, error) bool) {
			j := cl.Job(*clientID, pos[0])
			j.PageSize = *pageSize
			res, err := j.Wait(ctx)
			if err != nil {
				yield(client.Entity{}, &client.SplitError{Window: client.JobWindow{JobID: j.ID, ClientID: j.ClientID},
					Unfinished: []client.JobWindow{{JobID: j.ID, ClientID: j.ClientID}}, Err: err})
				return
			}
			for e, err := range res.Rows() {
				if err != nil {
					err = &client.SplitError{Window: client.JobWindow{JobID: j.ID, ClientID: j.ClientID},
						Unfinished: []client.JobWindow{{JobID: j.ID, ClientID: j.ClientID}}, Err: err}
				}
				if !yield(e, err) {
					return
				}
			}
		}
	}, entityColumnsAll, func(se *client.SplitError) string { return "resume with: " + c.jobResults(se.Window) })
}

type iterEntities = func(func(client.Entity, error) bool)

func list(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseSort reads FIELD[:asc|desc],... as the API's sortBy.
func parseSort(s string) ([]gen.JobsSortBy, error) {
	var out []gen.JobsSortBy
	for _, item := range list(s) {
		field, order, _ := strings.Cut(item, ":")
		sb := gen.JobsSortBy{FieldName: &field}
		if order != "" {
			i := indexFold([]gen.SortOrder{gen.SortOrderAsc, gen.SortOrderDesc}, order)
			if i < 0 {
				return nil, usagef("--sort %q: the order is asc or desc", item)
			}
			o := []gen.SortOrder{gen.SortOrderAsc, gen.SortOrderDesc}[i]
			sb.Order = &o
		}
		out = append(out, sb)
	}
	return out, nil
}

// runJobs prints the entities of rows within --timeout. A run cut short
// names what picks it up again: resume(se) gives those commands.
func (a *app) runJobs(ctx context.Context, c *conn, opts []client.Option, rows func(context.Context, *client.Client) iterEntities,
	cols []entityColumn, resume func(*client.SplitError) string) error {
	cl, err := a.newClient(c, opts)
	if err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	w := newEntityWriter(c.format, a.stdout, cols)
	for e, err := range rows(ctx, cl) {
		if err == nil {
			err = w.write(&e)
		}
		if err != nil {
			a.clearProgress(c)
			w.flush()
			var se *client.SplitError
			if c.demo || !resumable(err) || !errors.As(err, &se) {
				return withHint(err)
			}
			return fmt.Errorf("%w; %s", err, resume(se))
		}
	}
	a.clearProgress(c)
	return w.close()
}

// clearProgress ends the progress line, if one is shown.
func (a *app) clearProgress(c *conn) {
	if a.progress != nil && !c.quiet {
		fmt.Fprint(a.progress, "\r\x1b[K")
	}
}

// resumeJobs is the hint of a jobs query cut short. A run with a
// granularity, or of one window, is picked up window by window: the jobs
// started are read with 'gcusage jobs results', the others queried again
// alone. A split run without one sums each group's totals across its
// windows, which resuming them one by one would leave to the user: it is
// run again whole, over the same interval.
func resumeJobs(c *conn, q client.JobQuery) func(*client.SplitError) string {
	return func(se *client.SplitError) string {
		if windows, _ := client.SplitInterval(q.Interval, q.Granularity); q.Granularity == "" && len(windows) > 1 {
			return "its totals are summed across windows: run it again with: " + c.rerun(q.Interval)
		}
		var hints []string
		for _, w := range se.Unfinished {
			if w.JobID == "" {
				hints = append(hints, c.rerun(w.Interval))
			} else {
				hints = append(hints, c.jobResults(w))
			}
		}
		return "unfinished jobs, resume with: " + strings.Join(hints, "; ")
	}
}

// jobResults is the command that reads window w's job.
func (c *conn) jobResults(w client.JobWindow) string {
	args := []string{"gcusage", "jobs", "results", shellQuote(w.JobID)}
	if w.ClientID != "" {
		args = append(args, "--client", shellQuote(w.ClientID))
	}
	c.fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "format", "region", "api-url", "login-url", "page-size":
			args = append(args, "--"+f.Name, shellQuote(f.Value.String()))
		}
	})
	return strings.Join(args, " ")
}

// rerun is this jobs query over interval, with every flag it was given but
// those of the interval and --timeout.
func (c *conn) rerun(interval string) string {
	args := []string{"gcusage", "jobs", "query", "--interval", shellQuote(interval)}
	c.fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "interval", "since", "until", "timeout":
			return
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			args = append(args, "--"+f.Name+"="+f.Value.String())
			return
		}
		args = append(args, "--"+f.Name, shellQuote(f.Value.String()))
	})
	return strings.Join(args, " ")
}

// entityColumn is one flattened field of an entity, for csv and table.
type entityColumn struct {
	name  string
	value func(*client.Entity) string
}

func count(f func(*client.Entity) int64) func(*client.Entity) string {
	return func(e *client.Entity) string { return strconv.FormatInt(f(e), 10) }
}

var entityColumnsAll = []entityColumn{
	{"date", func(e *client.Entity) string {
		if e.Date.IsZero() {
			return ""
		}
		return e.Date.String()
	}},
	{"oauthClient.id", func(e *client.Entity) string { return ifClient(e).ID }},
	{"oauthClient.name", func(e *client.Entity) string { return ifClient(e).Name }},
	{"user.id", func(e *client.Entity) string {
		if e.User == nil {
			return ""
		}
		return e.User.ID
	}},
	{"organizationId", func(e *client.Entity) string { return e.OrganizationID }},
	{"templateUri", func(e *client.Entity) string { return e.TemplateURI }},
	{"httpMethod", func(e *client.Entity) string { return e.HTTPMethod }},
	{"platform", func(e *client.Entity) string { return e.Platform }},
	{"requestCount", count(func(e *client.Entity) int64 { return e.RequestCount })},
	{"status200", count(func(e *client.Entity) int64 { return e.Status200 })},
	{"status300", count(func(e *client.Entity) int64 { return e.Status300 })},
	{"status400", count(func(e *client.Entity) int64 { return e.Status400 })},
	{"status429", count(func(e *client.Entity) int64 { return e.Status429 })},
	{"status500", count(func(e *client.Entity) int64 { return e.Status500 })},
}

func ifClient(e *client.Entity) gen.JobOAuthClient {
	if e.OauthClient == nil {
		return gen.JobOAuthClient{}
	}
	return *e.OauthClient
}

// entityColumns keeps the columns q fills: the date with a granularity,
// the dimensions grouped by (when none is, every dimension of the variant:
// a client's entities have no oauthClient or user, the organization's no
// organizationId), the metrics asked.
func entityColumns(q client.JobQuery) []entityColumn {
	dims := map[string][]string{"OauthClientId": {"oauthClient.id"}, "OauthClientName": {"oauthClient.name"}, "UserId": {"user.id"},
		"OrganizationId": {"organizationId"}, "TemplateUri": {"templateUri"}, "HttpMethod": {"httpMethod"}, "Platform": {"platform"}}
	metrics := map[string]string{"Requests": "requestCount", "Status200": "status200", "Status300": "status300", "Status400": "status400",
		"Status429": "status429", "Status500": "status500"}
	groups := strs(q.GroupBy)
	if q.ClientID != "" {
		groups = strs(q.ClientGroupBy)
	}
	want := map[string]bool{"date": q.Granularity != ""}
	for _, g := range groups {
		for _, n := range dims[g] {
			want[n] = true
		}
	}
	for _, m := range q.Metrics {
		want[metrics[string(m)]] = true
	}
	return slices.DeleteFunc(slices.Clone(entityColumnsAll), func(col entityColumn) bool {
		isMetric := slices.Contains(metricNames(metrics), col.name)
		switch {
		case want[col.name]:
			return false
		case isMetric:
			return len(q.Metrics) > 0
		case col.name == "date":
			return true
		case len(groups) == 0 && q.ClientID == "": // not aggregated: every dimension of the variant
			return col.name == "organizationId"
		case len(groups) == 0: // a client's entities have no oauthClient or user
			return strings.Contains(col.name, ".")
		}
		return true
	})
}

func metricNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// entityWriter prints entities: json and ndjson as the API's objects, csv
// and table flattened.
type entityWriter struct {
	format string
	w      *bufio.Writer
	csv    *csv.Writer
	tab    *tabwriter.Writer
	cols   []entityColumn
	n      int
}

func newEntityWriter(format string, out io.Writer, cols []entityColumn) *entityWriter {
	w := &entityWriter{format: format, w: bufio.NewWriterSize(out, 64<<10), cols: cols}
	switch format {
	case "csv":
		w.csv = csv.NewWriter(w.w)
	case "table":
		w.tab = tabwriter.NewWriter(w.w, 0, 0, 2, ' ', 0)
	}
	return w
}

func (w *entityWriter) cells(e *client.Entity) []string {
	out := make([]string, len(w.cols))
	for i, c := range w.cols {
		out[i] = c.value(e)
		if w.tab != nil {
			out[i] = escape(out[i])
		}
	}
	return out
}

func (w *entityWriter) header() []string {
	out := make([]string, len(w.cols))
	for i, c := range w.cols {
		out[i] = c.name
		if w.tab != nil {
			out[i] = strings.ToUpper(c.name)
		}
	}
	return out
}

func (w *entityWriter) write(e *client.Entity) error {
	first := w.n == 0
	w.n++
	switch w.format {
	case "json", "ndjson":
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		switch {
		case w.format == "ndjson":
		case first:
			w.w.WriteString("[\n")
		default:
			w.w.WriteString(",\n")
		}
		w.w.Write(b)
		if w.format == "ndjson" {
			return w.w.WriteByte('\n')
		}
		return nil
	case "csv":
		if first {
			w.csv.Write(w.header())
		}
		return w.csv.Write(w.cells(e))
	}
	if first {
		fmt.Fprintln(w.tab, strings.Join(w.header(), "\t"))
	}
	_, err := fmt.Fprintln(w.tab, strings.Join(w.cells(e), "\t"))
	return err
}

// flush writes what was written whole, and ends nothing: a json array
// stays open, so that no parser takes a cut run for a whole one.
func (w *entityWriter) flush() {
	if w.csv != nil {
		w.csv.Flush()
	}
	if w.tab != nil {
		w.tab.Flush()
	}
	w.w.Flush()
}

func (w *entityWriter) close() error {
	switch {
	case w.format == "json" && w.n == 0:
		w.w.WriteString("[]\n")
	case w.format == "json":
		w.w.WriteString("\n]\n")
	case w.n == 0 && w.csv != nil:
		w.csv.Write(w.header())
	case w.n == 0 && w.tab != nil:
		fmt.Fprintln(w.tab, strings.Join(w.header(), "\t"))
	}
	w.flush()
	if w.csv != nil {
		if err := w.csv.Error(); err != nil {
			return err
		}
	}
	return w.w.Flush()
}
