package usagetest

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gcusage/gcusage/gen"
)

// Population sizes the synthetic organization whose usage the stub reports.
// A zero field takes its default (3 clients, 5 users, 1 organization, 4
// template URIs, 3 methods). Rows per bucket are the product of the sizes
// of the grouped dimensions, so 1000 clients over 1000 days grouped by
// OAuthClientId give a million rows.
type Population struct {
	Clients       int // OAuth clients, each with an id and a name
	Users         int
	Organizations int
	TemplateURIs  int
	Methods       int // HTTP methods, at most 9
}

var (
	clientNames = []string{"Nightly export", "CRM sync", "Wallboard", "Quality dashboard",
		"Workforce bridge", "Billing integration", "Chat widget", "Data lake loader"}
	templateURIs = []string{"api/v2/users/{userId}", "api/v2/analytics/conversations/details/query",
		"api/v2/routing/queues", "api/v2/conversations/{conversationId}", "api/v2/usage/query",
		"api/v2/oauth/clients", "api/v2/users/{userId}/presences/purecloud", "api/v2/flows"}
	httpMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE"}
)

func (p Population) withDefaults() (Population, error) {
	def := func(v *int, d int, name string) error {
		if *v < 0 {
			return fmt.Errorf("usagetest: Population.%s is %d, want 0 (default) or more", name, *v)
		}
		if *v == 0 {
			*v = d
		}
		return nil
	}
	for _, err := range []error{
		def(&p.Clients, 3, "Clients"), def(&p.Users, 5, "Users"), def(&p.Organizations, 1, "Organizations"),
		def(&p.TemplateURIs, 4, "TemplateURIs"), def(&p.Methods, 3, "Methods"),
	} {
		if err != nil {
			return p, err
		}
	}
	if p.Methods > len(httpMethods) {
		return p, fmt.Errorf("usagetest: Population.Methods is %d, want at most %d (%s)",
			p.Methods, len(httpMethods), strings.Join(httpMethods, ", "))
	}
	return p, nil
}

func (p Population) size(g gen.GroupBy) int {
	switch g {
	case gen.GroupByOAuthClientID:
		return p.Clients
	case gen.GroupByUserID:
		return p.Users
	case gen.GroupByOrganizationID:
		return p.Organizations
	case gen.GroupByTemplateURI:
		return p.TemplateURIs
	}
	return p.Methods
}

// set fills in row the fields of the i-th member of dimension g. Members
// are computed from the seed and index, never stored, so that a population
// of a million costs nothing.
func (p Population) set(row *gen.APIUsageRow, seed int64, g gen.GroupBy, i int) {
	switch g {
	case gen.GroupByOAuthClientID:
		id, name := uuid(seed, "client", i), clientNames[i%len(clientNames)]
		if i >= len(clientNames) {
			name = fmt.Sprintf("%s %d", name, i/len(clientNames)+1)
		}
		row.ClientID, row.ClientName = &id, &name
	case gen.GroupByUserID:
		id := uuid(seed, "user", i)
		row.UserID = &id
	case gen.GroupByOrganizationID:
		id := uuid(seed, "organization", i)
		row.OrganizationID = &id
	case gen.GroupByTemplateURI:
		uri := fmt.Sprintf("api/v2/generated%d/{id}", i)
		if i < len(templateURIs) {
			uri = templateURIs[i]
		}
		row.TemplateURI = &uri
	case gen.GroupByHTTPMethod:
		m := httpMethods[i]
		row.HTTPMethod = &m
	}
}

