package client

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gcusage/gcusage/gen"
)

// Query is a usage query. The zero values of Granularity, Metrics and
// GroupBy leave the choice to the API: without a granularity the rows are
// totals over the whole interval, one per group, with a zero Date; without
// metrics every counter is counted; without groupBy the rows are per OAuth
// client.
type Query struct {
	// Interval is an ISO-8601 interval start/end of any precision:
	// 2020-01/2020-06, 2020-02-01/2020-02-28 (an end of reduced precision
	// counts in full: February 28 is included), or date-times with any
	// offset, 2024-01-01T00:00:00Z/2024-01-08T00:00:00Z. Between builds one
	// from two times, Days from two dates. Today is never counted.
	Interval    string
	Granularity gen.Granularity
	Metrics     []gen.Metric
	GroupBy     []gen.GroupBy
}

var (
	granularities = []gen.Granularity{gen.GranularityDay, gen.GranularityWeek, gen.GranularityMonth}
	metrics       = []gen.Metric{gen.MetricStatus200, gen.MetricStatus300, gen.MetricStatus400, gen.MetricStatus500, gen.MetricStatus429, gen.MetricRequests}
	groupBys      = []gen.GroupBy{gen.GroupByOAuthClientID, gen.GroupByOrganizationID, gen.GroupByUserID, gen.GroupByTemplateURI, gen.GroupByHTTPMethod}
)

// Granularities lists the values Query.Granularity accepts, in the order of
// Genesys' documentation (the generated constants are sorted by name).
func Granularities() []gen.Granularity { return slices.Clone(granularities) }

// Metrics lists the values Query.Metrics accepts, in documentation order.
func Metrics() []gen.Metric { return slices.Clone(metrics) }

// GroupBys lists the values Query.GroupBy accepts, in documentation order.
func GroupBys() []gen.GroupBy { return slices.Clone(groupBys) }

// Between formats the interval from start to end in UTC with milliseconds,
// the form of Genesys' own examples.
func Between(start, end time.Time) string {
	const layout = "2006-01-02T15:04:05.000Z07:00"
	return start.UTC().Format(layout) + "/" + end.UTC().Format(layout)
}

// Days formats the whole UTC days from first to last, both included, as
// the API reads a date-only interval: Days(jan1, jan7) is
// 2024-01-01/2024-01-07, seven days. The times' clocks are ignored.
func Days(first, last time.Time) string {
	return first.UTC().Format(time.DateOnly) + "/" + last.UTC().Format(time.DateOnly)
}

// ParseInterval reads an interval as Query.Interval takes it: ISO-8601
// start/end of any precision the API accepts, year (2020), year and month
// (2020-01), date (2020-02-01), or date-time with or without a fraction and
// an offset (no offset is UTC). It returns the instants the interval starts
// and stops at. An end of reduced precision counts in full, as the API
// reads it: 2020-02-01/2020-02-28 stops at the start of February 29, and
// 2020-01/2020-06 at the start of July. Its error is a *ValidationError
// naming the interval.
func ParseInterval(s string) (start, end time.Time, err error) {
	bad := func(reason string) (time.Time, time.Time, error) {
		return time.Time{}, time.Time{}, &ValidationError{Field: "interval", Value: s, Reason: reason}
	}
	a, b, ok := strings.Cut(s, "/")
	if !ok || strings.Contains(b, "/") {
		return bad("want start/end, such as 2024-01-01/2024-01-07, 2024-01/2024-03 or 2024-01-01T00:00:00Z/2024-01-08T00:00:00Z")
	}
	start, _, ok = parseInstant(a)
	if !ok {
		return bad("start " + quote(a) + " is not an ISO-8601 year, month, date or date-time")
	}
	end, next, ok := parseInstant(b)
	if !ok {
		return bad("end " + quote(b) + " is not an ISO-8601 year, month, date or date-time")
	}
	end = next(end)
	if end.Before(start) {
		return bad("end is before start")
	}
	if !end.After(start) {
		return bad("end equals start: the interval is empty")
	}
	return start, end, nil
}

