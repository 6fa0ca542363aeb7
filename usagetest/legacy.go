package usagetest

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gcusage/gcusage/gen"
)

// The per-client and simple search endpoints, beside the organization's
// query of handler.go: the same synthetic data, seen per client or as
// search records.

const (
	// maxSearchRecords is the most records the API gives one simple search.
	maxSearchRecords = 20000
	// defaultMaxResponse is the API's limit on a search's results: 5 MB.
	defaultMaxResponse = 5 << 20
	// defaultPageSize is what the stub pages by when the client does not
	// say (the API documents no default).
	defaultPageSize = 1000
)

// WithMaxResponseBytes sets how many bytes a simple search's records may
// take, as the stub writes them, before its results are refused with 500
// max.response.size.reached, as the API refuses those over 5 MB (the
// default, 5 MiB).
func WithMaxResponseBytes(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.fail(fmt.Errorf("usagetest: WithMaxResponseBytes(%d): want a positive number of bytes", n))
		}
		c.maxResponse = n
	}
}

// moreRoutes are the routes of these endpoints, with their spec paths.
var moreRoutes = []struct {
	route        Route
	method, path string
}{
	{RouteClientQuery, http.MethodPost, "/api/v2/oauth/clients/{clientId}/usage/query"},
	{RouteClientResults, http.MethodGet, "/api/v2/oauth/clients/{clientId}/usage/query/results/{executionId}"},
	{RouteSummary, http.MethodGet, "/api/v2/oauth/clients/{clientId}/usage/summary"},
	{RouteSearch, http.MethodPost, "/api/v2/usage/simplesearch"},
	{RouteSearchResults, http.MethodGet, "/api/v2/usage/simplesearch/{executionId}/results"},
}

// morePaths maps each route of moreRoutes to its spec path.
var morePaths = func() map[Route]string {
	m := map[Route]string{}
	for _, r := range moreRoutes {
		m[r.route] = r.path
	}
	return m
}()

// matchMore finds the route of r among moreRoutes, and its path parameters.
func matchMore(r *http.Request) (Route, map[string]string) {
	got := strings.Split(r.URL.Path, "/")
	for _, m := range moreRoutes {
		want := strings.Split(m.path, "/")
		if r.Method != m.method || len(got) != len(want) {
			continue
		}
		params := map[string]string{}
		for i, w := range want {
			switch {
			case strings.HasPrefix(w, "{") && got[i] != "":
				params[strings.Trim(w, "{}")] = got[i]
			case w != got[i]:
				params = nil
			}
			if params == nil {
				break
			}
		}
		if params != nil {
			return m.route, params
		}
	}
	return "", nil
}

// start registers e, started by q, decides how it ends, and answers the
// request that started it with its id and the path of its results.
func (s *Server) start(x *exchange, q gen.APIUsageQuery, e *execution, resultsURI func(id string) string) {
	e.outcome, e.created = gen.QueryStatusComplete, time.Now()
	if s.cfg.outcome != nil && s.cfg.outcome(q) == gen.QueryStatusFailed {
		e.outcome = gen.QueryStatusFailed
	}
	s.mu.Lock()
	s.nextExec++
	id := newID()
	if s.cfg.seeded {
		id = uuid(s.cfg.seed, "execution", s.nextExec)
	}
	s.execs[id] = e
	done := s.finished(e, false)
	s.mu.Unlock()

	status, uri := http.StatusAccepted, resultsURI(id)
	if done {
		status = http.StatusOK
	}
	if f, ok := x.fault(faultForeignResults); ok {
		uri = strings.TrimSuffix(f.text, "/") + uri
	}
	x.json(status, gen.UsageExecutionResult{ExecutionID: &id, ResultsURI: &uri})
}

// clientResults is the results path of an execution of one client.
func clientResults(clientID string) func(string) string {
	return func(id string) string { return "/api/v2/oauth/clients/" + clientID + "/usage/query/results/" + id }
}

// knownClient answers 404 unless id is an OAuth client of the org.
func (s *Server) knownClient(x *exchange, id string) bool {
	if slices.Contains(s.view(x.org).ClientIDs(), id) {
		return true
	}
	x.error(http.StatusNotFound, "not.found", "clientId", fmt.Sprintf("No OAuth client with id '%s'", id))
	return false
}

// ClientIDs returns the ids of the synthetic organization's OAuth clients,
// in order: the clientId the per-client endpoints take (others get 404).
// With WithOrgs, they are the first org's (see Server.Org).
func (s *Server) ClientIDs() []string { return s.view(s.orgs[0]).ClientIDs() }

