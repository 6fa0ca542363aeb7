package usagetest

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/gcusage/gcusage/gen"
)

// Population sizes the synthetic organization whose usage the stub reports.
// A zero field takes its default (3 clients, 5 users, 1 organization, 4
// template URIs, 3 methods).
//
// Usage is counted per day in cells, one per OAuth client, user,
// organization, template URI and method that the client calls, and every
// row of every query is the sum of the cells of its group, so that the
// organization's traffic over a day is the same however a query groups it.
// A client belongs to one organization and calls with up to 20 users, up
// to 8 template URIs and every method: beyond that, each client takes the
// next members in turn (client 0 users 0 to 19, client 1 users 20 to 39,
// and so on), and members no client reaches have no traffic. The default
// population is thus every combination: 60 cells a client. A client has no
// traffic at all on about one day in seven, so about one group-day in
// seven has no row when grouped by OAuthClientId: 1000 clients over 1000
// days, daily and grouped by OAuthClientId, give some 857,000 rows.
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

// The dimensions of a cell, in the order of cell.member.
const (
	dimClient = iota
	dimUser
	dimOrganization
	dimTemplate
	dimMethod
	numDims
)

// perClient caps how many members of each dimension one client's cells
// reach, so that the cost of a day stays bounded by the clients however
// many users or templates there are (at most 1440 cells a client), while
// the populations of the tests, such as 8 templates and 9 methods, or 50
// users over 3 clients, have traffic on every member.
var perClient = [numDims]int{dimClient: 1, dimUser: 20, dimOrganization: 1, dimTemplate: 8, dimMethod: len(httpMethods)}

// dimOf is the dimension that g groups by.
func dimOf(g gen.GroupBy) int {
	switch g {
	case gen.GroupByOAuthClientID:
		return dimClient
	case gen.GroupByUserID:
		return dimUser
	case gen.GroupByOrganizationID:
		return dimOrganization
	case gen.GroupByTemplateURI:
		return dimTemplate
	}
	return dimMethod
}

func (p Population) sizes() [numDims]int {
	return [numDims]int{p.Clients, p.Users, p.Organizations, p.TemplateURIs, p.Methods}
}