// instantLayouts are the forms of the spec's interval pattern, each with
// what an end of that precision adds to count in full.
var instantLayouts = []struct {
	layout string
	next   func(time.Time) time.Time
}{
	{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
	{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
	{time.DateOnly, func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
}

// parseInstant reads one end of an interval, in UTC.
func parseInstant(s string) (time.Time, func(time.Time) time.Time, bool) {
	// Go's parser takes a comma before a fraction, and more digits in a
	// year or a zone than the spec's pattern admits; the API does not.
	if !intervalEnd.MatchString(s) {
		return time.Time{}, nil, false
	}
	for _, l := range instantLayouts {
		if t, err := time.Parse(l.layout, s); err == nil {
			return t, l.next, true
		}
	}
	same := func(t time.Time) time.Time { return t }
	for _, hms := range []string{"15:04:05", "15:04", "15"} {
		for _, zone := range []string{"Z07:00", "Z0700", "Z07", ""} {
			if t, err := time.Parse("2006-01-02T"+hms+zone, s); err == nil {
				return t.UTC(), same, true
			}
		}
	}
	return time.Time{}, nil, false
}

// intervalEnd is one end of the spec's interval pattern (api/usage.yaml).
var intervalEnd = regexp.MustCompile(`^\d{4}(-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?)?$`)

// Validate checks what the API would refuse, so that a bad query fails
// before anything is sent, with an error naming the field, the value and
// what is allowed.
func (q Query) Validate() error {
	if q.Interval == "" {
		return &ValidationError{Field: "interval", Reason: "required: start/end, such as 2024-01-01T00:00:00Z/2024-01-08T00:00:00Z"}
	}
	if _, _, err := ParseInterval(q.Interval); err != nil {
		return err
	}
	if q.Granularity != "" && !q.Granularity.Valid() {
		return &ValidationError{Field: "granularity", Value: string(q.Granularity), Allowed: strs(granularities)}
	}
	if err := checkEnums("metrics", q.Metrics, metrics); err != nil {
		return err
	}
	return checkEnums("groupBy", q.GroupBy, groupBys)
}

// notAfterToday refuses an interval that ends after today, the UTC date of
// now: the API has no usage past yesterday, and an end years ahead would
// make RunJobs start a job per 90 days of it. An end today (a date) or at
// its end (a date-time) is taken.
func notAfterToday(interval string, now time.Time) error {
	_, end, err := ParseInterval(interval)
	if err != nil {
		return err
	}
	y, m, d := now.UTC().Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if tomorrow := today.AddDate(0, 0, 1); end.After(tomorrow) {
		return &ValidationError{Field: "interval", Value: interval,
			Reason: fmt.Sprintf("ends after today: the latest end allowed is today, %s (%s as a date-time); today's usage is not counted yet",
				today.Format(time.DateOnly), tomorrow.Format(time.RFC3339))}
	}
	return nil
}

func checkEnums[T interface {
	~string
	Valid() bool
}](field string, vs, allowed []T) error {
	for i, v := range vs {
		name := fmt.Sprintf("%s[%d]", field, i)
		if !v.Valid() {
			return &ValidationError{Field: name, Value: string(v), Allowed: strs(allowed)}
		}
		if j := slices.Index(vs[:i], v); j >= 0 {
			return &ValidationError{Field: name, Value: string(v), Reason: fmt.Sprintf("duplicate of %s[%d]", field, j)}
		}
	}
	return nil
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// checkID refuses an id that is not one path segment: empty, "." or "..",
// or holding a slash or a control character would make the request reach
// another resource with the bearer token.
func checkID(field, id string) error {
	bad := func(reason string) error { return &ValidationError{Field: field, Value: id, Reason: reason} }
	switch {
	case id == "":
		return bad("required")
	case id == "." || id == "..":
		return bad("not an id")
	case strings.ContainsAny(id, "/\\?#"):
		return bad("must not contain / \\ ? or #")
	case strings.ContainsFunc(id, unicode.IsControl):
		return bad("must not contain control characters")
	}
	return nil
}
