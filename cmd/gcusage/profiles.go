package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/cmd/internal/output"
	"github.com/gcusage/gcusage/cmd/internal/profiles"
	"github.com/gcusage/gcusage/internal/fanout"
	"github.com/gcusage/gcusage/usagetest"
)

// ProfileOptions are the flags that take the credentials and environment
// of organizations from the profiles of the Genesys Cloud CLI's config file
// (docs/profiles.md): one profile runs as a run with the environment's
// credentials does; several run at once, into one output.
type ProfileOptions struct {
	Names    string // --profile: a name, or a comma list
	All      bool   // --all-profiles
	Config   string // --config; "" for $HOME/.gc/config.toml
	Parallel int    // --parallel

	// as is the profile whose hints are being written, after a run over
	// several: what picks the run up names it alone.
	as string
}

// profilesHelp is the part of the help of the commands that run over
// several organizations that says how.
const profilesHelp = `

--profile NAME takes the credentials and the environment from that
profile of --config (default ~/.gc/config.toml, which 'gc profiles new'
writes) instead of the environment, and prints as a run without it.
--profile a,b,c or --all-profiles runs each profile, --parallel (4) at a
time, each with its own client, token and retries, into one output whose
first column is the profile (then the org, in place of organizationId,
where the rows carry it). One org failing stops no other: stderr ends
with each org that did not finish, why, and the command that resumes it
or runs it again, and the run exits 1. --region, --api-url and
--login-url apply to every profile; the GENESYSCLOUD_* variables are
ignored. With --demo the built-in demo profiles (demo-prod, demo-test,
demo-sandbox) need no file. See docs/profiles.md.`

// profileFlags are the flags of a run over several profiles, which a
// command that picks up one of them never copies.
var profileFlags = []string{"profile", "all-profiles", "parallel"}

// addProfileFlags defines --profile and --config on cmd, and when many
// --all-profiles and --parallel, which a command reading an execution or a
// job of one organization does without. --profile completes the names of
// the profiles of --config.
func addProfileFlags(cmd *cobra.Command, f *Factory, p *ProfileOptions, many bool) {
	fs := cmd.Flags()
	only := "--profile"
	if many {
		fs.StringVar(&p.Names, "profile", "", "run with the credentials and environment of profile `NAME` of --config; a comma list runs each one, --parallel at a time, into one output with a profile column")
		fs.BoolVar(&p.All, "all-profiles", false, "run with every profile of --config, --parallel at a time, into one output with a profile column")
		fs.IntVar(&p.Parallel, "parallel", fanout.DefaultLimit, "run `N` profiles at once, at least 1")
		only += " or --all-profiles"
	} else {
		fs.StringVar(&p.Names, "profile", "", "read with profile `NAME` of --config: that of the organization that started it")
	}
	fs.StringVar(&p.Config, "config", "", "the profiles `FILE`, as 'gc profiles new' writes it (default $HOME/.gc/config.toml); read only with "+only)
	cmd.MarkFlagFilename("config", "toml")
	cmd.RegisterFlagCompletionFunc("profile", func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		path, err := p.Config, error(nil)
		if path == "" {
			path, err = profiles.DefaultPath(f.Getenv)
		}
		cfg, lerr := profiles.Load(path)
		if err != nil || lerr != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return completeItem(slices.DeleteFunc(cfg.Names(), func(n string) bool { return !profiles.Typable(n) }), toComplete)
	})
}

// used reports whether profiles give the credentials.
func (p *ProfileOptions) used() bool { return p.Names != "" || p.All }

// many reports whether the run goes over several profiles at once, into
// one output with a profile column: --all-profiles, or a list. The flags
// decide it, not how many profiles the file has, so that the output's
// shape never changes with the file.
func (p *ProfileOptions) many() bool { return p.All || strings.Contains(p.Names, ",") }

