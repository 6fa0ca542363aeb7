package usagetest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/gcusage/gcusage/gen"
)

// The routes of the usage query jobs (the 2025 service), both variants.
const (
	RouteJobs       Route = "jobs"        // POST /api/v2/usage[/client/{clientId}]/aggregates/query/jobs
	RouteJobResults Route = "job-results" // GET /api/v2/usage[/client/{clientId}]/aggregates/query/jobs/{jobId}
)

const (
	jobsPath             = "/api/v2/usage/aggregates/query/jobs"
	jobPath              = jobsPath + "/{jobId}"
	clientJobsPath       = "/api/v2/usage/client/{clientId}/aggregates/query/jobs"
	clientJobPath        = clientJobsPath + "/{jobId}"
	defaultJobPageSize   = 100
	maxJobDaysAfterStart = 90
)

// platforms are the members of the Platform dimension. Genesys does not
// document its values; these stand for any.
var platforms = []string{"PureCloud", "EdgeDevice"}

// JobFailed makes the job that the POST starts end Failed, with an
// errorBody when withBody (the API "may not include" one).
func JobFailed(withBody bool) Fault {
	f := Fault{kind: faultJobFailed}
	if withBody {
		f.text = "body"
	}
	return f
}

// JobCancelled makes the job that the POST starts end Cancelled.
func JobCancelled() Fault { return Fault{kind: faultJobCancelled} }

// MaxResponseSize answers a job's page asked with a pageSize above limit
// with 400 max.response.size.reached, as the API does with pages too big.
func MaxResponseSize(limit int) Fault { return Fault{kind: faultMaxResponseSize, code: limit} }

// jobRoute reads the path of a jobs request.
type jobRoute struct {
	clientID, jobID string
	spec            string // the spec path
}

// matchJob finds the jobs route of r, if it is one.
func matchJob(r *http.Request) (Route, jobRoute) {
	p := r.URL.Path
	var jr jobRoute
	rest, ok := strings.CutPrefix(p, "/api/v2/usage/")
	if !ok {
		return "", jr
	}
	if c, ok := strings.CutPrefix(rest, "client/"); ok {
		id, after, ok := strings.Cut(c, "/")
		if !ok || id == "" {
			return "", jr
		}
		jr.clientID, rest = id, after
	}
	rest, ok = strings.CutPrefix(rest, "aggregates/query/jobs")
	switch {
	case !ok:
		return "", jr
	case rest == "" && r.Method == http.MethodPost:
		jr.spec = jobsPath
		if jr.clientID != "" {
			jr.spec = clientJobsPath
		}
		return RouteJobs, jr
	case strings.HasPrefix(rest, "/") && len(rest) > 1 && !strings.Contains(rest[1:], "/") && r.Method == http.MethodGet:
		jr.jobID, jr.spec = rest[1:], jobPath
		if jr.clientID != "" {
			jr.spec = clientJobPath
		}
		return RouteJobResults, jr
	}
	return "", jr
}

// stubJob is a job the stub runs.
type stubJob struct {
	org      *org // that started it, the only one that may read it
	clientID string
	entities []gen.OrganizationPublicAPIUsage // every page, computed at the POST
	orgs     []string                         // organizationId of each entity (client variant)
	outcome  faultKind                        // 0: Succeeded
	withBody bool
	created  time.Time
	polls    int
	done     bool
}

// jobQuery is a validated job request, either variant.
type jobQuery struct {
	first, last int64 // days, both included
	granularity gen.Granularity
	metrics     [len(allMetrics)]bool
	groupBy     []string // as the API spells them
	sortBy      []gen.JobsSortBy
	filters     map[string][]string // dimension -> allowed values
	client      int                 // the client of a client's job, -1 for the organization's
}

