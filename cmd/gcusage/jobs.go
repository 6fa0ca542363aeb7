package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/cmd/internal/output"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/internal/fanout"
	"github.com/gcusage/gcusage/usagetest"
)

const jobsLong = `Run a usage query job of the 2025 usage query service and print its
entities. Unlike 'gcusage query', jobs count every request, not only
billable ones, show the OAuth clients of Genesys' own organizations,
filter and page. The API takes at most 90 days starting at most a year
ago: a longer interval is split into windows of whole UTC days, run at
most 4 at a time. With --granularity the entities come window by window;
without one, each group's totals are summed across the windows.

The entities print through the same output as 'gcusage query': the same
columns (an entity's requestCount is the requests column, its oauthClient
the clientId and clientName columns, its user the userId column), dates,
--sort and --top (sorted here, not by the API). json and ndjson print the
API's entity objects. Grouped by OauthClientId alone, the API sends no
client name: add OauthClientName to --group-by for it.

When the wait is cut short (--timeout, Ctrl-C) or an answer cannot be
read, the error says how to pick the run up. With --granularity, or in a
single window, it names a 'gcusage jobs results' command for each job
started and not read, and a 'gcusage jobs query' with every flag of the
run and that window's --interval for each window not started yet.
Without one, or with --sort or --top, the rows of a split run are summed
or sorted across windows: it names the same 'gcusage jobs query' over the
same --interval, to run again whole. Other failures (a refused login, a
4xx, a failed job) would fail the same way: they name what to check
instead.

Jobs over the organization need the permission ` + permJobs + `;
--client jobs need ` + permCJobs + `.`

const jobsExamples = `  gcusage jobs query --demo --since 30d --group-by oauthclientid --granularity week
  gcusage jobs query --since 200d --group-by OauthClientId,HttpMethod --sort requests --top 10 --format csv
  gcusage jobs query --client 2b9c8f4e-... --since 30d --group-by TemplateUri --format ndjson
  id=$(gcusage jobs query --since 30d --no-wait) && gcusage jobs results "$id" --format csv
  gcusage jobs results 6a1f7a52-8c1e-4e0f-9f5e-3d1b2c4a5e6f --format json`

// NewCmdJobs is the jobs group: jobs query, jobs results and jobs help.
func NewCmdJobs(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "jobs <command>",
		Short:   "run a usage query job of the 2025 service (all requests, filters, pages)",
		Long:    jobsLong,
		Example: jobsExamples,
		Args:    unknownCommand,
		RunE: func(c *cobra.Command, _ []string) error {
			return usagef("jobs needs a subcommand: %s (see gcusage jobs --help)", commandList(c))
		},
	}
	cmd.AddCommand(NewCmdJobsQuery(f, nil), NewCmdJobsResults(f, nil), newCmdHelp())
	return cmd
}

// JobsQueryOptions are the flags of gcusage jobs query.
type JobsQueryOptions struct {
	f    *Factory
	Conn ConnOptions
	Out  OutputOptions
	Span SpanOptions

	Granularity, GroupBy, Metrics                                 string
	TemplateURIs, HTTPMethods, Platforms, UserIDs, OAuthClientIDs string
	OrganizationIDs                                               string
	ClientID                                                      string
	PageSize, Concurrency                                         int
}

