package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/cmd/internal/output"
	"github.com/gcusage/gcusage/cmd/internal/profiles"
	"github.com/gcusage/gcusage/cmd/internal/report"
	"github.com/gcusage/gcusage/internal/fanout"
	"github.com/gcusage/gcusage/usagetest"
)

const reportLong = `Write the organization's API usage over an interval as one HTML file: the
requests of each day stacked by OAuth client, the 429s the rate limit gave,
the errors, and the top clients and endpoints, with the interval's totals.
The file is self-contained: it opens offline and loads nothing from
anywhere. docs/report.md says how each number is computed.

The interval is whole UTC days, both ends included: --interval START/END
(2024-01-01/2024-03-31), or --since and --until (a number of days back
from today, such as 30d, or a date); by default the last 30 full UTC days. Usage is counted up to
the end of yesterday (UTC): an interval that reaches into today or later is
cut to end yesterday, with a note on stderr, and one that starts today or
later is refused.

The file is gcusage-report-FIRST-to-LAST.html in the current directory, or
--out FILE; a note on stderr names it, and which service counted the
numbers (--quiet leaves it out). An existing file is never replaced: the
command exits 2 before anything is sent. A run that fails leaves no file:
the page is written to a temporary file beside it, renamed when whole.
--open then opens it in the default browser; a browser that cannot be
opened is a warning, not a failure.

The numbers come from two queries, by day and OAuth client and by endpoint
and method, of the legacy usage query, which counts billable requests
only; --jobs runs them as usage query jobs of the 2025 service, which count
every request and show Genesys' own OAuth clients. The two do not count
the same requests: the page says which one counted them. --demo runs
against an in-process stub with sample data, no account needed.

Credentials come from the environment, as for 'gcusage query', or from
profiles. They need the permission ` + permOrg + `
(--jobs: ` + permJobs + `).

--profile NAME takes the credentials and the environment from that
profile of --config (default ~/.gc/config.toml, which 'gc profiles new'
writes) and makes the same report of that organization. --profile a,b,c
or --all-profiles makes one report of several, --parallel (4) at a time,
each with its own client: first a section across all of them, in which
each organization's OAuth clients stay apart, labelled "profile / client
name", then a section per organization, with its API host. One org
failing stops no other: its section says why and counts nowhere, the file
is written with the orgs that finished (interrupted too), and stderr ends
with each org that did not, why, and the command that makes its report
alone, into a file of its own (FILE-PROFILE.html); the run exits 1 (130
when interrupted). --region, --api-url and --login-url apply to every
profile; the GENESYSCLOUD_* variables are ignored. With --demo the
built-in demo profiles (demo-prod, demo-test, demo-sandbox) need no file.
See docs/report.md and docs/profiles.md.`

const reportExamples = `  gcusage report --demo --open
  gcusage report --since 90d --out usage-q1.html
  gcusage report --interval 2024-01-01/2024-03-31 --jobs
  gcusage report --demo --all-profiles --open
  gcusage report --all-profiles --config partner.toml --since 90d --out partner.html`

// reportDays is the report's interval when no flag names one.
const reportDays = 30

// ReportOptions are the flags of gcusage report.
type ReportOptions struct {
	f    *Factory
	Conn ConnOptions
	Span SpanOptions

	Out  string // the file; "" for report.DefaultName
	Open bool   // in the default browser, once written
	Jobs bool   // count with the 2025 jobs service
}

// NewCmdReport is gcusage report. runF, when a test gives one, gets the
// options in place of the run.
func NewCmdReport(f *Factory, runF func(*ReportOptions) error) *cobra.Command {
	o := &ReportOptions{f: f}
	cmd := &cobra.Command{
		Use:     "report [flags]",
		Short:   "write the API usage of an interval as one HTML file of charts and tables",
		Long:    reportLong,
		Example: reportExamples,
	}
	fs := cmd.Flags()
	addSpanFlags(fs, &o.Span, "the UTC days `START/END`, both included, such as 2024-01-01/2024-03-31")
	// Whole days only: the forms of --since and --until that name one.
	fs.Lookup("since").Usage = "start: a number of `days` back from today (30d) or a date (2024-01-31)"
	fs.Lookup("until").Usage = "end: a `date`, included (2024-01-31), or a number of days back from today, as for --since (default: the end of yesterday)"
	fs.StringVar(&o.Out, "out", "", "write the report to this `file`, which must not exist (default gcusage-report-FIRST-to-LAST.html)")
	fs.BoolVar(&o.Open, "open", false, "open the report in the default browser once written")
	fs.BoolVar(&o.Jobs, "jobs", false, "count with the usage query jobs of 2025, which count every request, not only billable ones")
	addConnFlags(fs, &o.Conn)
	fs.Lookup("timeout").Usage = "give up after this long, with no file written; 0 waits until interrupted"
	addDemoFlag(fs, &o.Conn)
	addProfileFlags(cmd, f, &o.Conn.Profiles, true)
	fs.Lookup("profile").Usage = "make the report with the credentials and environment of profile `NAME` of --config; a comma list makes one report of several, a section each, --parallel at a time"
	fs.Lookup("all-profiles").Usage = "make one report of every profile of --config, a section each, --parallel at a time"
	cmd.MarkFlagFilename("out", "html")
	leaf(cmd, noArgs("report"), func(c *cobra.Command, _ []string) error {
		if runF != nil {
			return runF(o)
		}
		return reportRun(c.Context(), o)
	})
	return cmd
}