func (s *Server) postJob(x *exchange, body []byte, jr jobRoute) {
	if !s.authorized(x) || !x.validRequest() {
		return
	}
	var org gen.OrganizationPublicAPIUsageQueryRequest
	var cl gen.ClientPublicAPIUsageQueryRequest
	q := jobQuery{client: -1, filters: map[string][]string{}}
	var err error
	var interval string
	var gran *gen.Granularity
	var metrics []gen.Metric
	if jr.clientID == "" {
		err = json.Unmarshal(body, &org)
		interval, gran, metrics, q.sortBy = org.Interval, org.Granularity, org.Metrics, org.SortBy
		for _, g := range org.GroupBy {
			q.groupBy = append(q.groupBy, string(g))
		}
		q.filters["TemplateUri"], q.filters["Platform"] = org.TemplateUris, org.Platforms
		q.filters["HttpMethod"], q.filters["UserId"], q.filters["OauthClientId"] = strs(org.HTTPMethods), org.UserIds, org.OauthClientIds
	} else {
		err = json.Unmarshal(body, &cl)
		interval, gran, metrics, q.sortBy = cl.Interval, cl.Granularity, cl.Metrics, cl.SortBy
		for _, g := range cl.GroupBy {
			q.groupBy = append(q.groupBy, string(g))
		}
		q.filters["TemplateUri"], q.filters["Platform"] = cl.TemplateUris, cl.Platforms
		q.filters["HttpMethod"], q.filters["OrganizationId"] = strs(cl.HTTPMethods), cl.OrganizationIds
		for i := range x.org.Population.Clients {
			if uuid(x.org.Seed, "client", i) == jr.clientID {
				q.client = i
			}
		}
		if q.client < 0 {
			x.error(http.StatusNotFound, "not.found", "clientId", fmt.Sprintf("No OAuth client with id '%s'", jr.clientID))
			return
		}
	}
	if err != nil {
		x.error(http.StatusBadRequest, "bad.request", "", "The request body is not a usage query request: "+err.Error())
		return
	}
	start, end, err := parseInterval(interval)
	if err != nil {
		x.error(http.StatusBadRequest, "invalid.date", "interval", datesMessage+" ("+err.Error()+")")
		return
	}
	q.first, q.last = dayOf(start), dayOf(end.Add(-1))
	now := s.Now().UTC()
	earliest := time.Date(now.Year()-1, now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch {
	case start.Before(earliest):
		x.error(http.StatusBadRequest, "constraint.validation", "interval",
			fmt.Sprintf("Start date cannot be more than a year ago (on or after %s): '%s'", earliest.Format(time.DateOnly), interval))
		return
	case q.last-q.first > maxJobDaysAfterStart:
		x.error(http.StatusBadRequest, "constraint.validation", "interval",
			fmt.Sprintf("End date cannot be more than %d days after the start: '%s'", maxJobDaysAfterStart, interval))
		return
	}
	if gran != nil {
		q.granularity = *gran
	}
	for i, m := range allMetrics {
		q.metrics[i] = len(metrics) == 0 || slices.Contains(metrics, m)
	}
	for _, sb := range q.sortBy {
		if _, ok := sortKeys[deref(sb.FieldName)]; !ok {
			x.error(http.StatusBadRequest, "invalid.value", "sortBy", fmt.Sprintf("Invalid value for sortBy.fieldName: '%s'", deref(sb.FieldName)))
			return
		}
	}
	j := &stubJob{org: x.org, clientID: jr.clientID, created: time.Now()}
	j.entities, j.orgs = q.entities(x.org.Seed, x.org.Population, s.Now())
	for _, f := range x.faults {
		switch f.kind {
		case faultJobFailed, faultJobCancelled:
			j.outcome, j.withBody = f.kind, f.text != ""
		}
	}
	s.mu.Lock()
	if s.jobs == nil {
		s.jobs = map[string]*stubJob{}
	}
	s.nextExec++
	id := newID()
	if s.cfg.seeded {
		id = uuid(s.cfg.seed, "job", s.nextExec)
	}
	s.jobs[id] = j
	done := s.cfg.polls == 0 && s.running(x.org) == 0
	j.done = done
	s.mu.Unlock()
	uri := strings.TrimSuffix(x.r.URL.Path, "/") + "/" + id
	status := http.StatusAccepted
	if done {
		status = http.StatusOK
	}
	x.json(status, gen.UsageQueryJob{ID: id, ResultsURI: &uri, SelfURI: &uri})
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p != nil {
		return *p
	}
	return zero
}

// jobState advances j by one poll: Queued on the first, Running until
// WithRunning's polls and time have passed, then its outcome.
func (s *Server) jobState(j *stubJob, unknown bool) gen.JobStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !j.done && j.polls > s.cfg.polls && time.Since(j.created) >= s.running(j.org) {
		j.done = true
	}
	switch {
	case j.done && j.outcome == faultJobFailed:
		return gen.JobStatusFailed
	case j.done && j.outcome == faultJobCancelled:
		return gen.JobStatusCancelled
	case j.done:
		return gen.JobStatusSucceeded
	}
	n := j.polls
	if !unknown {
		j.polls++
	}
	if n == 0 {
		return gen.JobStatusQueued
	}
	return gen.JobStatusRunning
}