func (s *Server) postClientQuery(x *exchange, clientID string, body []byte) {
	if !s.authorized(x) || !x.validRequest() || !s.knownClient(x, clientID) {
		return
	}
	var cq gen.APIUsageClientQuery
	if err := json.Unmarshal(body, &cq); err != nil {
		x.error(http.StatusBadRequest, "bad.request", "", "The request body is not an ApiUsageClientQuery: "+err.Error())
		return
	}
	q := orgQuery(cq)
	pq, err := clientQuery(q, clientID)
	if err != nil {
		x.error(http.StatusBadRequest, "invalid.date", "interval", datesMessage+" ("+err.Error()+")")
		return
	}
	s.start(x, q, &execution{org: x.org, q: pq, route: RouteClientResults, clientID: clientID}, clientResults(clientID))
}

// orgQuery is a client's query as the organization's.
func orgQuery(cq gen.APIUsageClientQuery) gen.APIUsageQuery {
	q := gen.APIUsageQuery{Interval: cq.Interval, Granularity: cq.Granularity, Metrics: cq.Metrics}
	for _, g := range cq.GroupBy {
		q.GroupBy = append(q.GroupBy, gen.GroupBy(g))
	}
	return q
}

// clientQuery is q seen by one client: the rows of that client among those
// of the organization's query grouped by OAuthClientId first, then by q's
// groupBy.
func clientQuery(q gen.APIUsageQuery, clientID string) (query, error) {
	if !slices.Contains(q.GroupBy, gen.GroupByOAuthClientID) {
		q.GroupBy = append([]gen.GroupBy{gen.GroupByOAuthClientID}, q.GroupBy...)
	}
	pq, err := parseQuery(q)
	pq.keep = func(r *gen.APIUsageRow) bool { return r.ClientID == clientID }
	return pq, err
}

// ClientRows returns the rows the stub answers for q, a query of the OAuth
// client clientID, once it is Complete: the rows of that client among those
// of the organization's query grouped by OAuthClientId first, then by q's
// groupBy (see Rows).
func (s *Server) ClientRows(clientID string, q gen.APIUsageClientQuery) (iter.Seq[gen.APIUsageRow], error) {
	return s.view(s.orgs[0]).ClientRows(clientID, q)
}

// summary starts the summary of a client over its last days: its query of
// the last full UTC days, by day, per OAuth client.
func (s *Server) summary(x *exchange, clientID string) {
	if !s.authorized(x) || !x.validRequest() || !s.knownClient(x, clientID) {
		return
	}
	days, err := strconv.Atoi(cmp.Or(x.r.URL.Query().Get("days"), "7"))
	if err != nil { // the spec's pattern lets only a number too large through
		x.error(http.StatusBadRequest, "invalid.query.param.value", "days", "Invalid value for days: want a positive number of days")
		return
	}
	today := dayTime(dayOf(s.Now()))
	start := today.AddDate(0, 0, -min(days, int(today.Sub(firstDay)/(24*time.Hour))))
	pq := query{start: start, end: today, granularity: gen.GranularityDay, groupBy: []gen.GroupBy{gen.GroupByOAuthClientID},
		keep: func(r *gen.APIUsageRow) bool { return r.ClientID == clientID }}
	for i := range pq.metrics {
		pq.metrics[i] = true
	}
	q := gen.APIUsageQuery{Interval: start.Format(time.DateOnly) + "/" + today.AddDate(0, 0, -1).Format(time.DateOnly),
		Granularity: &pq.granularity, GroupBy: pq.groupBy}
	s.start(x, q, &execution{org: x.org, q: pq, route: RouteClientResults, clientID: clientID}, clientResults(clientID))
}

func (s *Server) postSearch(x *exchange, body []byte) {
	if !s.authorized(x) || !x.validRequest() {
		return
	}
	var ss gen.APIUsageSimpleSearch
	if err := json.Unmarshal(body, &ss); err != nil {
		x.error(http.StatusBadRequest, "bad.request", "", "The request body is not an ApiUsageSimpleSearch: "+err.Error())
		return
	}
	pq, err := searchQuery(ss)
	if err != nil {
		x.error(http.StatusBadRequest, "invalid.date", "interval", datesMessage+" ("+err.Error()+")")
		return
	}
	s.start(x, gen.APIUsageQuery{Interval: ss.Interval}, &execution{org: x.org, q: pq, route: RouteSearchResults},
		func(id string) string { return "/api/v2/usage/simplesearch/" + id + "/results" })
}