// set fills in row the fields of the i-th member of dimension g. Members
// are computed from the seed and index, never stored, so that a population
// of a million costs nothing.
func (p Population) set(row *gen.APIUsageRow, seed int64, g gen.GroupBy, i int) {
	switch g {
	case gen.GroupByOAuthClientID:
		row.ClientID, row.ClientName = uuid(seed, "client", i), clientNames[i%len(clientNames)]
		if i >= len(clientNames) {
			row.ClientName = fmt.Sprintf("%s %d", row.ClientName, i/len(clientNames)+1)
		}
	case gen.GroupByUserID:
		row.UserID = uuid(seed, "user", i)
	case gen.GroupByOrganizationID:
		row.OrganizationID = uuid(seed, "organization", i)
	case gen.GroupByTemplateURI:
		row.TemplateURI = fmt.Sprintf("api/v2/generated%d/{id}", i)
		if i < len(templateURIs) {
			row.TemplateURI = templateURIs[i]
		}
	case gen.GroupByHTTPMethod:
		row.HTTPMethod = httpMethods[i]
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

// mix is the finalizer of splitmix64: a few nanoseconds, which matters
// because every row of a month or a total sums some thirty daily ones.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// firstDay is the first day with data: the API's history goes back to 2018.
var firstDay = time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)

const secondsPerDay = 24 * 60 * 60

// dayOf numbers the UTC day holding t, counted from 1970-01-01.
func dayOf(t time.Time) int64 { return t.UTC().Truncate(24*time.Hour).Unix() / secondsPerDay }

func dayTime(d int64) time.Time { return time.Unix(d*secondsPerDay, 0).UTC() }

// allMetrics are the counters in the order of a row's keys.
var allMetrics = [...]gen.Metric{gen.MetricStatus200, gen.MetricStatus300, gen.MetricStatus400,
	gen.MetricStatus500, gen.MetricStatus429, gen.MetricRequests}

// query is a validated ApiUsageQuery, ready to generate rows.
type query struct {
	start, end  time.Time             // [start, end): a reduced-precision end is already moved past its period
	granularity gen.Granularity       // "" for one total per group over the whole interval
	metrics     [len(allMetrics)]bool // indexed as allMetrics
	groupBy     []gen.GroupBy         // without repeats; OAuthClientId when the query has none
	// keep, when set, picks the groups that have rows (one client's, the
	// filters of a search); project, when set, reshapes each row.
	keep    func(*gen.APIUsageRow) bool
	project func(*gen.APIUsageRow)
}

// parseQuery checks what the spec cannot: that the interval really parses
// and does not end before it starts.
func parseQuery(q gen.APIUsageQuery) (query, error) {
	var out query
	var err error
	if out.start, out.end, err = parseInterval(q.Interval); err != nil {
		return out, err
	}
	if q.Granularity != nil {
		out.granularity = *q.Granularity
	}
	for i, m := range allMetrics {
		out.metrics[i] = len(q.Metrics) == 0 || slices.Contains(q.Metrics, m)
	}
	seen := map[gen.GroupBy]bool{}
	for _, g := range q.GroupBy {
		if !seen[g] {
			seen[g] = true
			out.groupBy = append(out.groupBy, g)
		}
	}
	if len(out.groupBy) == 0 {
		out.groupBy = []gen.GroupBy{gen.GroupByOAuthClientID} // the API's default
	}
	return out, nil
}

// datesMessage is the real API's message of a 400 invalid.date; the stub
// adds what was wrong after it.
const datesMessage = "Dates must be specified as ISO-8601 strings. For example: yyyy-MM-ddTHH:mm:ss.SSSZ"

const intervalForms = "want an ISO-8601 interval start/end such as 2024-01-01T00:00:00.000Z/2024-01-08T00:00:00.000Z, " +
	"2024-01-01/2024-01-07, 2024-01/2024-06 or 2024/2025"

// parseInterval reads every form the spec's pattern admits. An end of
// reduced precision (a year, a month, a date) is inclusive, as the API
// counts it, so it is moved to the start of the next period; a date-time
// end is exclusive.
func parseInterval(s string) (start, end time.Time, err error) {
	from, to, ok := strings.Cut(s, "/")
	var endOf time.Time
	if ok {
		if start, _, err = parseInstant(from); err == nil {
			_, endOf, err = parseInstant(to)
		}
	}
	if !ok || err != nil {
		return start, end, fmt.Errorf("interval '%s': %s", s, intervalForms)
	}
	if !start.Before(endOf) {
		return start, end, fmt.Errorf("interval '%s': the end must be after the start", s)
	}
	return start, endOf, nil
}

// parseInstant reads a year, a year-month, a date or a date-time (hours,
// then optional minutes, seconds and fraction, then an optional zone: Z,
// ±hh, ±hhmm or ±hh:mm; none means UTC). It returns the instant s starts
// at, and the one after the period s names: the next year, month or day
// for reduced precision, the instant itself for a date-time.
func parseInstant(s string) (at, after time.Time, err error) {
	bad := fmt.Errorf("'%s' is not a year, year-month, date or date-time", s)
	i := 0
	num := func(n, lo, hi int) (int, bool) {
		if i+n > len(s) {
			return 0, false
		}
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		i += n
		return v, v >= lo && v <= hi
	}
	sep := func(c byte) bool {
		if i < len(s) && s[i] == c {
			i++
			return true
		}
		return false
	}
	y, ok := num(4, 0, 9999)
	if !ok {
		return at, after, bad
	}
	if i == len(s) {
		at = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		return at, at.AddDate(1, 0, 0), nil
	}
	if !sep('-') {
		return at, after, bad
	}
	m, ok := num(2, 1, 12)
	if !ok {
		return at, after, bad
	}
	if i == len(s) {
		at = time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		return at, at.AddDate(0, 1, 0), nil
	}
	if !sep('-') {
		return at, after, bad
	}
	d, ok := num(2, 1, 31)
	if !ok || d > time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return at, after, bad
	}
	if i == len(s) {
		at = time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
		return at, at.AddDate(0, 0, 1), nil
	}
	if !sep('T') {
		return at, after, bad
	}
	var hh, mm, ss, nanos int
	if hh, ok = num(2, 0, 23); !ok {
		return at, after, bad
	}
	if sep(':') {
		if mm, ok = num(2, 0, 59); !ok {
			return at, after, bad
		}
		if sep(':') {
			if ss, ok = num(2, 0, 59); !ok {
				return at, after, bad
			}
			if sep('.') {
				digits := 0
				for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
					if digits++; digits <= 9 {
						nanos = nanos*10 + int(s[i]-'0')
					}
				}
				if digits == 0 {
					return at, after, bad
				}
				for ; digits < 9; digits++ {
					nanos *= 10
				}
			}
		}
	}
	zone := time.UTC
	switch {
	case sep('Z'):
	case i < len(s) && (s[i] == '+' || s[i] == '-'):
		sign := 1
		if s[i] == '-' {
			sign = -1
		}
		i++
		oh, ok := num(2, 0, 23)
		if !ok {
			return at, after, bad
		}
		om := 0
		if i < len(s) {
			sep(':')
			if om, ok = num(2, 0, 59); !ok {
				return at, after, bad
			}
		}
		zone = time.FixedZone("", sign*(oh*3600+om*60))
	}
	if i != len(s) {
		return at, after, bad
	}
	at = time.Date(y, time.Month(m), d, hh, mm, ss, nanos, zone).UTC()
	return at, at, nil
}

