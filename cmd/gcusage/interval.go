package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gcusage/gcusage/client"
)

// SpanOptions are --interval, --since and --until, which query, search and
// jobs query take alike.
type SpanOptions struct {
	Interval, Since, Until string
}

// addSpanFlags defines the three flags on fs; ivUsage says what --interval
// takes for that command.
func addSpanFlags(fs *pflag.FlagSet, s *SpanOptions, ivUsage string) {
	fs.StringVar(&s.Interval, "interval", "", ivUsage)
	fs.StringVar(&s.Since, "since", "", "start: a number of `days` back from today (7d), a duration back from now (36h), a date (2024-01-31) or a date-time")
	fs.StringVar(&s.Until, "until", "", "end: a `time` in the forms of --since, a date included (default: the end of yesterday)")
}

// interval turns the flags into the query's interval, at now, by the rule
// of bounds, by default the last 7 full UTC days. When both ends fall on
// midnight the interval is written as dates, whose end the API includes;
// an --interval that is not cut is sent as given.
func (s SpanOptions) interval(now time.Time) (iv, note string, err error) {
	start, end, note, err := s.bounds(now, 7)
	switch {
	case err != nil:
		return "", "", err
	case s.Interval != "" && note == "":
		return s.Interval, "", nil
	}
	return span(start, end), note, nil
}

// days turns the flags into whole UTC days, from first to last, both
// included, by the rule of bounds, by default the last n full days: for
// a command that counts per day, such as the report. An end that is not
// a midnight UTC is a usage error that names its flag.
func (s SpanOptions) days(now time.Time, n int) (first, last time.Time, note string, err error) {
	start, end, note, err := s.bounds(now, n)
	if err != nil {
		return time.Time{}, time.Time{}, "", err
	}
	for _, b := range []struct {
		t          time.Time
		flag, text string
	}{{end, "--until", s.Until}, {start, "--since", s.Since}} { // a start without --since is the end's
		if b.t.Equal(b.t.Truncate(24 * time.Hour)) {
			continue
		}
		if s.Interval != "" {
			b.flag, b.text = "--interval", s.Interval
		}
		return time.Time{}, time.Time{}, "", usagef("%s %s: whole UTC days are counted here: give dates (2024-01-31) or days back from today (30d)", b.flag, b.text)
	}
	return start, end.AddDate(0, 0, -1), note, nil
}

// bounds turns the flags into the start and the end (excluded) of an
// interval, at now, by one rule for the three flags and every command:
// usage is counted up to the end of yesterday (UTC). An interval that
// reaches into today or later is cut to end at the start of today, and
// note says so; one that starts today or later is a usage error, since it
// could count nothing. With none of the flags it is the last n full UTC
// days. note is what the command says on stderr about a cut, once its
// other flags are checked too.
func (s SpanOptions) bounds(now time.Time, n int) (start, end time.Time, note string, err error) {
	today := now.UTC().Truncate(24 * time.Hour)
	yesterday := today.AddDate(0, 0, -1).Format(time.DateOnly)
	future := func(flag, value string, start time.Time) error {
		when := "starts today"
		if !start.Before(today.AddDate(0, 0, 1)) {
			when = "is in the future"
		}
		return usagef("%s %s %s: usage is counted up to yesterday, %s", flag, value, when, yesterday)
	}
	var none time.Time
	if s.Interval != "" {
		if s.Since != "" || s.Until != "" {
			return none, none, "", usagef("--interval cannot be combined with --since or --until")
		}
		start, end, err := client.ParseInterval(s.Interval)
		switch {
		case err != nil:
			return none, none, "", usagef("--interval %q: %s", s.Interval, reason(err))
		case !start.Before(today):
			return none, none, "", future("--interval", s.Interval, start)
		case !end.After(today):
			return start, end, "", nil
		}
		return start, today, fmt.Sprintf("--interval %s reaches into today or later: cut to %s, as usage is counted up to yesterday, %s", s.Interval, span(start, today), yesterday), nil
	}
	end = today
	if s.Until != "" {
		t, err := when("until", s.Until, now, true)
		if err != nil {
			return none, none, "", err
		}
		if t.After(today) {
			note = fmt.Sprintf("--until %s reaches into today or later: the interval ends yesterday, %s, as usage is counted up to then", s.Until, yesterday)
		} else {
			end = t
		}
	}
	start = end.AddDate(0, 0, -n)
	if s.Since != "" {
		if start, err = when("since", s.Since, now, false); err != nil {
			return none, none, "", err
		}
		if !start.Before(today) {
			return none, none, "", future("--since", s.Since, start)
		}
	}
	if !start.Before(end) {
		return none, none, "", usagef("--since %s is not before --until %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return start, end, note, nil
}

// span writes the interval from start to end (excluded): as dates, end
// included, when both fall on midnight UTC, as the API reads a date-only
// end; else as date-times.
func span(start, end time.Time) string {
	if start.Equal(start.Truncate(24*time.Hour)) && end.Equal(end.Truncate(24*time.Hour)) {
		return client.Days(start, end.AddDate(0, 0, -1))
	}
	return client.Between(start, end)
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