// NewCmdJobsQuery is gcusage jobs query.
func NewCmdJobsQuery(f *Factory, runF func(*JobsQueryOptions) error) *cobra.Command {
	o := &JobsQueryOptions{f: f}
	cmd := &cobra.Command{
		Use:     "query [flags]",
		Short:   "run a job over an interval, split into windows as needed, and print its entities",
		Long:    jobsLong + profilesHelp + outputHelp,
		Example: jobsExamples,
	}
	fs := cmd.Flags()
	addSpanFlags(fs, &o.Span, "ISO-8601 interval `START/END`, both ends included, starting at most a year ago")
	fs.StringVar(&o.Granularity, "granularity", "", "bucket `size`: "+join(client.Granularities())+" (default none: one total per group)")
	fs.StringVar(&o.GroupBy, "group-by", "", "comma `list` of "+join(client.JobsGroupBys())+"; with --client: "+join(client.ClientJobsGroupBys())+" (default none: not aggregated)")
	fs.StringVar(&o.Metrics, "metrics", "", "comma `list` of "+join(client.Metrics())+" (default all)")
	fs.StringVar(&o.TemplateURIs, "template-uri", "", "only these template URIs (comma `list`)")
	fs.StringVar(&o.HTTPMethods, "http-method", "", "only these HTTP methods (comma `list` of "+join(client.JobsHTTPMethods())+")")
	fs.StringVar(&o.Platforms, "platform", "", "only these platforms (comma `list`)")
	fs.StringVar(&o.UserIDs, "user-id", "", "only these user ids (comma `list`)")
	fs.StringVar(&o.OAuthClientIDs, "oauth-client-id", "", "only these OAuth client ids (comma `list`)")
	fs.StringVar(&o.OrganizationIDs, "organization-id", "", "with --client: only these organization ids (comma `list`)")
	fs.StringVar(&o.ClientID, "client", "", "query one OAuth client's job (`CLIENT_ID`) instead of the organization's")
	fs.IntVar(&o.PageSize, "page-size", 1000, "entities per page, 1 to 1000")
	fs.IntVar(&o.Concurrency, "concurrency", 4, "windows run at once")
	addOutputFlags(cmd, &o.Out, client.Metrics(), rankedByMetrics)
	addConnFlags(fs, &o.Conn)
	addDemoFlag(fs, &o.Conn)
	addProfileFlags(cmd, f, &o.Conn.Profiles, true)
	fs.BoolVar(&o.Conn.NoWait, "no-wait", false, "start the job (an interval of at most 90 days), print its id on stdout and the command that reads it on stderr")
	completeEnum(cmd, "granularity", client.Granularities())
	// --group-by completes the values of a client's job once --client is
	// given, else of either kind, each once.
	cmd.RegisterFlagCompletionFunc("group-by", func(c *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if c.Flags().Changed("client") {
			return completeItem(client.ClientJobsGroupBys(), toComplete)
		}
		return completeItem(append(strs(client.JobsGroupBys()), strs(client.ClientJobsGroupBys())...), toComplete)
	})
	completeList(cmd, "metrics", client.Metrics())
	completeList(cmd, "http-method", client.JobsHTTPMethods())
	leaf(cmd, noArgs("jobs query"), func(c *cobra.Command, _ []string) error {
		if runF != nil {
			return runF(o)
		}
		return jobsQueryRun(c.Context(), o)
	})
	return cmd
}

func jobsQueryRun(ctx context.Context, o *JobsQueryOptions) error {
	f := o.f
	q := client.JobQuery{ClientID: o.ClientID, PageSize: o.PageSize, TemplateURIs: textList(o.TemplateURIs), Platforms: textList(o.Platforms),
		UserIDs: textList(o.UserIDs), OAuthClientIDs: textList(o.OAuthClientIDs), OrganizationIDs: textList(o.OrganizationIDs)}
	var note string
	err := checkPageSize(o.PageSize)
	if err != nil {
		return err
	}
	if q.Interval, note, err = o.Span.interval(f.Now()); err != nil {
		return err
	}
	if q.ClientID == "" {
		q.GroupBy, err = parseList("group-by", o.GroupBy, client.JobsGroupBys())
	} else {
		q.ClientGroupBy, err = parseList("group-by", o.GroupBy, client.ClientJobsGroupBys())
	}
	if err != nil {
		return err
	}
	if q.Metrics, err = parseList("metrics", o.Metrics, client.Metrics()); err != nil {
		return err
	}
	if len(q.Metrics) > 0 {
		o.Out.counts = q.Metrics
	}
	if q.HTTPMethods, err = parseList("http-method", o.HTTPMethods, client.JobsHTTPMethods()); err != nil {
		return err
	}
	if q.Granularity, err = parseGranularity(o.Granularity); err != nil {
		return err
	}
	if err := q.Validate(f.Now()); err != nil {
		return err
	}
	windows, err := client.SplitInterval(q.Interval, q.Granularity)
	if err != nil {
		return err
	}
	if o.Conn.NoWait && len(windows) > 1 {
		return usagef("--no-wait starts one job, and %s needs %d (at most 90 days each): give a shorter interval", q.Interval, len(windows))
	}
	wo, err := o.Out.writerOptions(entityColumns(q))
	if err != nil {
		return err
	}
	o.Conn.again = []string{"gcusage", "jobs", "query", "--interval", shellQuote(q.Interval)}
	run, done, err := f.connectRun(&o.Conn, wo, func(*usagetest.Server) string { return "interval " + q.Interval })
	if err != nil {
		return err
	}
	defer done()
	if note != "" {
		f.note(&o.Conn, "note: "+note)
	}
	if o.Conn.NoWait {
		return run.startJob(ctx, q)
	}
	// A split run whose rows are summed or sorted across windows is run
	// again whole; one whose rows come window by window, window by
	// window.
	whole := len(windows) > 1 && (q.Granularity == "" || wo.SortBy != 0)
	resume := func(se *client.SplitError) string {
		switch {
		case whole && q.Granularity == "":
			return "its totals are summed across windows: run it again with: " + o.rerun(q.Interval)
		case whole:
			return "its rows are sorted across windows: run it again with: " + o.rerun(q.Interval)
		}
		var hints []string
		for _, w := range se.Unfinished {
			switch {
			case w.MaybeStarted:
				// Its POST's answer was lost: running it again may count
				// its window twice against the rate limit, not in the rows.
				hints = append(hints, o.rerun(w.Interval)+" (its job may have started already)")
			case w.JobID == "":
				hints = append(hints, o.rerun(w.Interval))
			default:
				hints = append(hints, jobResults(&o.Conn, w))
			}
		}
		return "unfinished jobs, resume with: " + strings.Join(hints, "; ")
	}
	return run.jobs(ctx, func(ctx context.Context, cl *client.Client) iter.Seq2[client.Entity, error] {
		return cl.RunJobs(ctx, q, client.JobOptions{Concurrency: o.Concurrency, OnStart: func(w client.JobWindow) {
			f.note(&o.Conn, profileLabel(ctx)+"job "+w.JobID+" started for "+w.Interval)
		}})
	}, resume)
}