// one is the profile that a command picking a run up names: the one of a
// run over several whose hints are being written, or the one named.
func (p *ProfileOptions) one() string {
	switch {
	case p.as != "":
		return p.as
	case p.used() && !p.many():
		return strings.TrimSpace(p.Names)
	}
	return ""
}

// check refuses, before anything is sent, profile flags that would do
// nothing or what the command cannot do.
func (p *ProfileOptions) check(c *ConnOptions) error {
	given := func(name string) bool {
		fl := c.flags.Lookup(name)
		return fl != nil && fl.Changed
	}
	switch {
	case given("profile") && strings.TrimSpace(p.Names) == "":
		return usagef("--profile %q: give a profile name, a comma list of them, or --all-profiles", p.Names)
	case given("parallel") && p.Parallel < 1:
		return usagef("--parallel %d: want at least 1 profile at a time (default %d)", p.Parallel, fanout.DefaultLimit)
	case !p.used() && given("config"):
		return usagef("--config %s: give --profile NAME or --all-profiles to run with its profiles; without them the credentials come from the environment", p.Config)
	case !p.used() && given("parallel"):
		return usagef("--parallel: give --profile a,b or --all-profiles, which it runs at once")
	case p.many() && c.flags.Lookup("all-profiles") == nil:
		return usagef("--profile %q: an id belongs to the one organization that started it: give its profile alone", p.Names)
	case p.many() && c.NoWait:
		return usagef("--no-wait prints the id of one organization's work: give one --profile")
	}
	return nil
}

// org is one organization of a run over several profiles: its profile and
// its own client, with its own token, retries and connections.
type org struct {
	profile profiles.Profile
	client  *client.Client
}

// fleet is what a run over several profiles has: an org per profile, in
// the order named (the file's for --all-profiles), and the progress line
// that counts them on a terminal.
type fleet struct {
	orgs     []org
	progress *orgsProgress
}

// connectRun connects a command that prints rows, as its flags say: to the
// organization of the environment's credentials (or of --demo), to that of
// one profile, or to those of several. Every client is built before
// anything is sent, so that any bad setting of any profile exits 2 with
// nothing sent. done ends what it started.
func (f *Factory) connectRun(c *ConnOptions, out output.Options, demo func(*usagetest.Server) string) (_ *rowsRun, done func(), err error) {
	r := &rowsRun{f: f, conn: c, out: out}
	if err := c.Profiles.check(c); err != nil {
		return nil, nil, err
	}
	if !c.Profiles.used() {
		r.opts, done, err = f.connect(c, demo)
		return r, done, err
	}
	sel, err := f.selectProfiles(c, demo)
	if err != nil {
		return nil, nil, err
	}
	done = sel.done
	defer func() {
		if err != nil {
			done()
		}
	}()
	if !c.Profiles.many() {
		r.profile = &sel.profiles[0]
		r.cl, err = r.profile.Client(sel.over, append(sel.opts, f.observers(c, "", nil)...)...)
		return r, done, profileError(err)
	}
	// The orgs write to stderr one line at a time, around the progress
	// line when one shows.
	var tty io.Writer
	if f.Progress != nil && !c.Quiet {
		tty = f.Progress
	}
	line, stderr := newOrgsProgress(tty, len(sel.profiles)), f.Stderr
	r.fleet = &fleet{orgs: make([]org, len(sel.profiles)), progress: line}
	f.Stderr, done = line.around(stderr), func() { f.Stderr = stderr; sel.done() }
	for i, p := range sel.profiles {
		cl, err := p.Client(sel.over, append(sel.opts, f.observers(c, "profile "+p.Name+": ", line.retried)...)...)
		if err != nil {
			return nil, done, profileError(err)
		}
		r.fleet.orgs[i] = org{profile: p, client: cl}
	}
	return r, done, nil
}

// selection is the profiles a run's flags select, with what applies to
// each: the overrides of the command line and the client's options; done
// ends what was started for them.
type selection struct {
	profiles []profiles.Profile
	over     profiles.Overrides
	opts     []client.Option
	done     func()
}