// uuid derives a version-4-shaped id from the seed, so that ids are stable
// across runs and servers with the same seed.
func uuid(seed int64, kind string, i int) string {
	r := rand.New(rand.NewPCG(uint64(seed), hashString(kind)^uint64(i)))
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// query is a validated ApiUsageQuery, ready to generate rows.
type query struct {
	start, end  time.Time
	granularity gen.Granularity
	metrics     map[gen.Metric]bool
	groupBy     []gen.GroupBy // without repeats
}

// parseQuery checks what the spec cannot: that the interval really parses
// and does not end before it starts.
func parseQuery(q gen.APIUsageQuery) (query, error) {
	var out query
	from, to, ok := strings.Cut(q.Interval, "/")
	var err error
	if ok {
		if out.start, err = parseInstant(from); err == nil {
			out.end, err = parseInstant(to)
		}
	}
	if !ok || err != nil {
		return out, fmt.Errorf("interval '%s': want an ISO-8601 interval start/end such as 2024-01-01T00:00:00.000Z/2024-01-08T00:00:00.000Z", q.Interval)
	}
	if !out.start.Before(out.end) {
		return out, fmt.Errorf("interval '%s': the end must be after the start", q.Interval)
	}
	out.granularity = gen.GranularityDay
	if q.Granularity != nil {
		out.granularity = *q.Granularity
	}
	out.metrics = map[gen.Metric]bool{}
	for _, m := range q.Metrics {
		out.metrics[m] = true
	}
	if len(out.metrics) == 0 {
		for _, m := range []gen.Metric{gen.MetricStatus200, gen.MetricStatus300, gen.MetricStatus400,
			gen.MetricStatus500, gen.MetricStatus429, gen.MetricRequests} {
			out.metrics[m] = true
		}
	}
	seen := map[gen.GroupBy]bool{}
	for _, g := range q.GroupBy {
		if !seen[g] {
			seen[g] = true
			out.groupBy = append(out.groupBy, g)
		}
	}
	return out, nil
}

// parseInstant accepts the forms Genesys documents: a date, or a date-time
// with or without fractional seconds and zone (no zone means UTC).
func parseInstant(s string) (time.Time, error) {
	var err error
	for _, layout := range []string{"2006-01-02", time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04:05-0700",
		"2006-01-02T15:04:05-07", "2006-01-02T15:04Z07:00", "2006-01-02T15:04"} {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, err
}

// bucket returns the UTC start of the bucket holding t and the next one.
func bucket(g gen.Granularity, t time.Time) (start, next time.Time) {
	y, m, d := t.UTC().Date()
	switch g {
	case gen.GranularityWeek:
		day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		start = day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // ISO weeks start on Monday
		return start, start.AddDate(0, 0, 7)
	case gen.GranularityMonth:
		start = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	}
	start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 0, 1)
}

// rows yields one row per bucket meeting [start, end) per combination of
// the groupBy members, generating each on demand so that memory stays flat
// however many rows there are.
func (q query) rows(seed int64, p Population) iter.Seq[gen.APIUsageRow] {
	return func(yield func(gen.APIUsageRow) bool) {
		idx := make([]int, len(q.groupBy))
		for b, next := bucket(q.granularity, q.start); b.Before(q.end); b, next = bucket(q.granularity, next) {
			clear(idx)
			for {
				if !yield(q.row(seed, p, b, idx)) {
					return
				}
				// Advance idx like an odometer, last groupBy fastest.
				k := len(idx) - 1
				for ; k >= 0; k-- {
					if idx[k]++; idx[k] < p.size(q.groupBy[k]) {
						break
					}
					idx[k] = 0
				}
				if k < 0 {
					break
				}
			}
		}
	}
}

// row derives the counters from the seed, granularity, bucket and members
// only, not from the metrics asked for, so that two queries that differ
// only in metrics agree on every counter they share.
func (q query) row(seed int64, p Population, b time.Time, idx []int) gen.APIUsageRow {
	var row gen.APIUsageRow
	h := hashString(string(q.granularity)) ^ uint64(b.Unix())
	for k, g := range q.groupBy {
		p.set(&row, seed, g, idx[k])
		h = (h ^ hashString(string(g)) ^ uint64(idx[k])) * 1099511628211
	}
	r := rand.New(rand.NewPCG(uint64(seed), h))
	scale := int64(1)
	switch q.granularity {
	case gen.GranularityWeek:
		scale = 7
	case gen.GranularityMonth:
		scale = 30
	}
	s200 := r.Int64N(2000) * scale
	s300 := r.Int64N(20) * scale
	s400 := r.Int64N(200) * scale
	s429 := r.Int64N(s400 + 1)
	s500 := r.Int64N(10) * scale
	total := s200 + s300 + s400 + s500
	for _, c := range []struct {
		m   gen.Metric
		dst **int64
		v   int64
	}{
		{gen.MetricStatus200, &row.Status200, s200}, {gen.MetricStatus300, &row.Status300, s300},
		{gen.MetricStatus400, &row.Status400, s400}, {gen.MetricStatus429, &row.Status429, s429},
		{gen.MetricStatus500, &row.Status500, s500}, {gen.MetricRequests, &row.Requests, total},
	} {
		if q.metrics[c.m] {
			*c.dst = &c.v
		}
	}
	row.Date = &b
	return row
}