func (s *Server) jobResults(x *exchange, jr jobRoute) {
	if !s.authorized(x) || !x.validRequest() {
		return
	}
	s.mu.Lock()
	j := s.jobs[jr.jobID]
	s.mu.Unlock()
	if j == nil || j.org != x.org || j.clientID != jr.clientID {
		x.error(http.StatusNotFound, "not.found", "jobId", fmt.Sprintf("No usage query job with id '%s'", jr.jobID))
		return
	}
	q := x.r.URL.Query()
	size := defaultJobPageSize
	if v := q.Get("pageSize"); v != "" {
		size, _ = strconv.Atoi(v) // the spec checked it
	}
	if f, ok := x.fault(faultMaxResponseSize); ok && size > f.code {
		x.error(http.StatusBadRequest, "max.response.size.reached", "pageSize", "The response was too big, try again with a smaller page size")
		return
	}
	from := 0
	if v := q.Get("after"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > len(j.entities) {
			x.error(http.StatusBadRequest, "invalid.query.param.value", "after", fmt.Sprintf("Invalid value for after: '%s'", v))
			return
		}
		from = n
	}
	f, unknown := x.fault(faultUnknownStatus)
	st := s.jobState(j, unknown)
	status := string(st)
	if unknown {
		status = f.text
	}
	code := http.StatusAccepted
	switch st {
	case gen.JobStatusSucceeded, gen.JobStatusCancelled:
		code = http.StatusOK
	}
	if st != gen.JobStatusSucceeded {
		var eb *gen.ErrorBody
		if st == gen.JobStatusFailed && j.withBody {
			eb = &gen.ErrorBody{Code: ptr("internal.server.error"), Message: ptr("The usage query failed"), Status: ptr(int32(500))}
		}
		x.json(code, gen.OrganizationPublicAPIUsageResultsResponse{QueryStatus: gen.JobStatus(status), ErrorBody: eb})
		return
	}
	to := min(from+size, len(j.entities))
	var next *string
	if to < len(j.entities) {
		next = ptr(x.r.URL.Path + "?" + url.Values{"pageSize": {strconv.Itoa(size)}, "after": {strconv.Itoa(to)}}.Encode())
	}
	if jr.clientID == "" {
		x.json(code, gen.OrganizationPublicAPIUsageResultsResponse{QueryStatus: gen.JobStatus(status),
			Entities: j.entities[from:to], NextURI: next})
		return
	}
	ents := make([]gen.ClientPublicAPIUsage, 0, to-from)
	for i, e := range j.entities[from:to] {
		ents = append(ents, gen.ClientPublicAPIUsage{Date: e.Date, Platform: e.Platform, HTTPMethod: e.HTTPMethod,
			TemplateURI: e.TemplateURI, RequestCount: e.RequestCount, Status200: e.Status200, Status300: e.Status300,
			Status400: e.Status400, Status429: e.Status429, Status500: e.Status500, OrganizationID: j.orgs[from+i]})
	}
	x.json(code, gen.ClientPublicAPIUsageResultsResponse{QueryStatus: gen.JobStatus(status), Entities: ents, NextURI: next})
}

// dim is one dimension of the jobs' data: its members' values.
type dim struct {
	name   string // as groupBy spells it
	member func(i int) string
}

