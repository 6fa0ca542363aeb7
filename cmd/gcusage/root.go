package main

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gcusage/gcusage/client"
)

func init() {
	// The commands are listed in the order they are added: the main job
	// first, not alphabetically.
	cobra.EnableCommandSorting = false
}

const rootLong = `gcusage runs Genesys Cloud API usage queries: which OAuth clients, users and
endpoints call your organization's API, and how many calls failed.

Credentials come from the environment:
  GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET, or GENESYSCLOUD_ACCESS_TOKEN,
  and GENESYSCLOUD_REGION (a key such as eu-west-1, or a domain such as mypurecloud.ie);
or from the profiles of the Genesys Cloud CLI (~/.gc/config.toml): --profile NAME for one
organization, --profile a,b or --all-profiles for several at once, into one output.`

const rootExamples = `  gcusage query --demo                      # sample data from an in-process stub, no account
  gcusage query --since 30d --group-by OAuthClientId,HttpMethod
  gcusage results 6a1f0c2e-... --format csv
  gcusage summary 2b9c8f4e-... --days 30
  gcusage search --since 3d --client-name 'Nightly export' --http-method get --format csv
  gcusage jobs query --demo --since 30d --group-by OauthClientId --granularity week
  gcusage report --demo --open              # the last 30 days as one HTML file of charts
  gcusage query --all-profiles --parallel 8 --format csv   # every org of ~/.gc/config.toml
  gcusage completion bash > /etc/bash_completion.d/gcusage
  go run ./cmd/gcusage-stub                 # a standalone stub on 127.0.0.1:8765 to point --api-url at

Run 'gcusage <command> --help' (or 'gcusage help <command>') for the flags of a command.`

// helpTemplate is every command's help: the usage line first, then what it
// does, its subcommands, flags and examples. The root's says what gcusage
// is first.
const helpTemplate = `{{if not .HasParent}}{{.Long}}

Usage:
  gcusage <command> [flags]
{{else}}Usage:
  {{.UseLine}}

{{.Long}}
{{end}}{{if .HasAvailableSubCommands}}
Commands:
{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}  {{rpad .Name .NamePadding}} {{.Short}}
{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}
Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}
{{end}}{{if .HasExample}}
Examples:
{{.Example}}
{{end}}`

// newRootCmd builds the command tree on f, to run with args.
func newRootCmd(f *Factory, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "gcusage",
		Short:         "Genesys Cloud API usage queries",
		Long:          rootLong,
		Example:       rootExamples,
		Version:       client.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          unknownCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("a command is needed: %s (see gcusage --help)", commandList(cmd))
		},
		DisableAutoGenTag: true, // docs/cli.md stays the same from one day to the next
	}
	root.SetOut(f.Stdout)
	root.SetErr(f.Stderr)
	root.SetHelpTemplate(helpTemplate)
	// Cobra's help function prints its own write error on stderr, and
	// returns none: the help is rendered into a buffer instead, and its
	// write's error goes to run, which ends a closed pipe quietly.
	render := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		var b bytes.Buffer
		out := c.OutOrStdout()
		c.SetOut(&b)
		render(c, args)
		c.SetOut(out)
		_, f.helpErr = out.Write(b.Bytes())
	})
	root.SetVersionTemplate(versionLine())
	root.SetArgs(args)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return flagError(c, err, args) })
	root.AddCommand(
		NewCmdQuery(f, nil),
		NewCmdSummary(f, nil),
		NewCmdSearch(f, nil),
		NewCmdResults(f, nil),
		NewCmdJobs(f),
		NewCmdReport(f, nil),
		newCmdRegions(f),
		newCmdVersion(f),
	)
	root.InitDefaultCompletionCmd()
	root.SetHelpCommand(newCmdHelp())
	root.InitDefaultHelpCmd()
	root.InitDefaultHelpFlag()
	root.InitDefaultVersionFlag()
	root.Flags().Lookup("version").Usage = "print the version (also gcusage version)"
	// Every command knows -h before it is run, so that finding the
	// command in 'gcusage -h jobs query' does not take jobs for -h's value.
	var helpFlags func(*cobra.Command)
	helpFlags = func(c *cobra.Command) {
		c.InitDefaultHelpFlag()
		for _, sub := range c.Commands() {
			helpFlags(sub)
		}
	}
	helpFlags(root)
	return root
}

// versionLine is what --version and the version command print.
func versionLine() string {
	return fmt.Sprintf("gcusage %s %s %s/%s\n", client.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// unknownCommand refuses a word that names no subcommand of cmd, with the
// nearest one when it looks like a typo of it.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	name := strings.TrimPrefix(cmd.CommandPath()+" ", "gcusage ")
	msg := fmt.Sprintf("unknown %scommand %q: want %s", name, args[0], commandList(cmd))
	cmd.SuggestionsMinimumDistance = 2
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + s[0] + "?"
	}
	return &usageError{msg}
}