// searchQuery is a search as the stub answers it: the records of each day,
// client, template and method with traffic that pass the filters, with
// the fields its metrics do not ask for left empty, and clientId and
// requests, which no search metric names, always so.
func searchQuery(ss gen.APIUsageSimpleSearch) (query, error) {
	pq, err := parseQuery(gen.APIUsageQuery{Interval: ss.Interval, Granularity: ptr(gen.GranularityDay),
		GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID, gen.GroupByTemplateURI, gen.GroupByHTTPMethod}})
	asked := func(m gen.SimpleSearchMetric) bool { return len(ss.Metrics) == 0 || slices.Contains(ss.Metrics, m) }
	for i, m := range allMetrics {
		pq.metrics[i] = m != gen.MetricRequests && asked(gen.SimpleSearchMetric(m))
	}
	pq.keep = func(r *gen.APIUsageRow) bool {
		return in(ss.OauthClientNames, r.ClientName) && in(ss.TemplateUris, r.TemplateURI) && in(ss.HTTPMethods, gen.HTTPMethod(r.HTTPMethod))
	}
	pq.project = func(r *gen.APIUsageRow) {
		r.ClientID = ""
		if !asked(gen.SimpleSearchMetricDate) {
			r.Date = time.Time{}
		}
		for m, f := range map[gen.SimpleSearchMetric]*string{gen.SimpleSearchMetricClientName: &r.ClientName,
			gen.SimpleSearchMetricHTTPMethod: &r.HTTPMethod, gen.SimpleSearchMetricTemplateURI: &r.TemplateURI} {
			if !asked(m) {
				*f = ""
			}
		}
	}
	return pq, err
}

// in says whether v passes a filter: in vs, or no filter at all.
func in[T comparable](vs []T, v T) bool { return len(vs) == 0 || slices.Contains(vs, v) }

// SearchRows returns the records the pages of the simple search q hold
// once it is Complete, in order, at most the API's 20,000: the records of
// each day, OAuth client, template and method with traffic that pass the
// filters, with the fields the metrics do not ask for left empty, and
// clientId and requests, which no search metric names, always so.
func (s *Server) SearchRows(q gen.APIUsageSimpleSearch) (iter.Seq[gen.APIUsageRow], error) {
	return s.view(s.orgs[0]).SearchRows(q)
}

// take yields n rows of rows from the offset-th.
func take(rows iter.Seq[gen.APIUsageRow], offset, n int) iter.Seq[gen.APIUsageRow] {
	return func(yield func(gen.APIUsageRow) bool) {
		i := 0
		for r := range rows {
			if i >= offset+n || i >= offset && !yield(r) {
				return
			}
			i++
		}
	}
}

// searchPage answers a page of a complete search: pageSize records from
// the cursor after, and the cursor of the next page, empty on the last.
// A search holds at most maxSearchRecords records; one whose records take
// more than WithMaxResponseBytes is refused with 500
// max.response.size.reached, as the API refuses those over 5 MB.
func (s *Server) searchPage(x *exchange, e *execution, status string) {
	rows := e.q.rows(e.org.Seed, e.org.Population, s.Now())
	s.mu.Lock()
	measured, records, size := e.measured, e.records, e.size
	s.mu.Unlock()
	if !measured {
		records, size = measure(rows)
		s.mu.Lock()
		e.measured, e.records, e.size = true, records, size
		s.mu.Unlock()
	}
	if size > s.cfg.maxResponse {
		x.error(http.StatusInternalServerError, "max.response.size.reached", "",
			"The results data is greater than the 5MB limit. Try again with a smaller date interval or include more filters.")
		return
	}
	params := x.r.URL.Query()
	offset := 0
	if after := params.Get("after"); after != "" {
		var ok bool
		if offset, ok = parseCursor(after); !ok || offset > records {
			x.error(http.StatusBadRequest, "invalid.query.param.value", "after", fmt.Sprintf("Invalid value for after: '%s' is not a cursor of this search", after))
			return
		}
	}
	pageSize := defaultPageSize
	if v := params.Get("pageSize"); v != "" {
		pageSize, _ = strconv.Atoi(v) // the spec allows 1 to 1000 only
	}
	n := min(pageSize, records-offset)
	next := ""
	if offset+n < records {
		next = cursor(offset + n)
	}
	x.complete(take(rows, offset, n), x.envelope(status, `,"cursors":{"after":`+string(appendString(nil, next))+`}`))
}

// measure counts the records of a search, up to the cap, and the bytes
// they take as written.
func measure(rows iter.Seq[gen.APIUsageRow]) (records, size int) {
	var buf []byte
	for r := range take(rows, 0, maxSearchRecords) {
		buf = appendRow(buf[:0], &r, time.UTC)
		records, size = records+1, size+len(buf)+1
	}
	return records, size
}

// cursor is the opaque cursor of the page that starts at record offset.
func cursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("record:" + strconv.Itoa(offset)))
}

func parseCursor(c string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "record:"))
	return n, err == nil && n >= 0 && strings.HasPrefix(string(b), "record:")
}
