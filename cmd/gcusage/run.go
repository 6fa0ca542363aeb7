package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/cmd/internal/output"
	"github.com/gcusage/gcusage/cmd/internal/profiles"
	"github.com/gcusage/gcusage/internal/fanout"
)

// rowsRun is what every command that prints rows does, whichever service
// the rows come from: the connection, how to print, and the command that
// picks a run cut short up again.
type rowsRun struct {
	f    *Factory
	conn *ConnOptions
	out  output.Options
	opts []client.Option

	// With profiles (profiles.go): the one profile named and its client,
	// built already; or the orgs of a run over several (orgs.go).
	cl      *client.Client
	profile *profiles.Profile
	fleet   *fleet
}

// client returns the client the run was given, or builds it from opts.
func (r *rowsRun) client() (*client.Client, error) {
	if r.cl != nil {
		return r.cl, nil
	}
	return r.f.newClient(r.conn, r.opts)
}

// execute builds the client, gets the execution from start, waits for it
// and prints its rows, all within --timeout. A wait cut short names the
// command that resumes it.
func (r *rowsRun) execute(ctx context.Context, start func(context.Context, *client.Client) (*client.Execution, error), resume func(id string) string) error {
	if r.fleet != nil {
		return r.fanOut(ctx, r.legacyWork(start), func(o *rowsRun, out fanout.Outcome) error {
			return o.explain(out.Err, out.Resume, resume)
		})
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.conn.bound(withProfile(ctx, r.profile))
	defer cancel()
	exec, err := start(ctx, cl)
	if err != nil {
		return r.hint(err)
	}
	if r.conn.NoWait {
		if _, err := fmt.Fprintln(r.f.Stdout, output.Escape(exec.ID)); err != nil {
			return err
		}
		r.f.note(r.conn, "execution "+exec.ID+" started; wait for it with: "+resume(exec.ID))
		return nil
	}
	res, err := exec.Wait(ctx)
	r.f.clearProgress(r.conn)
	if err == nil {
		err = r.print(legacyRows(res))
	}
	if err == nil && res.Capped() {
		r.capped("")
	}
	return r.explain(err, exec.ID, resume)
}

// capped warns, however --quiet, that a search's rows may be a part only;
// label names the profile of a run over several.
func (r *rowsRun) capped(label string) {
	fmt.Fprintf(r.f.Stderr, "gcusage: %swarning: the search stopped at the API's cap of %d records, so the rows may be a part only: narrow the interval or add filters\n", label, client.MaxSearchRecords)
}

// explain adds to err, the failure of execution id (of its start when id
// is ""), what to do next: the command that resumes it, or what to check.
func (r *rowsRun) explain(err error, id string, resume func(id string) string) error {
	switch {
	case err == nil || errors.Is(err, errOutput):
		return err
	case id == "" || r.conn.Demo:
	case resumable(err) && errors.As(err, new(*client.DecodeError)):
		return resumeHint{fmt.Errorf("%w; read it again with: %s", err, resume(id))}
	case resumable(err):
		return resumeHint{fmt.Errorf("%w; resume with: %s", err, resume(id))}
	case errors.Is(err, client.ErrQueryFailed):
		return fmt.Errorf("%w; start a new query: this one would fail again", err)
	}
	return r.hint(err)
}

// resumeHint is an error whose text names the commands that pick the run
// up where it stopped.
type resumeHint struct{ error }

func (h resumeHint) Unwrap() error { return h.error }

// legacyRows are the rows of a legacy query, a summary or a search, as the
// output layer takes them; the Result is closed when they end.
func legacyRows(res *client.Result) iter.Seq2[output.Row, error] {
	return func(yield func(output.Row, error) bool) {
		defer res.Close()
		for row, err := range res.Rows() {
			if !yield(output.FromLegacy(row), err) {
				return
			}
		}
	}
}

// errOutput marks a failure to write the output, which no resume helps.
var errOutput = errors.New("output")

type outputError struct{ err error }

func (e outputError) Error() string   { return e.err.Error() }
func (e outputError) Unwrap() []error { return []error{e.err, errOutput} }

// print writes the rows as they come. When they break off, the rows read so
// far are written whole and the error is returned.
func (r *rowsRun) print(rows iter.Seq2[output.Row, error]) error {
	w := output.New(r.f.Stdout, r.out)
	for row, err := range rows {
		if err != nil {
			r.f.clearProgress(r.conn)
			if werr := w.Abort(); werr != nil {
				return outputError{werr}
			}
			return err
		}
		if err := w.Write(&row); err != nil {
			return outputError{err}
		}
	}
	r.f.clearProgress(r.conn)
	if err := w.Close(); err != nil {
		return outputError{err}
	}
	return nil
}

// resumable tells a run that the same command picks up again from one
// that would fail the same way (a 4xx, a refused login, a failed query): a
// wait cut short by --timeout or Ctrl-C, or an answer cut short, which is
// most often the network's doing.
func resumable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, new(*client.DecodeError))
}