// counts are the counters of one day, or the sum of several.
type counts struct{ s200, s300, s400, s500, s429 int64 }

// A cell is one client's traffic with one user, organization, template
// URI and method: the finest grain of the data, which every row sums.
type cell struct {
	member [numDims]int // the index of each member, as Population.set takes it
	key    uint64       // from the seed and the members: the cell's counters
	active uint64       // from the seed and the client: the client's idle days
	scale  uint64       // how busy the cell is, from 1 to 8
}

// dimSalt sets the dimensions apart in a cell's key.
var dimSalt = [numDims]uint64{hashString("client"), hashString("user"), hashString("organization"),
	hashString("template"), hashString("method")}

// cells yields the cells whose members are those of fixed where fixed is
// 0 or more (any member where it is -1), each once, in order of client.
// A client c reaches the members of a dimension of size n from c*k on,
// k = min(n, perClient), modulo n: so the cells with a given member are
// found without a scan, and the whole of a small dimension is reached by
// every client.
func (p Population) cells(seed int64, fixed [numDims]int) iter.Seq[cell] {
	return func(yield func(cell) bool) {
		size := p.sizes()
		var k [numDims]int
		for x := range k {
			k[x] = min(size[x], perClient[x])
		}
		first, last := 0, size[dimClient]
		if f := fixed[dimClient]; f >= 0 {
			first, last = f, min(f+1, last)
		}
		var c cell
		var lo, hi, slot [numDims]int
	clients:
		for client := first; client < last; client++ {
			for x := dimClient + 1; x < numDims; x++ {
				lo[x], hi[x] = 0, k[x]
				if f := fixed[x]; f >= 0 {
					j := ((f-client*k[x])%size[x] + size[x]) % size[x]
					if j >= k[x] {
						continue clients // the client does not reach that member
					}
					lo[x], hi[x] = j, j+1
				}
			}
			c.member[dimClient] = client
			c.active = mix(uint64(seed) ^ hashString("idle") ^ uint64(client))
			slot = lo
			for {
				key := mix(uint64(seed) ^ dimSalt[dimClient] ^ uint64(client))
				for x := dimClient + 1; x < numDims; x++ {
					c.member[x] = (client*k[x] + slot[x]) % size[x]
					key = mix(key ^ dimSalt[x] ^ uint64(c.member[x]))
				}
				c.key, c.scale = key, 1<<(key>>62)
				if !yield(c) {
					return
				}
				// Advance slot like an odometer, the last dimension fastest.
				x := numDims - 1
				for ; x > dimClient; x-- {
					if slot[x]++; slot[x] < hi[x] {
						break
					}
					slot[x] = lo[x]
				}
				if x == dimClient {
					break
				}
			}
		}
	}
}

// idle says whether the client of c has no traffic at all on day d (from
// 1970-01-01): about one day in seven.
func (c *cell) idle(d int64) bool { return mix(c.active^uint64(d)*0x9e3779b97f4a7c15)%7 == 0 }

// addTo adds to sum the counters of c on day d, a day its client is not
// idle: then every cell has requests. They come from one hash of the cell
// and the day, cheap because a row sums tens of cells for each of its days.
func (c *cell) addTo(sum *counts, d int64) {
	h := mix(c.key ^ uint64(d)*0x9e3779b97f4a7c15)
	s400 := h >> 9 & 0x7
	sum.s200 += int64((1 + h&0xf) * c.scale)
	sum.s300 += int64(h >> 4 & (h >> 5) & 1)            // on one cell-day in four
	sum.s500 += int64(h >> 6 & (h >> 7) & (h >> 8) & 1) // on one in eight
	sum.s400 += int64(s400)
	sum.s429 += int64((h >> 12 & 0xffff) * (s400 + 1) >> 16) // part of the 400s
}

