package client

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/go-faster/jx"

	"github.com/gcusage/gcusage/gen"
)

// jobKind is the ExecutionError.Kind of a usage query job.
const jobKind = "job"

// Sentinels of the usage query jobs, for errors.Is.
var (
	// ErrJobCancelled means the server reported queryStatus Cancelled.
	ErrJobCancelled = errors.New("job cancelled")
)

// JobQuery is a query of the 2025 usage query service (the "jobs"): unlike
// Query it counts every request, not only billable ones, and shows the
// OAuth clients of Genesys' own organizations; it filters and sorts, and
// its results come in pages. With ClientID set it counts that OAuth client
// only (permission usage:client:view) and takes ClientGroupBy and
// OrganizationIDs; otherwise the whole organization (usage:organization:view)
// with GroupBy, UserIDs and OAuthClientIDs.
type JobQuery struct {
	// Interval is read as Query.Interval. The API takes at most 90 days
	// starting at most a year ago; RunJobs splits a longer interval.
	Interval    string
	Granularity gen.Granularity
	Metrics     []gen.Metric
	// GroupBy applies to the organization; without it the data is not
	// aggregated.
	GroupBy       []gen.JobsGroupBy
	ClientGroupBy []gen.ClientJobsGroupBy
	SortBy        []gen.JobsSortBy
	TemplateURIs  []string
	HTTPMethods   []gen.JobsHTTPMethod
	Platforms     []string
	// UserIDs and OAuthClientIDs filter the organization's job.
	UserIDs, OAuthClientIDs []string
	// OrganizationIDs filters a client's job.
	OrganizationIDs []string
	// ClientID selects the client variant.
	ClientID string
	// PageSize is the entities asked per page: 1000 (the API's maximum)
	// when 0, since fewer pages cost fewer requests against the rate limit.
	PageSize int
}

var (
	jobsGroupBys       = []gen.JobsGroupBy{gen.JobsGroupByOauthClientName, gen.JobsGroupByOauthClientID, gen.JobsGroupByUserID, gen.JobsGroupByHTTPMethod, gen.JobsGroupByTemplateURI, gen.JobsGroupByPlatform}
	clientJobsGroupBys = []gen.ClientJobsGroupBy{gen.ClientJobsGroupByOrganizationID, gen.ClientJobsGroupByHTTPMethod, gen.ClientJobsGroupByTemplateURI, gen.ClientJobsGroupByPlatform}
	jobsHTTPMethods    = []gen.JobsHTTPMethod{gen.JobsHTTPMethodGET, gen.JobsHTTPMethodPOST, gen.JobsHTTPMethodPUT, gen.JobsHTTPMethodPATCH, gen.JobsHTTPMethodDELETE, gen.JobsHTTPMethodHEAD}
	sortOrders         = []gen.SortOrder{gen.SortOrderAsc, gen.SortOrderDesc}
)

// JobsGroupBys lists the values JobQuery.GroupBy accepts, in documentation order.
func JobsGroupBys() []gen.JobsGroupBy { return slices.Clone(jobsGroupBys) }

// ClientJobsGroupBys lists the values JobQuery.ClientGroupBy accepts.
func ClientJobsGroupBys() []gen.ClientJobsGroupBy { return slices.Clone(clientJobsGroupBys) }

// JobsHTTPMethods lists the values JobQuery.HTTPMethods accepts.
func JobsHTTPMethods() []gen.JobsHTTPMethod { return slices.Clone(jobsHTTPMethods) }

const (
	// maxJobDays is the longest window the API takes, both ends included.
	maxJobDays = 90
	// maxPageSize is the API's maximum, and the default of JobQuery.
	maxPageSize = 1000
	// maxPage bounds the body of one page: the API refuses pages above
	// about 5 MB (max.response.size.reached) itself. With at most the
	// page size of entities, each value at most maxValue, a page never
	// holds more than about this much, whatever the server sends.
	maxPage = 6 << 20
)

