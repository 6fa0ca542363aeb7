package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// What the page shows of each section.
const (
	// ChartClients is how many clients the per-day charts show apart;
	// the rest are one series, "Other clients".
	ChartClients = 8
	// TableClients is how many clients the top clients table lists.
	TableClients = 50
	// TableEndpoints is how many endpoints each top endpoints table lists.
	TableEndpoints = 15
)

// OtherClients names the series and the table row of the clients not
// shown apart.
const OtherClients = "Other clients"

// Report is what the page shows, computed from a Builder's sums.
type Report struct {
	Meta Meta
	// Sections are the report's parts: the first across all; then, when
	// the builder has named sections, one per name in order of first use.
	Sections []*SectionReport
}

// SectionReport is one section of a report.
type SectionReport struct {
	// Name is the section's, "" for the one across all.
	Name string
	// Host is the region or API host of the section's numbers, as
	// Section.SetHost named it; "" when Meta.Host is every section's.
	Host string
	// Failed is why the section did not finish (Section.Fail), or "". A
	// failed section has no sums: they count nowhere.
	Failed string
	// Totals are the sums of the section's ClientDay rows over the
	// interval, and Days the same per UTC day, from Meta.First.
	Totals Counts
	Days   []Counts
	// Clients are the section's OAuth clients kept apart, most requests
	// first; Lumped sums those past Limits.Clients, of LumpedRows rows.
	Clients    []ClientTotal
	Lumped     Counts
	LumpedRows int64
	// Endpoints are the endpoints kept apart, most requests first, and
	// EndpointTotals the sums of every Endpoint row.
	Endpoints      []EndpointTotal
	EndpointTotals Counts
	// Notes say what a reader must know to read the numbers right: where
	// the counters disagree, or rows were lumped together.
	Notes []string

	rows, endpointRows int64
	lumpedEP           Counts
	lumpedEPRows       int64
	byRequests, by429  []int // indexes into Clients of the charts' clients
	labels             []string
	colors             []string
	series             [][]int64 // of each client: requests per day, then 429s per day
	endpointsBy429     []EndpointTotal
}

// ClientTotal is one OAuth client's sums over the interval.
type ClientTotal struct {
	ID, Name string // Name is the latest the rows gave
	// Org is the name of the section the client belongs to, in the
	// section across several; "" otherwise.
	Org string
	Counts
}

// EndpointTotal is one template URI and method's sums over the interval.
type EndpointTotal struct {
	TemplateURI, HTTPMethod string
	Counts
}

// Report computes the report of the rows added so far.
func (b *Builder) Report() *Report {
	b.mu.Lock()
	defer b.mu.Unlock()
	all := b.across().report("")
	r := &Report{Meta: b.m, Sections: []*SectionReport{all}}
	var failed []string
	for _, s := range b.sections {
		if s.failed != "" {
			r.Sections = append(r.Sections, &SectionReport{Name: s.name, Host: s.host, Failed: s.failed})
			failed = append(failed, s.name)
			continue
		}
		sr := s.agg.report(s.name)
		sr.Host = s.host
		r.Sections = append(r.Sections, sr)
	}
	if len(failed) > 0 {
		all.Notes = append(all.Notes, fmt.Sprintf("%d of %d organizations did not finish, and count nowhere in this report: %s (see %s below).",
			len(failed), len(b.sections), strings.Join(failed, ", "), plural(len(failed), "its section", "their sections")))
	}
	return r
}

// The palette of the clients shown apart (ECharts' own first nine, then
// more of the same weight), and the colors of the series that are no client.
var palette = []string{"#5470c6", "#91cc75", "#fac858", "#ee6666", "#73c0de", "#3ba272",
	"#fc8452", "#9a60b4", "#ea7ccc", "#2f4554", "#d97706", "#61a0a8", "#d48265", "#749f83", "#ca8622", "#bda29a"}

const (
	colorOther = "#a0a7b4"
	color4xx   = "#fac858"
	color5xx   = "#ee6666"
)

