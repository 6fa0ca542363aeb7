package report

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Adder takes the rows of a report, one at a time: a Builder (the section
// across all) or one of its Sections.
type Adder interface {
	Add(Kind, Row) error
	meta() Meta
}

func (b *Builder) meta() Meta { return b.m }
func (s *Section) meta() Meta { return s.b.m }

// Builder aggregates rows as they stream into the sums a report shows, in
// memory bounded by its Limits and the interval's length, however many
// rows come. It is safe for concurrent use, so that the rows of several
// organizations may stream into their sections at once.
type Builder struct {
	m      Meta
	limits Limits

	mu       sync.Mutex
	all      *agg // the rows added to the builder itself
	sections []*Section
	byName   map[string]*Section
	// sum and endpointSum are the sums of every row counted anywhere:
	// no total of any section, that across all included, is larger, so
	// that a row that would make one pass the largest int64 is refused.
	sum, endpointSum Counts
}

// NewBuilder starts a report of the interval and service that m names.
// Its error says what is wrong with m.
func NewBuilder(m Meta, l Limits) (*Builder, error) {
	if err := m.Check(); err != nil {
		return nil, err
	}
	if l.Clients < 0 || l.Endpoints < 0 {
		return nil, fmt.Errorf("report: Limits %+v: want 0 (the default) or more", l)
	}
	if l.Clients == 0 {
		l.Clients = DefaultClients(m.Days())
	}
	if l.Endpoints == 0 {
		l.Endpoints = 5000
	}
	m.First, m.Last = day(m.First), day(m.Last)
	b := &Builder{m: m, limits: l, byName: map[string]*Section{}}
	b.all = b.newAgg()
	return b, nil
}

// Add counts r in the section across all; see Section.Add.
func (b *Builder) Add(k Kind, r Row) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.add(k, r, b.all)
}

// Section returns the section of that name, such as an organization's,
// made on first use: make them in the order the page should show them.
// The report shows first the section across all, whose sums are those of
// the rows added to the builder itself and of every section that did not
// fail (see Section.Fail). In it each section's clients stay apart, even
// those of the same client id, and are labelled by the section's name;
// endpoints, which are the API's, are summed across sections.
func (b *Builder) Section(name string) *Section {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.byName[name]; ok {
		return s
	}
	s := &Section{name: name, b: b, agg: b.newAgg()}
	b.byName[name] = s
	b.sections = append(b.sections, s)
	return s
}

// Section is a named part of a report; see Builder.Section. Its memory is
// bounded by the builder's Limits, as the builder's own is: a report of N
// sections holds N such bounded sums.
type Section struct {
	name string
	b    *Builder
	// The fields below are guarded by b.mu.
	agg    *agg // nil once failed
	host   string
	failed string
}

// SetHost names the region or API host the section's numbers come from,
// which the page shows under its name: an organization's own, when the
// Meta's Host is not every section's.
func (s *Section) SetHost(host string) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.host = host
}

// Add counts r in the section. A ClientDay row must be dated within the
// interval; no counter may be negative, and no sum, of the section or
// across all, may pass the largest int64. A row refused with an error is
// counted nowhere; so is every row of a failed section.
func (s *Section) Add(k Kind, r Row) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.failed != "" {
		return fmt.Errorf("report: section %q failed: it takes no more rows", s.name)
	}
	return s.b.add(k, r, s.agg)
}

// Fail marks the section as not finished, for reason (such as an
// organization whose queries failed, with the error): the page shows the
// section's name and reason in place of its charts and tables. Its rows,
// those added before included, count nowhere, so that no total shows a
// part of them as if it were all, and the section across all stays the
// sum of the sections shown. Their memory is released.
func (s *Section) Fail(reason string) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.failed == "" {
		s.b.sum.sub(s.agg.total)
		s.b.endpointSum.sub(s.agg.endpointSum)
		s.agg = nil
	}
	s.failed = cmp.Or(reason, "failed")
}