// Validate checks what the API would refuse, except the 90-day limit
// (RunJobs splits longer intervals; StartJob checks it), against today
// being now: a start at most a year ago, and no end after today.
func (q JobQuery) Validate(now time.Time) error {
	if q.Interval == "" {
		return &ValidationError{Field: "interval", Reason: "required: start/end, such as 2026-01-01/2026-03-31"}
	}
	start, _, err := ParseInterval(q.Interval)
	if err != nil {
		return err
	}
	if err := notAfterToday(q.Interval, now); err != nil {
		return err
	}
	if earliest := yearAgo(now); start.Before(earliest) {
		return &ValidationError{Field: "interval", Value: q.Interval,
			Reason: fmt.Sprintf("starts more than a year ago: the API's limit is a start at most a year ago, on or after %s", earliest.Format(time.DateOnly))}
	}
	if q.Granularity != "" && !q.Granularity.Valid() {
		return &ValidationError{Field: "granularity", Value: string(q.Granularity), Allowed: strs(granularities)}
	}
	if q.PageSize < 0 || q.PageSize > maxPageSize {
		return &ValidationError{Field: "pageSize", Value: fmt.Sprint(q.PageSize), Reason: "want 1 to 1000, or 0 for 1000"}
	}
	for i, s := range q.SortBy {
		if deref(s.FieldName) == "" {
			return &ValidationError{Field: fmt.Sprintf("sortBy[%d].fieldName", i), Reason: "required: an entity field such as requestCount or date"}
		}
		if s.Order != nil && !s.Order.Valid() {
			return &ValidationError{Field: fmt.Sprintf("sortBy[%d].order", i), Value: string(*s.Order), Allowed: strs(sortOrders)}
		}
	}
	if q.ClientID != "" {
		if err := checkID("clientId", q.ClientID); err != nil {
			return err
		}
		switch {
		case len(q.GroupBy) > 0:
			return &ValidationError{Field: "groupBy", Value: string(q.GroupBy[0]), Reason: "a client's job takes ClientGroupBy", Allowed: strs(clientJobsGroupBys)}
		case len(q.UserIDs) > 0:
			return &ValidationError{Field: "userIds", Value: q.UserIDs[0], Reason: "filters the organization's job only, not a client's"}
		case len(q.OAuthClientIDs) > 0:
			return &ValidationError{Field: "oauthClientIds", Value: q.OAuthClientIDs[0], Reason: "filters the organization's job only, not a client's"}
		}
		if err := checkEnums("groupBy", q.ClientGroupBy, clientJobsGroupBys); err != nil {
			return err
		}
	} else {
		switch {
		case len(q.ClientGroupBy) > 0:
			return &ValidationError{Field: "groupBy", Value: string(q.ClientGroupBy[0]), Reason: "an organization's job takes GroupBy", Allowed: strs(jobsGroupBys)}
		case len(q.OrganizationIDs) > 0:
			return &ValidationError{Field: "organizationIds", Value: q.OrganizationIDs[0], Reason: "filters a client's job only: set ClientID"}
		}
		if err := checkEnums("groupBy", q.GroupBy, jobsGroupBys); err != nil {
			return err
		}
	}
	if err := checkEnums("metrics", q.Metrics, metrics); err != nil {
		return err
	}
	return checkEnums("httpMethods", q.HTTPMethods, jobsHTTPMethods)
}

// yearAgo is the earliest start the API takes: the same UTC day a year
// before today.
func yearAgo(now time.Time) time.Time {
	y, m, d := now.UTC().Date()
	return time.Date(y-1, m, d, 0, 0, 0, 0, time.UTC)
}

// Entity is one entity of a job's results, of either variant: the
// organization's fills OauthClient and User, a client's OrganizationID.
// Its JSON is the API's object, field names and nesting.
type Entity struct {
	gen.OrganizationPublicAPIUsage
	OrganizationID string `json:"organizationId,omitempty"`
}

// StartJob validates q, which must span at most 90 days, then starts its
// job. Keep the returned Job's ID (and ClientID) to resume with Client.Job.
func (c *Client) StartJob(ctx context.Context, q JobQuery) (*Job, error) {
	return c.startJob(ctx, q, c.now())
}