func (a *agg) report(name string) *SectionReport {
	s := &SectionReport{
		Name: name, Totals: a.total, Days: slices.Clone(a.days),
		Lumped: a.lumped, LumpedRows: a.lumpedRows,
		EndpointTotals: a.endpointSum, rows: a.rows, endpointRows: a.endpointRows,
		lumpedEP: a.lumpedEP, lumpedEPRows: a.lumpedEPRows,
	}
	cs := slices.Clone(a.clients)
	slices.SortStableFunc(cs, func(x, y *clientAgg) int {
		return cmp.Or(cmp.Compare(y.total.Requests, x.total.Requests), cmp.Compare(x.key, y.key))
	})
	for _, c := range cs {
		s.Clients = append(s.Clients, ClientTotal{ID: c.id, Name: c.name, Org: c.org, Counts: c.total})
		s.series = append(s.series, c.series)
	}
	s.byRequests = s.top(func(c ClientTotal) int64 { return c.Requests }, ChartClients)
	s.by429 = s.top(func(c ClientTotal) int64 { return c.Status429 }, ChartClients)
	for _, e := range a.endpoints {
		s.Endpoints = append(s.Endpoints, EndpointTotal{TemplateURI: e.template, HTTPMethod: e.method, Counts: e.total})
	}
	byKey := func(x, y EndpointTotal) int {
		return cmp.Or(cmp.Compare(x.TemplateURI, y.TemplateURI), cmp.Compare(x.HTTPMethod, y.HTTPMethod))
	}
	slices.SortFunc(s.Endpoints, func(x, y EndpointTotal) int {
		return cmp.Or(cmp.Compare(y.Requests, x.Requests), byKey(x, y))
	})
	for _, e := range s.Endpoints {
		if e.Status429 > 0 {
			s.endpointsBy429 = append(s.endpointsBy429, e)
		}
	}
	slices.SortStableFunc(s.endpointsBy429, func(x, y EndpointTotal) int { return cmp.Compare(y.Status429, x.Status429) })
	s.label()
	s.notes()
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// top returns the indexes of the n clients with the most of by, of those
// with any, most first (then as Clients orders them).
func (s *SectionReport) top(by func(ClientTotal) int64, n int) []int {
	var idx []int
	for i, c := range s.Clients {
		if by(c) > 0 {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(i, j int) int { return cmp.Compare(by(s.Clients[j]), by(s.Clients[i])) })
	return idx[:min(n, len(idx))]
}

// label names each client for the page: by its latest name, or its id
// when it has none, after its section's name in the section across
// several ("acme-prod / CRM sync"), with the start of its id added where
// labels repeat (or take the name of the other clients' series), so that
// every legend entry and table row names one client. Colors follow the
// clients across the charts: the requests chart's first, then the 429
// chart's others.
func (s *SectionReport) label() {
	s.labels = make([]string, len(s.Clients))
	seen := map[string]int{OtherClients: 1}
	for i, c := range s.Clients {
		l := c.Name
		switch {
		case l == "" && c.ID == "":
			l = "(no client id)"
		case l == "":
			l = c.ID
		}
		if c.Org != "" {
			l = c.Org + " / " + l
		}
		s.labels[i] = l
		seen[l]++
	}
	for i, c := range s.Clients {
		if seen[s.labels[i]] > 1 && c.ID != "" && c.Name != "" && c.Name != c.ID {
			s.labels[i] += " · " + clip(c.ID, 12)
		}
	}
	s.colors = make([]string, len(s.Clients))
	next := 0
	for _, i := range slices.Concat(s.byRequests, s.by429) {
		if s.colors[i] == "" {
			s.colors[i] = palette[next%len(palette)]
			next++
		}
	}
}

func (s *SectionReport) notes() {
	if s.rows == 0 {
		s.Notes = append(s.Notes, "No usage in this interval: the query by day and OAuth client returned no rows.")
	}
	if s.LumpedRows > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("More OAuth clients than the report keeps apart (%s): %s rows of %s requests from the clients past them are counted under %q, and in every total.",
			num(int64(len(s.Clients))), num(s.LumpedRows), num(s.Lumped.Requests), OtherClients))
	}
	if s.lumpedEPRows > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("More endpoints than the report keeps apart (%s): %s of them, with %s requests, are in no endpoint table.",
			num(int64(len(s.Endpoints))), num(s.lumpedEPRows), num(s.lumpedEP.Requests)))
	}
	var bad int
	for _, d := range s.Days {
		if d.Status429 > d.Status400 {
			bad++
		}
	}
	if bad > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("On %d days status429 exceeds status400, of which it should be a part: the counters disagree, and \"4xx without 429\" is negative there.", bad))
	}
	if s.rows > 0 && s.EndpointTotals != s.Totals {
		s.Notes = append(s.Notes, fmt.Sprintf("The query by endpoint counted %s requests, the query by day and OAuth client %s: the data may have been refreshed between the two. The totals and the per-day charts are the latter's.",
			num(s.EndpointTotals.Requests), num(s.Totals.Requests)))
	}
}