// reportRun checks every flag and the file's name before anything is sent,
// collects the rows into a builder and writes the file; over several
// profiles, each org's rows into its section (reportOrgs).
func reportRun(ctx context.Context, o *ReportOptions) error {
	f := o.f
	now := f.Now()
	first, last, note, err := o.Span.days(now, reportDays)
	if err != nil {
		return err
	}
	svc := report.Legacy
	if o.Jobs {
		svc = report.Jobs
		byDay, _ := report.JobQueries(first, last)
		if err := byDay.Validate(now); err != nil { // a start more than a year ago
			return err
		}
	}
	m := report.Meta{First: first, Last: last, Service: svc, Made: now, Version: client.Version}
	if err := m.Check(); err != nil { // an interval longer than a report covers
		return &usageError{err.Error()}
	}
	path := cmp.Or(o.Out, report.DefaultName(m))
	if err := report.CheckPath(path); err != nil {
		if o.Out == "" {
			err = fmt.Errorf("%w; --out names another", err)
		}
		return &usageError{err.Error()}
	}
	o.Conn.again = []string{"gcusage", "report", "--interval", client.Days(first, last)}
	r, done, err := f.connectRun(&o.Conn, output.Options{}, func(*usagetest.Server) string { return "report of " + client.Days(first, last) })
	if err != nil {
		return err
	}
	defer done()
	if note != "" {
		f.note(&o.Conn, "note: "+note)
	}
	if r.fleet != nil {
		return o.reportOrgs(ctx, r, m, path)
	}
	m.Host = f.apiHost(&o.Conn)
	if r.profile != nil {
		m.Host = f.profileHost(&o.Conn, r.profile)
	}
	b, err := report.NewBuilder(m, report.Limits{})
	if err != nil {
		return err
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	if err := o.collect(ctx, r, cl, b); err != nil {
		return err
	}
	return o.write(path, b.Report(), "")
}

// reportOrgs makes the report of the orgs of a run over several profiles:
// a section per org, with its host, into which its rows stream from its
// own client, --parallel orgs at a time, and the section across all. One
// org failing stops no other: its section says why, and counts nowhere.
// The file is written with the orgs that finished, if any did, even when
// the run was interrupted, so that what finished is kept and the commands
// on stderr, one per org that did not, make the rest: each makes that
// org's report alone, in a file of its own beside this one.
func (o *ReportOptions) reportOrgs(ctx context.Context, r *rowsRun, m report.Meta, path string) error {
	f := o.f
	if o.Conn.Demo || o.Conn.APIURL != "" {
		m.Host = f.apiHost(&o.Conn) // every org's
	}
	b, err := report.NewBuilder(m, report.Limits{})
	if err != nil {
		return err
	}
	for i := range r.fleet.orgs {
		p := &r.fleet.orgs[i].profile
		b.Section(p.Name).SetHost(f.profileHost(&o.Conn, p))
	}
	outs := r.runOrgs(ctx, func(ctx context.Context, t *fanout.Task, org *org) error {
		return report.Collect(ctx, org.client, b.Section(t.Name))
	})
	r.fleet.progress.stop()
	fails := r.unfinished(outs, func(string) int { return 0 }, func(one *rowsRun, out fanout.Outcome) error {
		return resumeHint{fmt.Errorf("%w; run it again with: %s", one.hint(out.Err), o.again(path))}
	})
	for _, fl := range fails {
		b.Section(fl.name).Fail(fl.why)
	}
	var werr error
	if len(fails) < len(outs) {
		in := fmt.Sprintf(" in %d organizations", len(outs))
		if len(fails) > 0 {
			in = fmt.Sprintf(" in %d of %d organizations", len(outs)-len(fails), len(outs))
		}
		werr = o.write(path, b.Report(), in)
	}
	// Stderr ends with the orgs that did not finish, as every command's
	// run over several profiles does; a file that could not be written
	// is the error, said last.
	if err := r.summary(fails); werr == nil {
		return err
	}
	return werr
}

// write writes the report to path, says so (in, " in 3 organizations",
// after the count of OAuth clients), and opens it with --open.
func (o *ReportOptions) write(path string, r *report.Report, in string) error {
	if err := report.WriteFile(path, r); err != nil {
		return err
	}
	m, all := r.Meta, r.Sections[0]
	o.f.note(&o.Conn, fmt.Sprintf("wrote %s: %d UTC days, %s to %s, %d requests of %d OAuth clients%s, counted by %s",
		path, m.Days(), m.First.Format(time.DateOnly), m.Last.Format(time.DateOnly), all.Totals.Requests, len(all.Clients), in, m.Service.Describe()))
	if o.Open {
		o.f.open(path)
	}
	return nil
}

// again is the command that makes the report of the profile being
// explained (ProfileOptions.as) alone, over the same interval, in a file
// of its own beside path, which is taken: see orgPath.
func (o *ReportOptions) again(path string) string {
	c := o.Conn
	c.again = append(slices.Clone(c.again), "--out", shellQuote(orgPath(path, c.Profiles.one())))
	return rerun(c.again, &c, func(name string) bool { return !oneOf("interval", "since", "until", "timeout", "out")(name) })
}

// orgPath is the file of profile's report alone, beside path, the report
// of several: path with the profile's name before its extension, in
// letters, digits, '-', '_' and '.' only (gcusage-report-…-acme-prod.html).
func orgPath(path, profile string) string {
	ext := filepath.Ext(path)
	name := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.", r) {
			return r
		}
		return '_'
	}, profile)
	return strings.TrimSuffix(path, ext) + "-" + name + ext
}