// span is a bucket's days [from, to) within the interval and the data,
// and the date its rows carry (zero for a total).
type span struct {
	from, to int64
	date     time.Time
}

// spans lists the buckets of q that hold days with data: days the interval
// meets, from 2018-01-01 (the API's history) up to but not including the
// UTC day of now (today is never counted yet).
func (q query) spans(now time.Time) []span {
	first := max(dayOf(q.start), dayOf(firstDay))
	last := dayOf(q.end)
	if !dayTime(last).Equal(q.end) {
		last++ // the interval ends inside that day: it meets it
	}
	last = min(last, dayOf(now))
	if first >= last {
		return nil
	}
	if q.granularity == "" {
		return []span{{from: first, to: last}}
	}
	var out []span
	for b, next := bucket(q.granularity, dayTime(first)); dayOf(b) < last; b, next = bucket(q.granularity, next) {
		out = append(out, span{from: max(dayOf(b), first), to: min(dayOf(next), last), date: b})
	}
	return out
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

// rows yields, for each combination of the groupBy members, one row per
// bucket that has traffic, each the sum of the days of the bucket of the
// cells of the group, so that every grouping and every granularity of one
// interval counts the same traffic. Rows are generated on demand, so
// memory stays flat however many there are; they come group by group,
// which the API's unsorted rows allow.
func (q query) rows(seed int64, p Population, now time.Time) iter.Seq[gen.APIUsageRow] {
	return func(yield func(gen.APIUsageRow) bool) {
		spans := q.spans(now)
		if len(spans) == 0 {
			return
		}
		sums, traffic := make([]counts, len(spans)), make([]bool, len(spans))
		// spanOf is the span of each day of the spans, from the first;
		// busy lists the days on which the client of the cells at hand has
		// traffic, worked out once for all its cells.
		base := spans[0].from
		spanOf := make([]int32, spans[len(spans)-1].to-base)
		for i, sp := range spans {
			for d := sp.from; d < sp.to; d++ {
				spanOf[d-base] = int32(i)
			}
		}
		busy, client := make([]int64, 0, len(spanOf)), -1
		size := p.sizes()
		idx := make([]int, len(q.groupBy))
		for {
			var group gen.APIUsageRow
			fixed := [numDims]int{-1, -1, -1, -1, -1}
			for k, g := range q.groupBy {
				p.set(&group, seed, g, idx[k])
				fixed[dimOf(g)] = idx[k]
			}
			if q.keep == nil || q.keep(&group) {
				clear(sums)
				clear(traffic)
				for c := range p.cells(seed, fixed) {
					if c.member[dimClient] != client {
						client, busy = c.member[dimClient], busy[:0]
						for d := range int64(len(spanOf)) {
							if !c.idle(base + d) {
								busy = append(busy, d)
							}
						}
					}
					for _, d := range busy {
						i := spanOf[d]
						c.addTo(&sums[i], base+d)
						traffic[i] = true
					}
				}
				for i, sp := range spans {
					if traffic[i] && !yield(q.row(group, sums[i], sp.date)) {
						return
					}
				}
			}
			// Advance idx like an odometer, last groupBy fastest.
			k := len(idx) - 1
			for ; k >= 0; k-- {
				if idx[k]++; idx[k] < size[dimOf(q.groupBy[k])] {
					break
				}
				idx[k] = 0
			}
			if k < 0 {
				return
			}
		}
	}
}

// row sets the counters asked for and leaves the others 0, as the API
// sends them (whether it drops them instead is not known). Requests stays
// the sum of the four status counters whichever are asked for.
func (q query) row(group gen.APIUsageRow, c counts, date time.Time) gen.APIUsageRow {
	r := group
	r.Date = date
	m := &q.metrics
	if m[0] {
		r.Status200 = c.s200
	}
	if m[1] {
		r.Status300 = c.s300
	}
	if m[2] {
		r.Status400 = c.s400
	}
	if m[3] {
		r.Status500 = c.s500
	}
	if m[4] {
		r.Status429 = c.s429
	}
	if m[5] {
		r.Requests = c.s200 + c.s300 + c.s400 + c.s500
	}
	if q.project != nil {
		q.project(&r)
	}
	return r
}
