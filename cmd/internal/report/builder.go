package report

import (
	"fmt"
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
	all      *agg
	sections []*Section
	byName   map[string]*Section
}

// NewBuilder starts a report of the interval and service that m names.
// Its error says what is wrong with m.
func NewBuilder(m Meta, l Limits) (*Builder, error) {
	if err := m.check(); err != nil {
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
// made on first use. A row added to it is counted in the section across
// all as well, which the report shows first when it has sections.
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

// Section is a named part of a report; see Builder.Section.
type Section struct {
	name string
	b    *Builder
	agg  *agg
}

// Add counts r in the section and in the section across all. A ClientDay
// row must be dated within the interval; no counter may be negative, and
// no sum may pass the largest int64. A row refused with an error is
// counted nowhere.
func (s *Section) Add(k Kind, r Row) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.b.add(k, r, s.agg, s.b.all)
}

func (b *Builder) add(k Kind, r Row, to ...*agg) error {
	i, err := b.check(k, r)
	if err == nil {
		for _, a := range to {
			if err = a.fits(k, r.Counts); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("report: %s row %s: %w", k, describe(k, r), err)
	}
	for _, a := range to {
		a.add(k, r, i)
	}
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
	named         time.Time // the date of the row name came from
	total         Counts
	// series holds the requests of each day, then the 429s of each day.
	series []int64
}

type endpointKey struct{ template, method string }

type endpointAgg struct {
	endpointKey
	total Counts
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

// fits says whether c can be added without a sum passing the largest
// int64. Every sum of a kind is part of its total (counts are not
// negative), so the total is the one to check.
func (a *agg) fits(k Kind, c Counts) error {
	if k == Endpoint {
		return a.endpointSum.fits(c)
	}
	return a.total.fits(c)
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
}