// startJob starts the job of q, of one window, and prints its id alone on
// stdout, and on stderr the command that reads it: --no-wait.
func (r *rowsRun) startJob(ctx context.Context, q client.JobQuery) error {
	cl, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.conn.bound(ctx)
	defer cancel()
	j, err := cl.StartJob(ctx, q)
	if err != nil {
		return r.hint(err)
	}
	if _, err := fmt.Fprintln(r.f.Stdout, output.Escape(j.ID)); err != nil {
		return err
	}
	r.f.note(r.conn, "job "+j.ID+" started; read it with: "+jobResults(r.conn, client.JobWindow{JobID: j.ID, ClientID: j.ClientID}))
	return nil
}

// jobs prints the entities of rows within --timeout. A run cut short
// names what picks it up again: resume(se) gives those commands.
func (r *rowsRun) jobs(ctx context.Context, rows func(context.Context, *client.Client) iter.Seq2[client.Entity, error], resume func(*client.SplitError) string) error {
	if r.fleet != nil {
		return r.fanOut(ctx, func(ctx context.Context, t *fanout.Task, o *org, sink *fanout.Sink[output.Row]) error {
			return sink.Drain(t.Name, entityRows(rows(ctx, o.client)))
		}, func(o *rowsRun, out fanout.Outcome) error { return o.explainJobs(out.Err, resume) })
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.conn.bound(withProfile(ctx, r.profile))
	defer cancel()
	return r.explainJobs(r.print(entityRows(rows(ctx, cl))), resume)
}

// entityRows are a job's entities as the output layer takes them.
func entityRows(entities iter.Seq2[client.Entity, error]) iter.Seq2[output.Row, error] {
	return func(yield func(output.Row, error) bool) {
		for e, err := range entities {
			if !yield(output.FromEntity(e), err) {
				return
			}
		}
	}
}

// explainJobs adds to err, the failure of a run of jobs, what to do next:
// resume(se) for a run cut short, else what to check.
func (r *rowsRun) explainJobs(err error, resume func(*client.SplitError) string) error {
	var se *client.SplitError
	switch {
	case err == nil || errors.Is(err, errOutput):
		return err
	case r.conn.Demo || !resumable(err) || !errors.As(err, &se):
		return r.hint(err)
	}
	return resumeHint{fmt.Errorf("%w; %s", err, resume(se))}
}

// jobResults is the command that reads window w's job.
func jobResults(c *ConnOptions, w client.JobWindow) string {
	cmd := []string{"gcusage", "jobs", "results", shellQuote(w.JobID)}
	if w.ClientID != "" {
		cmd = append(cmd, "--client", shellQuote(w.ClientID))
	}
	return rerun(cmd, c, oneOf(resumeFlags...))
}

// rerun is this jobs query over interval, with every flag it was given but
// those of the interval and --timeout.
func (o *JobsQueryOptions) rerun(interval string) string {
	c := o.Conn
	c.again = []string{"gcusage", "jobs", "query", "--interval", shellQuote(interval)}
	return again(&c)
}

// jobColumns maps the dimensions of both variants of a job, by name, to
// the columns they fill.
var jobColumns = map[string][]output.Column{
	"OauthClientId": {output.ClientID, output.ClientName}, "OauthClientName": {output.ClientName}, "UserId": {output.UserID},
	"OrganizationId": {output.OrganizationID}, "TemplateUri": {output.TemplateURI}, "HttpMethod": {output.HTTPMethod}, "Platform": {output.Platform},
}

// entityColumns are the columns q's entities fill: the dimensions grouped
// by (when none is, every dimension of the variant: a client's entities
// have no oauthClient or user, the organization's no organizationId), the
// date with a granularity, the metrics asked for. Grouped by OauthClientId,
// the columns are those of a legacy query grouped by OAuthClientId, so
// that the two print the same header.
func entityColumns(q client.JobQuery) []output.Column {
	groups := strs(q.GroupBy)
	switch {
	case q.ClientID != "" && len(q.ClientGroupBy) > 0:
		groups = strs(q.ClientGroupBy)
	case q.ClientID != "": // not aggregated: every dimension of a client's entities
		groups = strs(client.ClientJobsGroupBys())
	case len(groups) == 0: // of the organization's
		groups = strs(client.JobsGroupBys())
	}
	var cols []output.Column
	for _, g := range groups {
		cols = append(cols, jobColumns[g]...)
	}
	if q.Granularity != "" {
		cols = append(cols, output.Date)
	}
	return append(cols, metricCols(q.Metrics)...)
}

// allEntityColumns are the columns of a job read again, whose query is not
// known: every field of both variants.
func allEntityColumns() []output.Column {
	return append(entityColumns(client.JobQuery{Granularity: gen.GranularityDay}), output.OrganizationID)
}

// JobsResultsOptions are the flags and argument of gcusage jobs results.
type JobsResultsOptions struct {
	f    *Factory
	Conn ConnOptions
	Out  OutputOptions

	JobID, ClientID string
	PageSize        int
}

// NewCmdJobsResults is gcusage jobs results.
func NewCmdJobsResults(f *Factory, runF func(*JobsResultsOptions) error) *cobra.Command {
	o := &JobsResultsOptions{f: f}
	cmd := &cobra.Command{
		Use:     "results JOB_ID [--client CLIENT_ID] [flags]",
		Short:   "read a job started earlier and print its entities",
		Long:    "Wait for a job started earlier (by 'gcusage jobs query --no-wait', or named in the hint of a run cut short) and print its entities. Its query is not known here, so the table and csv show every column an entity can fill. A job id belongs to the organization and the region that started it; a client's job is read with its --client.\n\n" + jobsLong + outputHelp,
		Example: jobsExamples,
	}
	fs := cmd.Flags()
	fs.StringVar(&o.ClientID, "client", "", "the OAuth client (`CLIENT_ID`) of a client's job")
	fs.IntVar(&o.PageSize, "page-size", 1000, "entities per page, 1 to 1000")
	addOutputFlags(cmd, &o.Out, client.Metrics(), "Requests")
	addConnFlags(fs, &o.Conn)
	addProfileFlags(cmd, f, &o.Conn.Profiles, false)
	leaf(cmd, oneID("jobs results", "job id"), func(c *cobra.Command, a []string) error {
		o.JobID = a[0]
		if runF != nil {
			return runF(o)
		}
		return jobsResultsRun(c.Context(), o)
	})
	return cmd
}

func jobsResultsRun(ctx context.Context, o *JobsResultsOptions) error {
	if err := checkPageSize(o.PageSize); err != nil {
		return err
	}
	wo, err := o.Out.writerOptions(allEntityColumns())
	if err != nil {
		return err
	}
	run, done, err := o.f.connectRun(&o.Conn, wo, nil)
	if err != nil {
		return err
	}
	defer done()
	w := client.JobWindow{JobID: o.JobID, ClientID: o.ClientID}
	split := func(err error) error {
		return &client.SplitError{Window: w, Unfinished: []client.JobWindow{w}, Err: err}
	}
	return run.jobs(ctx, func(ctx context.Context, cl *client.Client) iter.Seq2[client.Entity, error] {
		return func(yield func(client.Entity, error) bool) {
			j := cl.Job(o.ClientID, o.JobID)
			j.PageSize = o.PageSize
			res, err := j.Wait(ctx)
			if err != nil {
				yield(client.Entity{}, split(err))
				return
			}
			for e, err := range res.Rows() {
				if err != nil {
					err = split(err)
				}
				if !yield(e, err) {
					return
				}
			}
		}
	}, func(*client.SplitError) string { return "resume with: " + jobResults(&o.Conn, w) })
}