// selectProfiles reads and selects the profiles the flags name. With
// --demo they are the built-in demo profiles, against an in-process stub
// of the demo organizations.
func (f *Factory) selectProfiles(c *ConnOptions, demo func(*usagetest.Server) string) (*selection, error) {
	p := &c.Profiles
	cfg := profiles.Demo()
	if fl := c.flags.Lookup("config"); c.Demo && fl.Changed {
		return nil, usagef("--demo runs the built-in demo profiles (%s): drop --config", strings.Join(cfg.Names(), ", "))
	}
	if !c.Demo {
		if err := c.check(); err != nil {
			return nil, err
		}
		path, err := p.Config, error(nil)
		if path == "" {
			path, err = profiles.DefaultPath(f.Getenv)
		}
		if err == nil {
			cfg, err = profiles.Load(path)
		}
		if err != nil {
			return nil, profileError(err)
		}
	}
	selected, err := cfg.Select(p.Names, p.All)
	if err != nil {
		return nil, profileError(err)
	}
	sel := &selection{profiles: selected, done: func() {}}
	if !c.Demo {
		if set := profiles.IgnoredEnv(f.Getenv); len(set) > 0 {
			f.note(c, "note: the profiles give the credentials and the region: "+strings.Join(set, ", ")+" ignored")
		}
		if f.Transport != nil {
			sel.opts = append(sel.opts, client.WithHTTPClient(&http.Client{Transport: f.Transport}))
		}
		sel.over = profiles.Overrides{Region: c.Region, APIURL: c.APIURL, LoginURL: c.LoginURL}
		return sel, nil
	}
	srv, err := f.demoStub(c, demo)
	if err != nil {
		return nil, err
	}
	sel.opts = append(sel.opts, client.WithHTTPClient(&http.Client{Transport: srv.Transport()}))
	sel.over, sel.done = profiles.Overrides{APIURL: srv.URL, LoginURL: srv.LoginURL}, srv.Close
	return sel, nil
}

// profileError makes a *profiles.Error, a bad file or setting found
// before anything is sent, a usage error: exit code 2.
func profileError(err error) error {
	var pe *profiles.Error
	if errors.As(err, &pe) {
		return &usageError{pe.Error()}
	}
	return err
}

// hint adds what to check to a failure that would fail again the same
// way: with a profile, that profile's settings rather than the
// environment's.
func (r *rowsRun) hint(err error) error {
	p := r.profile
	if p == nil {
		return r.f.hint(err)
	}
	var ae *client.AuthError
	var api *client.APIError
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return fmt.Errorf("%w; check the environment of %s, or --region, or --api-url and --login-url", err, p)
	case errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w; check client_credentials and client_secret of %s, and its environment", err, p)
	case errors.As(err, &api) && api.StatusCode == http.StatusUnauthorized && !p.AccessToken.IsZero():
		return fmt.Errorf("%w; the access_token of %s was used, which wins over its client credentials: it may have expired or belong to another region", err, p)
	case errors.As(err, &api) && api.StatusCode == http.StatusUnauthorized:
		return err // the environment's token, which the Factory's hint names, was not used
	}
	return r.f.hint(err)
}

// profileKey keys the profile whose work a context carries.
type profileKey struct{}

// withProfile marks ctx as the work of profile p, if any.
func withProfile(ctx context.Context, p *profiles.Profile) context.Context {
	if p == nil {
		return ctx
	}
	return context.WithValue(ctx, profileKey{}, p.Name)
}

// profileOf is the profile whose work ctx is, or "".
func profileOf(ctx context.Context) string {
	name, _ := ctx.Value(profileKey{}).(string)
	return name
}

// profileLabel starts a note about the work of ctx's profile, if any.
func profileLabel(ctx context.Context) string {
	if name := profileOf(ctx); name != "" {
		return "profile " + name + ": "
	}
	return ""
}