// collect runs the report's two queries through cl within --timeout and
// adds their rows to to. A failure would fail the same way when run
// again, or needs a longer --timeout: no resume applies to two queries.
func (o *ReportOptions) collect(ctx context.Context, r *rowsRun, cl *client.Client, to report.Adder) error {
	f := o.f
	bounded, cancel := o.Conn.bound(withProfile(ctx, r.profile))
	defer cancel()
	err := report.Collect(bounded, cl, to)
	f.clearProgress(&o.Conn)
	switch {
	case err == nil:
		return nil
	case ctx.Err() == nil && errors.Is(bounded.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w; run it again with a --timeout longer than %s", err, o.Conn.Timeout)
	}
	return r.hint(err)
}

// profileHost names, for the report's header, where the numbers of
// profile p's org come from: the host of --api-url (the stub for --demo),
// else the region key of --region or of p's environment, or the API host
// of a domain that is no region's.
func (f *Factory) profileHost(c *ConnOptions, p *profiles.Profile) string {
	if c.Demo || c.APIURL != "" {
		return f.apiHost(c)
	}
	api, _, err := p.Endpoints(profiles.Overrides{Region: c.Region})
	if err != nil { // checked when its client was built
		return ""
	}
	host := strings.TrimPrefix(api, "https://")
	if r, ok := client.LookupRegion(strings.TrimPrefix(host, "api.")); ok {
		return r.Key
	}
	return host
}

// apiHost names where the numbers come from, for the report's header:
// the host of --api-url, else the region's key; the stub for --demo.
func (f *Factory) apiHost(c *ConnOptions) string {
	switch {
	case c.Demo:
		return "in-process stub (demo data)"
	case c.APIURL != "":
		if u, err := url.Parse(c.APIURL); err == nil && u.Host != "" {
			return u.Host
		}
		return c.APIURL
	}
	if r, ok := client.LookupRegion(cmp.Or(c.Region, f.Getenv(regionVar))); ok {
		return r.Key
	}
	return ""
}

// open opens the report at path in the default browser. A failure is a
// warning, even with --quiet: the report is written all the same.
func (f *Factory) open(path string) {
	abs, err := filepath.Abs(path)
	if err == nil {
		if f.OpenInBrowser == nil {
			err = errors.New("no browser opener")
		} else {
			err = f.OpenInBrowser(abs)
		}
	}
	if err != nil {
		fmt.Fprintln(f.Stderr, output.Escape(fmt.Sprintf("gcusage: warning: could not open %s in a browser (%v): open it yourself", path, err)))
	}
}

// openInBrowser opens path in the default browser with the system's opener:
// open on macOS, the URL handler of rundll32 on Windows, xdg-open on Linux
// and elsewhere. An opener that fails within a few seconds is an error; one
// still running then, as some run the browser in the foreground, is left
// to it.
func openInBrowser(path string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", path)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", path)
	default:
		cmd = exec.Command("xdg-open", path)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			return fmt.Errorf("%s: %w", cmd.Args[0], err)
		}
	case <-time.After(5 * time.Second):
	}
	return nil
}
