package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gcusage/gcusage/client"
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

// interval turns --interval, or --since and --until, into the query's
// interval. With neither it is the last 7 full UTC days: usage is counted
// per UTC day and today is not counted yet.
func interval(iv, since, until string, now time.Time) (string, error) {
	if iv != "" {
		if since != "" || until != "" {
			return "", usagef("--interval cannot be combined with --since or --until")
		}
		if _, _, err := client.ParseInterval(iv); err != nil {
			// The client's error names its own field and has its own
			// prefix: say it in the words of the flag instead.
			var ve *client.ValidationError
			if errors.As(err, &ve) && ve.Reason != "" {
				return "", usagef("--interval %q: %s", iv, ve.Reason)
			}
			return "", usagef("--interval %q: %s", iv, strings.TrimPrefix(err.Error(), "gcusage: "))
		}
		return iv, nil
	}
	if since == "" && until == "" {
		end := now.UTC().Truncate(24 * time.Hour)
		return client.Between(end.AddDate(0, 0, -7), end), nil
	}
	end, err := when("until", until, now)
	if err != nil {
		return "", err
	}
	start := end.AddDate(0, 0, -7)
	if since != "" {
		if start, err = when("since", since, now); err != nil {
			return "", err
		}
	}
	if !start.Before(end) {
		return "", usagef("--since %s is not before --until %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return client.Between(start, end), nil
}

// when reads a point in time: a duration back from now (7d, 36h), a date
// (midnight UTC) or a date-time (UTC when it has no offset). Empty is now.
func when(flagName, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now.UTC(), nil
	}
	if n, err := strconv.Atoi(strings.TrimSuffix(s, "d")); err == nil && strings.HasSuffix(s, "d") && n >= 0 {
		return now.UTC().AddDate(0, 0, -n), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.UTC().Add(-d), nil
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339Nano, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usagef("--%s %q: want a duration back from now (7d, 36h), a date (2024-01-31) or a date-time (2024-01-31T12:00:00Z)", flagName, s)
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