// jobDims lists the dimensions of the synthetic organization: those of a
// cell, in the order of cell.member, then Platform, a client's (see
// jobMembers). A job sums the cells of each group, as the legacy query
// does, so that every grouping, filter, granularity and window of the same
// data agrees, and with the legacy query too.
func jobDims(seed int64, p Population) []dim {
	return []dim{
		{"OauthClientId", func(i int) string { return uuid(seed, "client", i) }},
		{"UserId", func(i int) string { return uuid(seed, "user", i) }},
		{"OrganizationId", func(i int) string { return uuid(seed, "organization", i) }},
		{"TemplateUri", func(i int) string {
			var r gen.APIUsageRow
			p.set(&r, seed, gen.GroupByTemplateURI, i)
			return r.TemplateURI
		}},
		{"HttpMethod", func(i int) string { return httpMethods[i] }},
		{"Platform", func(i int) string { return platforms[i] }},
	}
}

// jobMethods is how many of httpMethods the jobs count: their spec knows
// six, so the jobs leave out the cells of the others.
const jobMethods = 6

// jobMembers indexes the members of c as jobDims lists them: a client runs
// on one platform.
func jobMembers(c cell) []int {
	return append(c.member[:], c.member[dimClient]%len(platforms))
}

func clientName(i int) string {
	var r gen.APIUsageRow
	Population{}.set(&r, 0, gen.GroupByOAuthClientID, i)
	return r.ClientName
}

