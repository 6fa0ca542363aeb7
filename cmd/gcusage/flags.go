package main

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/cmd/internal/output"
	"github.com/gcusage/gcusage/gen"
)

// parseList reads a comma list case-insensitively and returns the exact-case
// enum values the API wants; an unknown value names the allowed ones.
func parseList[T ~string](flagName, value string, allowed []T) ([]T, error) {
	var out []T
	for _, s := range textList(value) {
		i := indexFold(allowed, s)
		if i < 0 {
			return nil, usagef("--%s %q: allowed %s", flagName, s, join(allowed))
		}
		out = append(out, allowed[i])
	}
	return out, nil
}

// parseGranularity reads --granularity: one value, in any case, or none.
func parseGranularity(value string) (gen.Granularity, error) {
	g, err := parseList("granularity", value, client.Granularities())
	switch {
	case err != nil:
		return "", err
	case len(g) > 1:
		return "", usagef("--granularity %q: give one of %s", value, join(client.Granularities()))
	case len(g) == 1:
		return g[0], nil
	}
	return "", nil
}

func indexFold[T ~string](allowed []T, s string) int {
	return slices.IndexFunc(allowed, func(a T) bool { return strings.EqualFold(string(a), s) })
}

func join[T ~string](vs []T) string { return strings.Join(strs(vs), ", ") }

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
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

// completeEnum completes a flag that takes one of values.
func completeEnum[T ~string](cmd *cobra.Command, flag string, values []T) {
	cmd.RegisterFlagCompletionFunc(flag, func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return matching(values, "", toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	})
}

// completeList completes a flag that takes a comma list of values: the
// last item of the list, with the values not already in it.
func completeList[T ~string](cmd *cobra.Command, flag string, values []T) {
	cmd.RegisterFlagCompletionFunc(flag, func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return completeItem(values, toComplete)
	})
}

// completeItem completes the last item of the comma list typed so far.
func completeItem[T ~string](values []T, toComplete string) ([]string, cobra.ShellCompDirective) {
	done, last := "", toComplete
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		done, last = toComplete[:i+1], toComplete[i+1:]
	}
	return matching(values, done, last, textList(done)), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// matching returns prefix+value for each value that starts with typed, in
// any case, and is not in taken, each once.
func matching[T ~string](values []T, prefix, typed string, taken []string) []string {
	var out []string
	for _, v := range values {
		s := string(v)
		if strings.HasPrefix(strings.ToLower(s), strings.ToLower(typed)) && indexFold(taken, s) < 0 && !slices.Contains(out, prefix+s) {
			out = append(out, prefix+s)
		}
	}
	return out
}

// OutputOptions are the flags of every command that prints rows.
type OutputOptions struct {
	Format string
	Sort   string
	Top    int
	CSVRaw bool

	// counts are the metrics the rows have, in the order --metrics names
	// them: what --sort may name and --top ranks by.
	counts []gen.Metric
}

// addOutputFlags defines --format, --sort, --top and --csv-raw on cmd;
// counts are the metrics the command's rows can have, and rankedBy says
// which one --top ranks by without --sort, as rankBy picks it.
func addOutputFlags(cmd *cobra.Command, o *OutputOptions, counts []gen.Metric, rankedBy string) {
	fs := cmd.Flags()
	o.counts = counts
	fs.StringVar(&o.Format, "format", "table", "output `format`: "+strings.Join(output.Formats, ", "))
	fs.StringVar(&o.Sort, "sort", "", "print the rows largest first by this `metric`: "+join(counts)+" (holds the rows in memory)")
	fs.IntVar(&o.Top, "top", 0, "print only the first `N` rows of --sort (default: by "+rankedBy+")")
	fs.BoolVar(&o.CSVRaw, "csv-raw", false, "keep csv text exact: by default a cell starting with = + - @ tab or CR gets a leading ' so that a spreadsheet shows it as text")
	completeEnum(cmd, "format", output.Formats)
	completeEnum(cmd, "sort", counts)
}

// rankedByMetrics is what --top ranks by in a command with --metrics.
const rankedByMetrics = "Requests when --metrics has it, else by the first metric --metrics names"

// writerOptions checks the output flags, before anything is sent, and
// returns how to print rows of cols.
func (o *OutputOptions) writerOptions(cols []output.Column) (output.Options, error) {
	format := strings.ToLower(o.Format)
	if !slices.Contains(output.Formats, format) {
		return output.Options{}, usagef("--format %q: allowed %s", o.Format, strings.Join(output.Formats, ", "))
	}
	w := output.Options{Format: format, Columns: cols, Top: o.Top, CSVRaw: o.CSVRaw}
	if o.Top < 0 {
		return w, usagef("--top %d: want a positive number of rows", o.Top)
	}
	if o.Sort != "" || o.Top != 0 {
		m, err := o.rankBy()
		if err != nil {
			return w, err
		}
		w.SortBy = output.MetricColumn(m)
	}
	return w, nil
}

