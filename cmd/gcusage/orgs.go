package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/cmd/internal/output"
	"github.com/gcusage/gcusage/internal/fanout"
)

// orgWork is one org's part of a run over several profiles: it writes the
// org's rows into sink under its profile's name, and records in t what
// resumes it.
type orgWork func(ctx context.Context, t *fanout.Task, o *org, sink *fanout.Sink[output.Row]) error

// fanOut runs work in every org of the fleet (see runOrgs) and prints
// their rows as they come, one whole row at a time, into one output whose
// first column is the profile (see orgColumns). Once all have ended,
// stderr says of each org that did not end well why and what picks it up
// (see unfinished).
func (r *rowsRun) fanOut(ctx context.Context, work orgWork, explain func(one *rowsRun, o fanout.Outcome) error) error {
	fl := r.fleet
	opts, orgCol := orgColumns(r.out)
	stdout := r.f.Stdout
	if f, ok := stdout.(*os.File); ok && fl.progress.tty != nil && term.IsTerminal(int(f.Fd())) {
		stdout = fl.progress.around(stdout)
	}
	w := output.New(stdout, opts)
	sink := fanout.NewSink(func(name string, row output.Row) error {
		row.Profile = name
		if orgCol {
			row.Org = row.OrganizationID
		}
		if err := w.Write(&row); err != nil {
			return outputError{err}
		}
		return nil
	})
	outs := r.runOrgs(ctx, func(ctx context.Context, t *fanout.Task, o *org) error { return work(ctx, t, o, sink) })

	// An org cut short after some of its rows leaves the output as a
	// single org's rows breaking off do: without the end that would pass
	// it for whole. An org that printed nothing is only missing, as
	// stderr says. When no org finished and none printed a row, stdout
	// stays empty, as a single org's failure leaves it: a header and a
	// TOTAL of 0 would pass for an answer.
	err := sink.Err()
	if err == nil {
		switch {
		case slices.ContainsFunc(outs, func(o fanout.Outcome) bool { return o.State != fanout.Done && sink.Rows(o.Name) > 0 }):
			err = w.Abort()
		case !slices.ContainsFunc(outs, func(o fanout.Outcome) bool { return o.State == fanout.Done }):
		default:
			err = w.Close()
		}
		if err != nil {
			err = outputError{err}
		}
	}
	fl.progress.stop()
	if err != nil {
		return err
	}
	return r.summary(r.unfinished(outs, sink.Rows, explain))
}

// runOrgs runs work in every org of the fleet, --parallel at a time, all
// within --timeout, and returns how each ended. One org failing stops no
// other.
func (r *rowsRun) runOrgs(ctx context.Context, work func(context.Context, *fanout.Task, *org) error) []fanout.Outcome {
	fl := r.fleet
	names := make([]string, len(fl.orgs))
	for i, o := range fl.orgs {
		names[i] = o.profile.Name
	}
	run := fanout.Options{Limit: r.conn.Profiles.Parallel, OnStart: fl.progress.start, OnDone: fl.progress.end}
	ctx, cancel := r.conn.bound(ctx)
	defer cancel()
	return fanout.Run(ctx, names, run, func(ctx context.Context, t *fanout.Task) error {
		o := &fl.orgs[t.Index]
		return work(withProfile(ctx, &o.profile), t, o)
	})
}

// orgFailure is an org that did not end well, and why: what stderr says
// of it after its name.
type orgFailure struct {
	name, why string
}

// unfinished says of each org of outs that did not end well why, as a run
// of that org alone would say it (explain), and what picks it up: the
// command that resumes it, or that runs it again. rows counts the rows of
// an org printed.
func (r *rowsRun) unfinished(outs []fanout.Outcome, rows func(name string) int, explain func(*rowsRun, fanout.Outcome) error) []orgFailure {
	var fails []orgFailure
	for _, o := range outs {
		if o.State != fanout.Done {
			fails = append(fails, orgFailure{o.Name, r.why(o, rows(o.Name), explain)})
		}
	}
	return fails
}

// summary prints a line per org that did not end well, and returns the
// error that counts them, or nil when every org ended well.
func (r *rowsRun) summary(fails []orgFailure) error {
	if len(fails) == 0 {
		return nil
	}
	names := make([]string, len(fails))
	for i, fl := range fails {
		names[i] = fl.name
		fmt.Fprintln(r.f.Stderr, output.Escape(errorLine("profile "+fl.name+": "+fl.why)))
	}
	return fmt.Errorf("%d of %d profiles did not finish: %s (why, and what picks each one up, above)", len(fails), len(r.fleet.orgs), strings.Join(names, ", "))
}