func (b *Builder) add(k Kind, r Row, to *agg) error {
	i, err := b.check(k, r)
	sum := &b.sum
	if k == Endpoint {
		sum = &b.endpointSum
	}
	if err == nil {
		err = sum.fits(r.Counts)
	}
	if err != nil {
		return fmt.Errorf("report: %s row %s: %w", k, describe(k, r), err)
	}
	sum.add(r.Counts)
	to.add(k, r, i)
	return nil
}

// check returns the index of a ClientDay row's day in the interval.
func (b *Builder) check(k Kind, r Row) (int, error) {
	for i, f := range r.Counts.fields() {
		if *f < 0 {
			return 0, fmt.Errorf("%s is %d: counts are never negative", counterNames[i], *f)
		}
	}
	switch k {
	case Endpoint:
		return 0, nil
	case ClientDay:
		if r.Date.IsZero() {
			return 0, fmt.Errorf("has no date: a ClientDay row is one day's")
		}
		i := int(day(r.Date).Sub(b.m.First) / (24 * time.Hour))
		if d := day(r.Date); d.Before(b.m.First) || i >= len(b.all.days) {
			return 0, fmt.Errorf("is dated %s, outside the interval %s to %s", date(d), date(b.m.First), date(b.m.Last))
		}
		return i, nil
	}
	return 0, fmt.Errorf("unknown kind")
}

func describe(k Kind, r Row) string {
	if k == Endpoint {
		return fmt.Sprintf("%q %q", clip(r.HTTPMethod, maxMethod), clip(r.TemplateURI, 80))
	}
	return fmt.Sprintf("of client %q", clip(r.ClientID, 80))
}

// agg holds the sums of one section.
type agg struct {
	days  []Counts // every client's, per day
	total Counts   // every client's over the interval
	rows  int64

	clients    []*clientAgg // first seen first
	byKey      map[string]int32
	maxClients int
	lumped     Counts // of the clients past maxClients
	lumpedRows int64

	endpoints    []*endpointAgg
	byEndpoint   map[endpointKey]int32
	maxEndpoints int
	endpointSum  Counts // every endpoint row's
	endpointRows int64
	lumpedEP     Counts
	lumpedEPRows int64
}

type clientAgg struct {
	key, id, name string
	org           string    // the section's name, in the section across several
	named         time.Time // the date of the row name came from
	total         Counts
	rows          int64
	// series holds the requests of each day, then the 429s of each day.
	series []int64
}

type endpointKey struct{ template, method string }

type endpointAgg struct {
	endpointKey
	total Counts
	rows  int64
}

func (b *Builder) newAgg() *agg {
	return &agg{
		days:         make([]Counts, b.m.Days()),
		byKey:        map[string]int32{},
		maxClients:   b.limits.Clients,
		byEndpoint:   map[endpointKey]int32{},
		maxEndpoints: b.limits.Endpoints,
	}
}

func (a *agg) add(k Kind, r Row, i int) {
	if k == Endpoint {
		a.addEndpoint(r)
		return
	}
	a.rows++
	a.total.add(r.Counts)
	a.days[i].add(r.Counts)
	key := longKey(r.ClientID, maxID)
	n, ok := a.byKey[key]
	if !ok {
		if len(a.clients) >= a.maxClients {
			a.lumped.add(r.Counts)
			a.lumpedRows++
			return
		}
		key = strings.Clone(key)
		n = int32(len(a.clients))
		a.byKey[key] = n
		a.clients = append(a.clients, &clientAgg{key: key, id: clip(r.ClientID, maxID), series: make([]int64, 2*len(a.days))})
	}
	c := a.clients[n]
	c.total.add(r.Counts)
	c.rows++
	c.series[i] += r.Requests
	c.series[len(a.days)+i] += r.Status429
	// The latest name wins: rows come unsorted, so the date decides, and
	// of one day's rows the last one read.
	if d := day(r.Date); c.named.IsZero() || !d.Before(c.named) {
		if c.name != r.ClientName {
			c.name = clip(r.ClientName, maxName)
		}
		c.named = d
	}
}