// rankBy is the count that --sort names, or that --top ranks by without
// it: Requests when the rows have it, else the first count they have. A
// count the rows lack (left out of --metrics, or a search's requests)
// would be 0 in every row, and rank nothing: it is refused.
func (o *OutputOptions) rankBy() (gen.Metric, error) {
	if o.Sort == "" {
		switch {
		case slices.Contains(o.counts, gen.MetricRequests):
			return gen.MetricRequests, nil
		case len(o.counts) == 0:
			return "", usagef("--top: the rows have no count to rank by: add one of %s to --metrics", join(searchCounts(nil)))
		}
		return o.counts[0], nil
	}
	m, err := parseList("sort", o.Sort, o.counts)
	switch {
	case err != nil && indexFold(client.Metrics(), o.Sort) >= 0:
		return "", usagef("--sort %q: the rows have no such count (a metric left out of --metrics, or a search's requests): allowed %s", o.Sort, join(o.counts))
	case err != nil:
		return "", err
	case len(m) != 1:
		return "", usagef("--sort %q: give one of %s", o.Sort, join(o.counts))
	}
	return m[0], nil
}

// visitSet calls fn with each flag given on the command line, for the
// hints that run the command again.
func visitSet(fs *pflag.FlagSet, fn func(*pflag.Flag)) {
	if fs != nil {
		fs.Visit(fn)
	}
}

// sdkFields name what gives each field of the SDK's queries on the
// command line: the flag, or the argument of a command without that flag
// (summary's client id). A *client.ValidationError names the field, which
// the user never typed.
var sdkFields = map[string]struct{ flag, arg string }{
	"interval":         {"interval", ""},
	"granularity":      {"granularity", ""},
	"metrics":          {"metrics", ""},
	"groupBy":          {"group-by", ""},
	"httpMethods":      {"http-method", ""},
	"oauthClientNames": {"client-name", ""},
	"templateUris":     {"template-uri", ""},
	"platforms":        {"platform", ""},
	"userIds":          {"user-id", ""},
	"oauthClientIds":   {"oauth-client-id", ""},
	"organizationIds":  {"organization-id", ""},
	"pageSize":         {"page-size", ""},
	"days":             {"days", ""},
	"clientId":         {"client", "the OAuth client id"},
	"executionId":      {"", "the execution id"},
	"jobId":            {"", "the job id"},
}

// sdkWords are the SDK's names in a ValidationError's reason, said as the
// command line says them.
var sdkWords = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`duplicate of \w+\[\d+\]`), "given twice"},
	{regexp.MustCompile(`\bset ClientID\b`), "give --client"},
}

// errorText is err's text, in which a *client.ValidationError, which
// names the SDK's field (groupBy[0], pageSize), names instead what the
// user typed for it on the command line of fs (--group-by, --page-size):
// `--group-by "UserId": a query of one OAuth client cannot group by it;
// allowed ...`, as the CLI's own usage errors read.
func errorText(err error, fs *pflag.FlagSet) string {
	text := err.Error()
	var ve *client.ValidationError
	if !errors.As(err, &ve) {
		return text
	}
	field, _, _ := strings.Cut(ve.Field, "[")
	name := "the " + field
	if f, ok := sdkFields[field]; ok {
		switch {
		case f.flag != "" && fs != nil && fs.Lookup(f.flag) != nil:
			name = "--" + f.flag
		case f.arg != "":
			name = f.arg
		case f.flag != "":
			name = "--" + f.flag
		}
	}
	said := name
	if ve.Value != "" {
		v := ve.Value
		if len(v) > maxValue {
			v = strings.ToValidUTF8(v[:maxValue], "") + "…"
		}
		said += " " + strconv.Quote(v)
	}
	reason := ve.Reason
	for _, w := range sdkWords {
		reason = w.re.ReplaceAllString(reason, w.with)
	}
	sep := ": "
	if reason != "" {
		said += sep + reason
		sep = "; "
	}
	if len(ve.Allowed) > 0 {
		said += sep + "allowed " + strings.Join(ve.Allowed, ", ")
	}
	return strings.Replace(text, strings.TrimPrefix(ve.Error(), "gcusage: "), said, 1)
}

// maxValue caps a value quoted in an error: a flag's value may be a
// megabyte long.
const maxValue = 200

// checkPageSize refuses a --page-size outside the API's 1 to 1000, before
// anything is sent (the SDK would take 0 for 1000; the help says 1 to
// 1000).
func checkPageSize(n int) error {
	if n < 1 || n > client.MaxPageSize {
		return usagef("--page-size %d: want 1 to %d", n, client.MaxPageSize)
	}
	return nil
}