// startJob is StartJob with today being now.
func (c *Client) startJob(ctx context.Context, q JobQuery, now time.Time) (*Job, error) {
	if err := q.Validate(now); err != nil {
		return nil, err
	}
	if first, last, err := jobDays(q.Interval); err != nil {
		return nil, err
	} else if n := days(first, last); n > maxJobDays {
		return nil, &ValidationError{Field: "interval", Value: q.Interval,
			Reason: fmt.Sprintf("spans %d days: a job takes at most %d, both ends included (RunJobs splits longer intervals)", n, maxJobDays)}
	}
	var resp *http.Response
	var err error
	if q.ClientID == "" {
		resp, err = c.api.PostUsageAggregatesQueryJobs(ctx, gen.OrganizationPublicAPIUsageQueryRequest{
			Interval: q.Interval, Granularity: ptrIf(q.Granularity), Metrics: q.Metrics, GroupBy: q.GroupBy, SortBy: q.SortBy,
			TemplateUris: q.TemplateURIs, HTTPMethods: q.HTTPMethods, Platforms: q.Platforms, UserIds: q.UserIDs, OauthClientIds: q.OAuthClientIDs})
	} else {
		resp, err = c.api.PostUsageClientAggregatesQueryJobs(ctx, q.ClientID, gen.ClientPublicAPIUsageQueryRequest{
			Interval: q.Interval, Granularity: ptrIf(q.Granularity), Metrics: q.Metrics, GroupBy: q.ClientGroupBy, SortBy: q.SortBy,
			TemplateUris: q.TemplateURIs, HTTPMethods: q.HTTPMethods, Platforms: q.Platforms, OrganizationIds: q.OrganizationIDs})
	}
	// resultsUri is ignored, as Start ignores it: the job-id path is
	// always on our origin.
	var started gen.UsageQueryJob
	if err := decodeStarted(resp, err, &started); err != nil {
		return nil, err
	}
	if err := checkStarted(resp, "id", started.ID); err != nil {
		return nil, err
	}
	j := c.Job(q.ClientID, started.ID)
	j.PageSize = q.PageSize
	return j, nil
}