func (a *agg) addEndpoint(r Row) {
	a.endpointRows++
	a.endpointSum.add(r.Counts)
	key := endpointKey{longKey(r.TemplateURI, maxTemplate), longKey(r.HTTPMethod, maxMethod)}
	n, ok := a.byEndpoint[key]
	if !ok {
		if len(a.endpoints) >= a.maxEndpoints {
			a.lumpedEP.add(r.Counts)
			a.lumpedEPRows++
			return
		}
		key = endpointKey{strings.Clone(key.template), strings.Clone(key.method)}
		n = int32(len(a.endpoints))
		a.byEndpoint[key] = n
		a.endpoints = append(a.endpoints, &endpointAgg{
			endpointKey: endpointKey{clip(r.TemplateURI, maxTemplate), clip(r.HTTPMethod, maxMethod)}})
	}
	a.endpoints[n].total.add(r.Counts)
	a.endpoints[n].rows++
}

// across is the section across all: the sums of the rows added to the
// builder itself and of the sections that did not fail, within the same
// Limits. Each section's clients stay its own, keyed and labelled by the
// section's name too (a client id names a client of one organization);
// where more than Limits.Clients come, those with the most requests are
// kept apart, and the others counted under "other". Endpoints with the
// same template and method are summed across sections. The clients'
// per-day series are the sections' own, not copies: the caller holds b.mu.
func (b *Builder) across() *agg {
	if len(b.sections) == 0 {
		return b.all
	}
	a := b.newAgg()
	type client struct {
		org string
		c   *clientAgg
	}
	var clients []client
	endpoints := map[endpointKey]*endpointAgg{}
	for _, p := range b.parts() {
		a.rows += p.agg.rows
		a.total.add(p.agg.total)
		for i := range a.days {
			a.days[i].add(p.agg.days[i])
		}
		a.lumped.add(p.agg.lumped)
		a.lumpedRows += p.agg.lumpedRows
		for _, c := range p.agg.clients {
			clients = append(clients, client{p.name, c})
		}
		a.endpointRows += p.agg.endpointRows
		a.endpointSum.add(p.agg.endpointSum)
		a.lumpedEP.add(p.agg.lumpedEP)
		a.lumpedEPRows += p.agg.lumpedEPRows
		for _, e := range p.agg.endpoints {
			m, ok := endpoints[e.endpointKey]
			if !ok {
				m = &endpointAgg{endpointKey: e.endpointKey}
				endpoints[e.endpointKey] = m
			}
			m.total.add(e.total)
			m.rows += e.rows
		}
	}
	slices.SortFunc(clients, func(x, y client) int {
		return cmp.Or(cmp.Compare(y.c.total.Requests, x.c.total.Requests), cmp.Compare(x.org, y.org), cmp.Compare(x.c.key, y.c.key))
	})
	for _, x := range clients {
		if len(a.clients) >= a.maxClients {
			a.lumped.add(x.c.total)
			a.lumpedRows += x.c.rows
			continue
		}
		c := *x.c
		c.key, c.org = x.org+"\x00"+c.key, x.org
		a.byKey[c.key] = int32(len(a.clients))
		a.clients = append(a.clients, &c)
	}
	eps := slices.Collect(maps.Values(endpoints))
	slices.SortFunc(eps, func(x, y *endpointAgg) int {
		return cmp.Or(cmp.Compare(y.total.Requests, x.total.Requests), cmp.Compare(x.template, y.template), cmp.Compare(x.method, y.method))
	})
	for _, e := range eps {
		if len(a.endpoints) >= a.maxEndpoints {
			a.lumpedEP.add(e.total)
			a.lumpedEPRows += e.rows
			continue
		}
		a.byEndpoint[e.endpointKey] = int32(len(a.endpoints))
		a.endpoints = append(a.endpoints, e)
	}
	return a
}

// part is a named part of the section across all.
type part struct {
	name string
	agg  *agg
}

// parts are what the section across all sums: the builder's own rows and
// the sections that did not fail.
func (b *Builder) parts() []part {
	ps := []part{{"", b.all}}
	for _, s := range b.sections {
		if s.failed == "" {
			ps = append(ps, part{s.name, s.agg})
		}
	}
	return ps
}
