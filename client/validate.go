package client

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gcusage/gcusage/gen"
)

// Query is a usage query. The zero values of Granularity, Metrics and
// GroupBy leave the choice to the API (its default bucket, all metrics, no
// grouping).
type Query struct {
	// Interval is an ISO-8601 interval start/end of date-times with any
	// offset or of dates: 2024-01-01T00:00:00Z/2024-01-08T00:00:00Z,
	// 2020-02-01/2020-02-28. Between builds one from two times.
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

// ParseInterval reads an interval as Query.Interval takes it. Its error is a
// *ValidationError naming the interval.
func ParseInterval(s string) (start, end time.Time, err error) {
	bad := func(reason string) (time.Time, time.Time, error) {
		return time.Time{}, time.Time{}, &ValidationError{Field: "interval", Value: s, Reason: reason}
	}
	if strings.Contains(s, ",") { // RFC 3339 parsing takes it; the API does not
		return bad("a fraction of a second takes a dot, not a comma")
	}
	a, b, ok := strings.Cut(s, "/")
	if !ok || strings.Contains(b, "/") {
		return bad("want start/end, such as 2024-01-01T00:00:00Z/2024-01-08T00:00:00Z or 2024-01-01/2024-01-08")
	}
	if start, ok = ParseTime(a); !ok {
		return bad(fmt.Sprintf("start %q is not an RFC 3339 date-time or a date", a))
	}
	if end, ok = ParseTime(b); !ok {
		return bad(fmt.Sprintf("end %q is not an RFC 3339 date-time or a date", b))
	}
	if end.Before(start) {
		return bad("end is before start")
	}
	if end.Equal(start) {
		return bad("end equals start: the interval is empty")
	}
	return start, end, nil
}

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
