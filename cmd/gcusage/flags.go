package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
)

// usageError is bad input found before anything is sent: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// parseList reads a comma list case-insensitively and returns the exact-case
// enum values the API wants; an unknown value names the allowed ones.
func parseList[T ~string](flagName, value string, allowed []T) ([]T, error) {
	var out []T
	for s := range strings.SplitSeq(value, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
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
	for i, a := range allowed {
		if strings.EqualFold(string(a), s) {
			return i
		}
	}
	return -1
}

func join[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// span holds --interval, --since and --until, which query, search and jobs
// take alike.
type span struct{ iv, since, until *string }

// spanFlags defines the three flags on fs; ivUsage says what --interval
// takes for that command.
func spanFlags(fs *flag.FlagSet, ivUsage string) span {
	return span{
		iv:    fs.String("interval", "", ivUsage),
		since: fs.String("since", "", "start: a number of `days` back from today (7d), a duration back from now (36h), a date (2024-01-31) or a date-time"),
		until: fs.String("until", "", "end: a `time` in the forms of --since, a date included (default: the end of yesterday)"),
	}
}

// interval is the interval the flags give, at now.
func (s span) interval(now time.Time) (string, error) {
	return interval(*s.iv, *s.since, *s.until, now)
}

// interval turns --interval, or --since and --until, into the query's
// interval. Usage is counted per full UTC day and today is not counted yet:
// the end never reaches past the start of today, and when both ends fall on
// midnight the interval is written as dates, whose end the API includes.
// With none of the flags it is the last 7 full UTC days.
func interval(iv, since, until string, now time.Time) (string, error) {
	if iv != "" {
		if since != "" || until != "" {
			return "", usagef("--interval cannot be combined with --since or --until")
		}
		if _, _, err := client.ParseInterval(iv); err != nil {
			return "", usagef("--interval %q: %s", iv, reason(err))
		}
		return iv, nil
	}
	today := now.UTC().Truncate(24 * time.Hour)
	end := today
	if until != "" {
		t, err := when("until", until, now, true)
		if err != nil {
			return "", err
		}
		if t.Before(today) {
			end = t
		}
	}
	start := end.AddDate(0, 0, -7)
	if since != "" {
		var err error
		if start, err = when("since", since, now, false); err != nil {
			return "", err
		}
	}
	switch {
	case !start.Before(today):
		return "", usagef("--since %s: usage is counted per full UTC day, and today (%s) is not counted yet", start.Format(time.RFC3339), today.Format(time.DateOnly))
	case !start.Before(end):
		return "", usagef("--since %s is not before --until %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	case start.Equal(start.Truncate(24*time.Hour)) && end.Equal(end.Truncate(24*time.Hour)):
		return client.Days(start, end.AddDate(0, 0, -1)), nil
	}
	return client.Between(start, end), nil
}

// reason is a validation error's reason alone, for a line that names the
// flag and the value itself.
func reason(err error) string {
	var ve *client.ValidationError
	if errors.As(err, &ve) && ve.Reason != "" {
		return ve.Reason
	}
	return err.Error()
}

// when reads a point in time: a number of days back from the start of today
// (7d), a duration back from now (36h), a date, or a date-time (UTC when it
// has no offset). A date as an end counts in full, as the API counts the
// date-only end of an interval: --until 2024-01-31 includes January 31.
func when(flagName, s string, now time.Time, end bool) (time.Time, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	if n, err := strconv.Atoi(strings.TrimSuffix(s, "d")); err == nil && strings.HasSuffix(s, "d") && n >= 0 {
		return today.AddDate(0, 0, -n), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.UTC().Add(-d), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usagef("--%s %q: want a number of days back from today (7d), a duration back from now (36h), a date (2024-01-31) or a date-time (2024-01-31T12:00:00Z)", flagName, s)
}

// parseArgs parses flags wherever they are among the arguments, so that
// `results ID --format json` works as well as `results --format json ID`.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// isHelp tells a request for help from a bad flag.
func isHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }

// suggest returns the word of words nearest to s, when it is near enough to
// be a typo of it (--fromat, --formt), or "".
func suggest(s string, words []string) string {
	s = strings.ToLower(strings.TrimLeft(s, "-"))
	best, bestD := "", 0
	for _, w := range words {
		if d := distance(s, w); best == "" || d < bestD {
			best, bestD = w, d
		}
	}
	// Two edits in a long word are a typo; in a short one, a different word.
	if best == "" || bestD > 2 || bestD > len(best)/3 {
		return ""
	}
	return best
}

// distance is the optimal string alignment distance of a and b: the edits
// (insert, delete, replace, or swap of neighbours) that turn one into the
// other, each counted once.
func distance(a, b string) int {
	x, y := []rune(a), []rune(b)
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}