// entities computes every entity of q, in group order then date order,
// then sorted as sortBy asks.
func (q jobQuery) entities(seed int64, p Population, now time.Time) ([]gen.OrganizationPublicAPIUsage, []string) {
	dims := jobDims(seed, p)
	grouped := make([]bool, len(dims))
	for k, d := range dims {
		grouped[k] = slices.Contains(q.groupBy, d.name) || (d.name == "OauthClientId" && slices.Contains(q.groupBy, "OauthClientName"))
	}
	if len(q.groupBy) == 0 { // "By default the data is not aggregated"
		for k := range dims {
			grouped[k] = true
		}
	}
	// An organization's entities have no organizationId; a client's have
	// neither a client nor a user.
	for k, d := range dims {
		if (q.client < 0 && d.name == "OrganizationId") || (q.client >= 0 && (d.name == "OauthClientId" || d.name == "UserId")) {
			grouped[k] = false
		}
	}
	first, last := max(q.first, dayOf(firstDay)), min(q.last, dayOf(now)-1)
	type slot struct {
		group string
		date  int64
	}
	sums := map[slot]*counts{}
	var order []slot
	members := map[string][]int{}
	fixed := [numDims]int{-1, -1, -1, -1, -1}
	if q.client >= 0 {
		fixed[dimClient] = q.client
	}
	for c := range p.cells(seed, fixed) {
		if c.member[dimMethod] >= jobMethods {
			continue
		}
		idx := jobMembers(c)
		keep := true
		for k, d := range dims {
			if f := q.filters[d.name]; len(f) > 0 && !slices.Contains(f, d.member(idx[k])) {
				keep = false
			}
		}
		if !keep {
			continue
		}
		var group strings.Builder
		for k := range dims {
			if grouped[k] {
				fmt.Fprintf(&group, "%d,", idx[k])
			}
		}
		g := group.String()
		if _, ok := members[g]; !ok {
			members[g] = idx
		}
		for d := first; d <= last; d++ {
			if c.idle(d) {
				continue
			}
			b := int64(-1)
			if q.granularity != "" {
				start, _ := bucket(q.granularity, dayTime(d))
				b = dayOf(start)
			}
			k := slot{g, b}
			if sums[k] == nil {
				sums[k] = &counts{}
				order = append(order, k)
			}
			c.addTo(sums[k], d)
		}
	}
	slices.SortStableFunc(order, func(a, b slot) int {
		return cmp.Or(cmp.Compare(a.group, b.group), cmp.Compare(a.date, b.date))
	})
	out := make([]gen.OrganizationPublicAPIUsage, len(order))
	orgs := make([]string, len(order))
	for n, c := range order {
		e := &out[n]
		m := members[c.group]
		if c.date >= 0 {
			e.Date = openapi_types.Date{Time: dayTime(c.date)}
		}
		for k, d := range dims {
			if !grouped[k] {
				continue
			}
			v := d.member(m[k])
			switch d.name {
			case "OauthClientId":
				e.OauthClient = &gen.JobOAuthClient{}
				if slices.Contains(q.groupBy, "OauthClientId") || len(q.groupBy) == 0 {
					e.OauthClient.ID = v
				}
				if slices.Contains(q.groupBy, "OauthClientName") || len(q.groupBy) == 0 {
					e.OauthClient.Name = clientName(m[k])
				}
			case "UserId":
				e.User = &gen.JobUser{ID: v}
			case "OrganizationId":
				orgs[n] = v
			case "TemplateUri":
				e.TemplateURI = v
			case "HttpMethod":
				e.HTTPMethod = v
			case "Platform":
				e.Platform = v
			}
		}
		s := sums[c]
		set := func(i int, dst *int64, v int64) {
			if q.metrics[i] {
				*dst = v
			}
		}
		set(0, &e.Status200, s.s200)
		set(1, &e.Status300, s.s300)
		set(2, &e.Status400, s.s400)
		set(3, &e.Status500, s.s500)
		set(4, &e.Status429, s.s429)
		set(5, &e.RequestCount, s.s200+s.s300+s.s400+s.s500)
	}
	if len(q.sortBy) > 0 {
		perm := make([]int, len(out))
		for i := range perm {
			perm[i] = i
		}
		slices.SortStableFunc(perm, func(a, b int) int {
			for _, sb := range q.sortBy {
				c := sortKeys[deref(sb.FieldName)](&out[a], &out[b])
				if deref(sb.Order) == gen.SortOrderDesc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
		sorted, sortedOrgs := make([]gen.OrganizationPublicAPIUsage, len(out)), make([]string, len(out))
		for i, p := range perm {
			sorted[i], sortedOrgs[i] = out[p], orgs[p]
		}
		out, orgs = sorted, sortedOrgs
	}
	return out, orgs
}

// sortKeys are the entity fields the stub sorts by. Which fields the API
// takes is not documented: these are its entity's fields.
var sortKeys = map[string]func(a, b *gen.OrganizationPublicAPIUsage) int{
	"date":         func(a, b *gen.OrganizationPublicAPIUsage) int { return a.Date.Compare(b.Date.Time) },
	"requestCount": func(a, b *gen.OrganizationPublicAPIUsage) int { return cmp.Compare(a.RequestCount, b.RequestCount) },
	"status200":    func(a, b *gen.OrganizationPublicAPIUsage) int { return cmp.Compare(a.Status200, b.Status200) },
	"status300":    func(a, b *gen.OrganizationPublicAPIUsage) int { return cmp.Compare(a.Status300, b.Status300) },
	"status400":    func(a, b *gen.OrganizationPublicAPIUsage) int { return cmp.Compare(a.Status400, b.Status400) },
	"status429":    func(a, b *gen.OrganizationPublicAPIUsage) int { return cmp.Compare(a.Status429, b.Status429) },
	"status500":    func(a, b *gen.OrganizationPublicAPIUsage) int { return cmp.Compare(a.Status500, b.Status500) },
	"templateUri":  func(a, b *gen.OrganizationPublicAPIUsage) int { return cmp.Compare(a.TemplateURI, b.TemplateURI) },
	"httpMethod":   func(a, b *gen.OrganizationPublicAPIUsage) int { return cmp.Compare(a.HTTPMethod, b.HTTPMethod) },
	"platform":     func(a, b *gen.OrganizationPublicAPIUsage) int { return cmp.Compare(a.Platform, b.Platform) },
}

// params are the path parameters of the route, for validation.
func (jr jobRoute) params() map[string]string {
	p := map[string]string{}
	if jr.clientID != "" {
		p["clientId"] = jr.clientID
	}
	if jr.jobID != "" {
		p["jobId"] = jr.jobID
	}
	return p
}