// The permissions each endpoint takes, any one of them, from the official
// SDKs' operation docs.
const (
	permOrg    = "any of oauth:client:view, usage:organization:view"
	permClient = "any of oauth:client:view, usage:client:view"
	permSearch = "any of oauth:client:view, usage:simpleSearch:view"
	permJobs   = "usage:organization:view"
	permCJobs  = "usage:client:view"
)

// hint adds what to check to a failure that would fail again the same
// way: credentials, permissions, or an id from elsewhere.
func (f *Factory) hint(err error) error {
	var ae *client.AuthError
	var api *client.APIError
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return fmt.Errorf("%w; check --region (or %s) or --api-url and --login-url", err, regionVar)
	case errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w; check %s / _SECRET and the region", err, idVar)
	case !errors.As(err, &api):
	case api.StatusCode == http.StatusUnauthorized && f.Getenv(tokenVar) != "":
		return fmt.Errorf("%w; the token of %s was used, which wins over %s / _SECRET: it may have expired or belong to another region; renew it, or unset it to log in with the client credentials", err, tokenVar, idVar)
	case api.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w; the credentials need the permission %s", err, permission(api.Path))
	case api.StatusCode != http.StatusNotFound:
	case strings.Contains(api.Path, "/aggregates/query/jobs/"):
		return fmt.Errorf("%w; a job id belongs to one organization and region, and a client's job is read with its --client: check the id, the credentials and the region", err)
	case strings.Contains(api.Path, "/oauth/clients/"):
		return fmt.Errorf("%w; an OAuth client id, and an execution id, belong to one organization and region: check the ids, the credentials and the region", err)
	case strings.Contains(api.Path, "/usage/query/") && errors.As(err, new(*client.ExecutionError)):
		return fmt.Errorf("%w; an execution id belongs to one organization and region: check the credentials and the region; "+
			"the id of a search is read with 'gcusage results ID --search', that of a query --client or a summary with 'gcusage results ID --client CLIENT_ID'", err)
	case errors.As(err, new(*client.ExecutionError)):
		return fmt.Errorf("%w; an execution id belongs to one organization and region: check the credentials and the region", err)
	}
	return err
}

// permission names what the endpoint of path needs.
func permission(path string) string {
	switch {
	case strings.Contains(path, "/usage/client/"):
		return permCJobs
	case strings.Contains(path, "/aggregates/query/jobs"):
		return permJobs
	case strings.Contains(path, "/oauth/clients/"):
		return permClient
	case strings.Contains(path, "/usage/simplesearch"):
		return permSearch
	}
	return permOrg
}

// rerun is the command cmd (such as "gcusage results ID") with the flags of
// c that keep is true for, as given, and the profile: what picks a run up
// again. A run over several profiles is picked up one profile at a time:
// --profile NAME, never the list, --all-profiles or --parallel.
func rerun(cmd []string, c *ConnOptions, keep func(name string) bool) string {
	args := slices.Clone(cmd)
	visitSet(c.flags, func(f *pflag.Flag) {
		if !keep(f.Name) || slices.Contains(profileFlags, f.Name) {
			return
		}
		if f.Value.Type() == "bool" {
			args = append(args, "--"+f.Name+"="+f.Value.String())
			return
		}
		args = append(args, "--"+f.Name, shellQuote(f.Value.String()))
	})
	if name := c.Profiles.one(); name != "" {
		args = append(args, "--profile", shellQuote(name))
	}
	return strings.Join(args, " ")
}

// again is the command that runs c's command again as it was given, over
// the same interval, but without --timeout: what runs again what nothing
// resumes.
func again(c *ConnOptions) string {
	return rerun(c.again, c, func(name string) bool { return !oneOf("interval", "since", "until", "timeout")(name) })
}

// shellQuote leaves plain words alone and single-quotes anything else, so
// the resume command can be pasted as is.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// oneOf returns a keep function for rerun that keeps names.
func oneOf(names ...string) func(string) bool {
	return func(n string) bool { return slices.Contains(names, n) }
}

// resumeFlags are the flags that a command resuming an execution or a job
// keeps: where it runs and how it prints, not what it asked.
var resumeFlags = []string{"format", "region", "api-url", "login-url", "sort", "top", "page-size", "csv-raw", "config"}
