package main

import (
	"slices"
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

func join[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
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
// any case, and is not in taken.
func matching[T ~string](values []T, prefix, typed string, taken []string) []string {
	var out []string
	for _, v := range values {
		s := string(v)
		if strings.HasPrefix(strings.ToLower(s), strings.ToLower(typed)) && indexFold(taken, s) < 0 {
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
// counts are the metrics the command's rows can have.
func addOutputFlags(cmd *cobra.Command, o *OutputOptions, counts []gen.Metric) {
	fs := cmd.Flags()
	o.counts = counts
	fs.StringVar(&o.Format, "format", "table", "output `format`: "+strings.Join(output.Formats, ", "))
	fs.StringVar(&o.Sort, "sort", "", "print the rows largest first by this `metric`: "+join(counts)+" (holds the rows in memory)")
	fs.IntVar(&o.Top, "top", 0, "print only the first `N` rows of --sort (default: by Requests when the rows have it, else by the first metric --metrics names)")
	fs.BoolVar(&o.CSVRaw, "csv-raw", false, "keep csv text exact: by default a cell starting with = + - @ tab or CR gets a leading ' so that a spreadsheet shows it as text")
	completeEnum(cmd, "format", output.Formats)
	completeEnum(cmd, "sort", counts)
}

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