// why says why org o did not end well (rows of its rows printed), and what
// picks it up: explain's hint for a run of that org alone, or else the
// command that runs it again.
func (r *rowsRun) why(o fanout.Outcome, rows int, explain func(*rowsRun, fanout.Outcome) error) string {
	one := *r
	one.fleet, one.profile = nil, &r.fleet.orgs[o.Index].profile
	r.conn.Profiles.as = o.Name // the hints name this profile alone
	defer func() { r.conn.Profiles.as = "" }()
	err := explain(&one, o)
	// As run says it, without the "gcusage: " in front: the line that
	// names the profile has its own, and the report needs none.
	msg := strings.TrimPrefix(errorLine(errorText(err, r.conn.flags)), "gcusage: ")
	switch {
	case o.State == fanout.NotStarted:
		msg = "not started: " + msg
	case rows > 0: // said first: the line ends with a command to paste
		msg = fmt.Sprintf("%d of its rows printed, then: %s", rows, msg)
	}
	if !errors.As(err, new(resumeHint)) {
		msg += "; run it again with: " + again(r.conn)
	}
	return msg
}

// orgColumns are the columns of rows merged from several profiles: the
// profile first and, where the rows carry organizationId, the org (their
// organizationId) in place of the organizationId column, which it repeats.
// json and ndjson objects get "profile" and "org" keys in front of the
// API's own.
func orgColumns(o output.Options) (_ output.Options, org bool) {
	cols := slices.Clone(o.Columns)
	if i := slices.Index(cols, output.OrganizationID); i >= 0 {
		cols[i], org = output.Org, true
	}
	o.Columns = append(cols, output.Profile)
	return o, org
}

// legacyWork is one org's part of a query, a summary or a search, as
// fanout.Execution runs it.
func (r *rowsRun) legacyWork(start func(context.Context, *client.Client) (*client.Execution, error)) orgWork {
	return func(ctx context.Context, t *fanout.Task, o *org, sink *fanout.Sink[output.Row]) error {
		res, err := fanout.Execution(ctx, t, func(ctx context.Context) (*client.Execution, error) { return start(ctx, o.client) }, sink, output.FromLegacy)
		if err == nil && res.Capped() {
			r.capped(profileLabel(ctx))
		}
		return err
	}
}

// orgsProgress is the progress line of a run over several orgs, on a
// terminal: how many are done, running and failed, and the last retry, so
// that orgs' polls never garble one line. Writes to stdout or stderr
// through around, which the orgs make at once, go one at a time, and
// clear the line first and draw it again after. Without a terminal (a nil
// tty) it only serializes them.
type orgsProgress struct {
	mu                           sync.Mutex
	tty                          io.Writer
	total, running, done, failed int
	retry                        string
	shown, stopped               bool
	midLine                      bool // the last write around the line ended inside a line: draw nothing until it ends
}

func newOrgsProgress(tty io.Writer, total int) *orgsProgress {
	return &orgsProgress{tty: tty, total: total}
}

// start and end are fanout.Options' OnStart and OnDone.
func (p *orgsProgress) start(string) { p.update(func() { p.running++ }) }

func (p *orgsProgress) end(o fanout.Outcome) {
	p.update(func() {
		if o.State != fanout.NotStarted {
			p.running--
		}
		p.done++
		if o.State != fanout.Done {
			p.failed++
		}
	})
}

// retried shows what failed last, and which attempt comes next.
func (p *orgsProgress) retried(msg string) { p.update(func() { p.retry = msg }) }

func (p *orgsProgress) update(change func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	change()
	p.draw()
}

// draw shows the line; the caller holds p.mu.
func (p *orgsProgress) draw() {
	if p.tty == nil || p.stopped || p.midLine {
		return
	}
	text := fmt.Sprintf("gcusage: %d of %d profiles done, %d running", p.done, p.total, p.running)
	if p.failed > 0 {
		text += fmt.Sprintf(", %d failed", p.failed)
	}
	if p.retry != "" {
		text += "; " + p.retry
	}
	fmt.Fprint(p.tty, "\r\x1b[K"+output.Escape(text))
	p.shown = true
}

// clear takes the line away; the caller holds p.mu.
func (p *orgsProgress) clear() {
	if p.shown {
		fmt.Fprint(p.tty, "\r\x1b[K")
		p.shown = false
	}
}

// stop takes the line away for good.
func (p *orgsProgress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	p.stopped = true
}

// around returns w, whose every write clears the line first and draws it
// again after, once the write ends a line.
func (p *orgsProgress) around(w io.Writer) io.Writer { return aroundLine{p, w} }

type aroundLine struct {
	p *orgsProgress
	w io.Writer
}

func (a aroundLine) Write(b []byte) (int, error) {
	p := a.p
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	n, err := a.w.Write(b)
	if len(b) > 0 {
		p.midLine = !bytes.HasSuffix(b, []byte("\n"))
	}
	p.draw()
	return n, err
}