func ptrIf[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// Job is a handle on a started usage query job. It is safe for concurrent
// use.
type Job struct {
	ID       string
	ClientID string // "" for the organization's job
	// PageSize is the entities asked per page; 0 is 1000. A page the API
	// refuses as too large (max.response.size.reached) is asked for again
	// with half the page size, which the later pages keep, down to 1:
	// refused still, it is ErrResponseTooLarge.
	PageSize int

	c    *Client
	turn turn // one poll at a time; it guards the terminal state below
	done bool
	last string
	err  error
}

// Job returns a handle on a job started earlier, maybe by another process;
// clientID is "" for the organization's job.
func (c *Client) Job(clientID, id string) *Job {
	return &Job{ID: id, ClientID: clientID, c: c, turn: newTurn()}
}

// RunJob starts q and waits for its first page.
func (c *Client) RunJob(ctx context.Context, q JobQuery) (*JobResult, error) {
	j, err := c.StartJob(ctx, q)
	if err != nil {
		return nil, err
	}
	return j.Wait(ctx)
}

// Wait polls the job through the same loop and policy as Execution.Wait
// until it Succeeded, and returns its first page. Failed is an
// *ExecutionError carrying the errorBody the server sent, if any; Cancelled
// wraps ErrJobCancelled; another status wraps ErrUnknownStatus. Every error
// names the job, so that the caller can resume.
func (j *Job) Wait(ctx context.Context) (*JobResult, error) {
	return waitFor(ctx, j.c.poll, jobKind, j.ID, func(ctx, waitCtx context.Context) (look[*JobResult], error) {
		l, err := j.look(waitCtx)
		if l.res != nil {
			l.res.ctx = ctx
		}
		return l, err
	})
}

// look GETs the first page once, unless the job is known to be over.
func (j *Job) look(ctx context.Context) (look[*JobResult], error) {
	var none look[*JobResult]
	if err := j.check(); err != nil {
		return none, err
	}
	release, err := j.turn.take(ctx)
	if err != nil {
		return none, err
	}
	defer release()
	if j.done {
		return look[*JobResult]{state: j.last}, j.err
	}
	rd := newRowDecoder(j.c.log)
	p, err := j.page(ctx, rd, nil, j.PageSize)
	if err != nil {
		return none, err
	}
	st := p.status
	switch st {
	case gen.JobStatusQueued, gen.JobStatusRunning:
		return look[*JobResult]{state: string(st), hint: p.hint}, nil
	case gen.JobStatusSucceeded:
		// Not cached: the page is handed to one result only, and a later
		// Wait reads the job afresh.
		return look[*JobResult]{state: string(st), done: true, res: &JobResult{job: j, first: p, rd: rd}}, nil
	case gen.JobStatusFailed:
		j.err = &ExecutionError{ExecutionID: j.ID, Kind: jobKind, Status: string(st), Err: ErrQueryFailed, ErrorBody: p.errorBody}
	case gen.JobStatusCancelled:
		j.err = &ExecutionError{ExecutionID: j.ID, Kind: jobKind, Status: string(st), Err: ErrJobCancelled}
	default:
		j.err = &ExecutionError{ExecutionID: j.ID, Kind: jobKind, Status: string(st), Err: fmt.Errorf("%w %q", ErrUnknownStatus, st)}
	}
	j.done, j.last = true, string(st)
	return look[*JobResult]{state: j.last}, j.err
}

func (j *Job) check() error {
	if j.ClientID != "" {
		if err := checkID("clientId", j.ClientID); err != nil {
			return err
		}
	}
	if j.PageSize < 0 || j.PageSize > maxPageSize {
		return &ValidationError{Field: "pageSize", Value: fmt.Sprint(j.PageSize), Reason: "want 1 to 1000, or 0 for 1000"}
	}
	return checkID("jobId", j.ID)
}

// page is one decoded answer of the job's results.
type page struct {
	status    gen.JobStatus
	errorBody *gen.ErrorBody
	entities  []Entity
	next      *url.URL // nil on the last page
	size      int      // the page size that was accepted
	hint      time.Duration
}

// page GETs one page, decoding its entities with rd: the first when next
// is nil, else the one next names, at the page size that halve finds.
func (j *Job) page(ctx context.Context, rd *rowDecoder, next *url.URL, size int) (*page, error) {
	return halve(cmp.Or(size, maxPageSize), func(size int) (*page, error) { return j.get(ctx, rd, next, size) })
}

func (j *Job) get(ctx context.Context, rd *rowDecoder, next *url.URL, size int) (*page, error) {
	// A page is read whole before its entities are used: within the retry
	// policy's MaxElapsed, as an answer to a POST is.
	ctx = withKind(ctx, readWhole)
	ps := int32(size)
	// The cursor is whatever nextUri carries: its query goes as it is,
	// with our page size, on the job's own path.
	edit := func(_ context.Context, req *http.Request) error {
		if next != nil {
			q := next.Query()
			q.Set("pageSize", fmt.Sprint(size))
			req.URL.RawQuery = q.Encode()
		}
		return nil
	}
	var resp *http.Response
	var err error
	if j.ClientID == "" {
		resp, err = j.c.api.GetUsageAggregatesQueryJob(ctx, j.ID, &gen.GetUsageAggregatesQueryJobParams{PageSize: &ps}, edit)
	} else {
		resp, err = j.c.api.GetUsageClientAggregatesQueryJob(ctx, j.ClientID, j.ID, &gen.GetUsageClientAggregatesQueryJobParams{PageSize: &ps}, edit)
	}
	if err != nil {
		return nil, transportError(err)
	}
	if resp.StatusCode != 200 && resp.StatusCode != 202 {
		return nil, responseError(resp)
	}
	defer drain(resp.Body)
	fail := func(err error) (*page, error) {
		return nil, &DecodeError{Method: "GET", Path: resp.Request.URL.Path, Err: err}
	}
	body := &io.LimitedReader{R: resp.Body, N: maxPage + 1}
	a := newAnswer(io.NopCloser(body), resp.ContentLength)
	a.path, a.secrets = resp.Request.URL.Path, secretsOf(resp.Request)
	p := &page{size: size}
	p.hint, _ = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	nextURI, err := p.decode(a, rd)
	switch {
	case body.N <= 0:
		return fail(fmt.Errorf("a page larger than %d MiB", maxPage>>20))
	case err != nil:
		return nil, err
	case p.status == "":
		return fail(errors.New("no queryStatus"))
	}
	if nextURI != "" {
		if p.next, err = follow(resp.Request.URL, nextURI, a.secrets); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// follow reads a nextUri: a path on the API origin, or a URL of that
// origin. Any other host is refused, since the bearer token would follow.
func follow(base *url.URL, next string, secrets redactor) (*url.URL, error) {
	u, err := base.Parse(next)
	if err == nil && !sameOrigin(u, base) {
		err = fmt.Errorf("nextUri %s points to another origin than the API's: not followed", quote(redactURL(secrets.apply(next))))
	}
	if err != nil {
		return nil, &DecodeError{Method: "GET", Path: base.Path, Err: err}
	}
	return u, nil
}

// decode reads a page's object as it streams, each value within maxValue:
// the entities one at a time, at most the page size asked for, so that a
// page of a million empty entities is refused after the first excess one
// rather than held. It returns the nextUri.
func (p *page) decode(a *answer, rd *rowDecoder) (next string, err error) {
	if err := a.open(); err != nil {
		return "", err
	}
	for a.obj.Next() {
		a.m.n = 0
		switch string(a.obj.Key()) {
		case "queryStatus":
			var s string
			s, err = a.statusStr()
			p.status = gen.JobStatus(s)
		case "nextUri":
			next, err = a.str()
		case "errorBody":
			// Its words reach errors and terminals: without the bearer
			// token, should the server echo it.
			var raw jx.Raw
			if raw, err = a.dec.Raw(); err == nil {
				err = json.Unmarshal(a.secrets.body(raw), &p.errorBody)
			}
		case "entities":
			if err = a.results("entities"); err != nil {
				break
			}
			if err := p.decodeEntities(a, rd); err != nil {
				return "", err
			}
		default:
			err = a.dec.Skip()
		}
		if err != nil {
			return "", a.fail(0, err)
		}
	}
	return next, a.end()
}

// decodeEntities reads the entities array the answer stands at; an error
// names the entity, 1-based in the page.
func (p *page) decodeEntities(a *answer, rd *rowDecoder) error {
	rd.secrets = a.secrets
	if a.dec.Next() == jx.Null {
		return a.fail(0, a.dec.Null())
	}
	arr, err := a.dec.ArrIter()
	if err != nil {
		return a.fail(0, err)
	}
	for arr.Next() {
		rd.n = len(p.entities)
		if rd.n == p.size {
			return a.fail(rd.n+1, fmt.Errorf("more entities than the page size asked for, %d", p.size))
		}
		a.m.n = 0
		var e Entity
		raw, err := a.dec.Raw()
		if err == nil {
			err = rd.entity(raw, &e)
		}
		if err != nil {
			return a.fail(rd.n+1, err)
		}
		p.entities = append(p.entities, e)
	}
	return a.fail(len(p.entities)+1, arr.Err())
}

// entity decodes an entity of either variant by the rules of a row: strings
// shared, a negative counter an error, an odd date left zero and logged
// once (see rowDecoder.date); a date with a time is cut to its UTC day.
func (rd *rowDecoder) entity(raw []byte, e *Entity) error {
	rd.one.ResetBytes(raw)
	return rd.one.ObjBytes(func(d *jx.Decoder, k []byte) error {
		if d.Next() == jx.Null {
			return d.Null()
		}
		switch string(k) {
		case "date":
			var t time.Time
			err := rd.date(d, &t)
			e.Date.Time = t.Truncate(24 * time.Hour)
			return err
		case "platform":
			return rd.str(d, &e.Platform)
		case "httpMethod":
			return rd.str(d, &e.HTTPMethod)
		case "templateUri":
			return rd.str(d, &e.TemplateURI)
		case "organizationId":
			return rd.str(d, &e.OrganizationID)
		case "requestCount":
			return rd.count(d, "requestCount", &e.RequestCount)
		case "status200":
			return rd.count(d, "status200", &e.Status200)
		case "status300":
			return rd.count(d, "status300", &e.Status300)
		case "status400":
			return rd.count(d, "status400", &e.Status400)
		case "status429":
			return rd.count(d, "status429", &e.Status429)
		case "status500":
			return rd.count(d, "status500", &e.Status500)
		case "oauthClient":
			e.OauthClient = &gen.JobOAuthClient{}
			return rd.ref(d, &e.OauthClient.ID, &e.OauthClient.Name, &e.OauthClient.SelfURI)
		case "user":
			e.User = &gen.JobUser{}
			return rd.ref(d, &e.User.ID, nil, &e.User.SelfURI)
		}
		return d.Skip()
	})
}

// ref reads an {id, name, selfUri} object; name is nil where the API sends
// none.
func (rd *rowDecoder) ref(d *jx.Decoder, id, name, self *string) error {
	return d.ObjBytes(func(d *jx.Decoder, k []byte) error {
		if d.Next() == jx.Null {
			return d.Null()
		}
		switch string(k) {
		case "id":
			return rd.str(d, id)
		case "name":
			if name != nil {
				return rd.str(d, name)
			}
		case "selfUri":
			return rd.str(d, self)
		}
		return d.Skip()
	})
}

// JobResult is a job that Succeeded, holding its first page.
type JobResult struct {
	job   *Job
	first *page
	ctx   context.Context // the wait's, for the later pages
	mu    sync.Mutex
	rd    *rowDecoder // the first page's, until Rows takes it
}

// JobID is the id of the job, for resuming.
func (r *JobResult) JobID() string { return r.job.ID }

// Rows yields every entity of every page, in the server's order, holding
// one page at a time: the first, then each that nextUri names, read on the
// context given to the Wait that returned r. A page without entities ends
// the rows whatever its nextUri, and a nextUri whose cursor (its after) was
// met before (pages A, B, A) is an error, so that no server can keep Rows
// paging forever without yielding anything. The first error, an *ExecutionError naming the job, is
// yielded once, then the sequence stops. Rows can be iterated again: it
// then starts over from the first page, which it keeps.
func (r *JobResult) Rows() iter.Seq2[Entity, error] {
	return func(yield func(Entity, error) bool) {
		ctx := r.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		// The first reading goes on with the first page's decoder, so
		// that an odd date is logged once in all.
		r.mu.Lock()
		rd := r.rd
		r.rd = nil
		r.mu.Unlock()
		if rd == nil {
			rd = newRowDecoder(r.job.c.log)
		}
		defer rd.flush()
		p, seen := r.first, pageLoop{}
		for {
			for _, e := range p.entities {
				if !yield(e, nil) {
					return
				}
			}
			if p.next == nil || len(p.entities) == 0 {
				return
			}
			var err error
			if seen.again(cursor(p.next)) {
				err = errors.New("nextUri names a page already read: the pages would never end")
			} else if p, err = r.job.page(ctx, rd, p.next, p.size); err == nil && p.status != gen.JobStatusSucceeded {
				err = fmt.Errorf("a later page says queryStatus %q, not Succeeded", p.status)
			}
			if err != nil {
				yield(Entity{}, named(jobKind, r.job.ID, string(gen.JobStatusSucceeded), err))
				return
			}
		}
	}
}

// cursor is what names the page a nextUri points to: its after, which a
// server cannot disguise with a junk parameter, else the whole URI.
func cursor(next *url.URL) string {
	if q := next.Query(); q.Has("after") {
		return q.Get("after")
	}
	return next.String()
}