// commandList names the subcommands of cmd: "query, results or help".
func commandList(cmd *cobra.Command) string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() || c.Name() == "help" {
			names = append(names, c.Name())
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// flagError makes a bad flag a usage error that names the command, the
// nearest flag when the name looks like a typo of one, and where to look;
// a long flag given with one dash (-format, -help) the two-dash form,
// which pflag's own words (unknown shorthand flag: 'e' in -elp) hide.
func flagError(cmd *cobra.Command, err error, args []string) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		msg = "unknown flag --" + name
		if s := suggestFlag(cmd.Flags(), name); s != "" {
			msg += "; did you mean --" + s + "?"
		}
	} else if strings.HasPrefix(msg, "unknown shorthand flag") {
		if name := singleDashLong(cmd.Flags(), args); name != "" {
			msg = "-" + name + ": long flags take two dashes: --" + name
		} else if sub, name := subcommandFlag(cmd, args); sub != nil {
			msg = "-" + name + ": long flags take two dashes, after their command: " + sub.CommandPath() + " --" + name
		} else {
			msg += " (flags start with --)"
		}
	}
	path := cmd.CommandPath()
	if cmd.HasParent() {
		msg = strings.TrimPrefix(path, "gcusage ") + ": " + msg
	}
	return usagef("%s (see %s --help)", msg, path)
}

// singleDashLong is the name of the first long flag of fs that args give
// with one dash (-format csv, -since=7d, -help), or "".
func singleDashLong(fs *pflag.FlagSet, args []string) string {
	for _, a := range args {
		if a == "--" {
			break
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if fs.Lookup(name) != nil {
			return name
		}
	}
	return ""
}

// subcommandFlag is the first command under cmd, and the name of its flag,
// that args give with one dash before naming the command
// (gcusage -format csv query), or nil.
func subcommandFlag(cmd *cobra.Command, args []string) (*cobra.Command, string) {
	for _, sub := range cmd.Commands() {
		if name := singleDashLong(sub.Flags(), args); name != "" {
			return sub, name
		}
		if c, name := subcommandFlag(sub, args); c != nil {
			return c, name
		}
	}
	return nil, ""
}

// suggestFlag is the flag of fs nearest to name, or "". It asks cobra's own
// suggestions, which are made for command names: a probe command has a
// subcommand per flag.
func suggestFlag(fs *pflag.FlagSet, name string) string {
	probe := &cobra.Command{SuggestionsMinimumDistance: 2}
	fs.VisitAll(func(fl *pflag.Flag) {
		if !fl.Hidden {
			probe.AddCommand(&cobra.Command{Use: fl.Name, Run: func(*cobra.Command, []string) {}})
		}
	})
	if s := probe.SuggestionsFor(name); len(s) > 0 {
		return s[0]
	}
	return ""
}

// leaf wraps the RunE of a command without subcommands: 'gcusage query
// help' shows its help, as --help does (a help first among a command's
// arguments is never an id), and the arguments are checked by args.
func leaf(cmd *cobra.Command, args func([]string) error, run func(*cobra.Command, []string) error) {
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, a []string) error {
		if len(a) > 0 && a[0] == "help" {
			return c.Help()
		}
		if err := args(a); err != nil {
			return err
		}
		return run(c, a)
	}
}

// noArgs refuses any argument of the command name.
func noArgs(name string) func([]string) error {
	return func(a []string) error {
		if len(a) > 0 {
			return usagef("%s takes no arguments, got %q (flags start with --)", name, a[0])
		}
		return nil
	}
}

// oneID takes the one id of the command name, what kind of id it is, and
// refuses it blank.
func oneID(name, what string) func([]string) error {
	return func(a []string) error {
		switch {
		case len(a) != 1:
			return usagef("%s takes one %s, got %d arguments (see gcusage %[1]s --help)", name, what, len(a))
		case strings.TrimSpace(a[0]) == "":
			return usagef("%s: the %s is empty (see gcusage %[1]s --help)", name, what)
		}
		return nil
	}
}

// newCmdHelp is 'help [command...]', at the root and in command groups:
// it prints the help of the command its words name under its parent, as
// that command's --help does, and refuses a word that names none.
func newCmdHelp() *cobra.Command {
	return &cobra.Command{
		Use:                "help [command]",
		Short:              "show the help of a command",
		DisableFlagParsing: true, // help -h is help
		RunE: func(c *cobra.Command, args []string) error {
			target := c.Parent()
			for _, w := range args {
				switch {
				case w == "help" || w == "-h" || w == "--help":
					continue
				case w == "-v" || w == "--version":
					w = "version"
				case strings.HasPrefix(w, "-"):
					return target.Help() // the command's flags follow
				}
				next, _, err := target.Find([]string{w})
				if err != nil || next == target {
					return unknownCommand(target, []string{w})
				}
				target = next
			}
			return target.Help()
		},
	}
}

func newCmdRegions(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "regions",
		Short:   "list the region keys and domains",
		Long:    "List the region keys and domains that --region and GENESYSCLOUD_REGION accept.",
		Example: "  gcusage regions",
	}
	leaf(cmd, noArgs("regions"), func(*cobra.Command, []string) error {
		w := tabwriter.NewWriter(f.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "REGION\tDOMAIN\tAPI URL")
		for _, r := range client.Regions() {
			fmt.Fprintf(w, "%s\t%s\t%s\n", r.Key, r.Domain, r.APIURL())
		}
		return w.Flush()
	})
	return cmd
}

func newCmdVersion(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "print the version (also --version or -v)",
		Long:    "Print the version of gcusage (also --version or -v).",
		Example: "  gcusage version",
	}
	leaf(cmd, noArgs("version"), func(*cobra.Command, []string) error {
		_, err := fmt.Fprint(f.Stdout, versionLine())
		return err
	})
	return cmd
}
