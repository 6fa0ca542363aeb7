package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-faster/jx"

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

// Start validates q, then starts its execution. The returned handle's ID can
// be stored and resumed later with Client.Execution or Client.Wait.
func (c *Client) Start(ctx context.Context, q Query) (*Execution, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	body := gen.APIUsageQuery{Interval: q.Interval, Metrics: q.Metrics, GroupBy: q.GroupBy}
	if q.Granularity != "" {
		body.Granularity = &q.Granularity
	}
	resp, err := c.api.PostUsageQuery(ctx, body)
	if err != nil {
		return nil, transportError(err)
	}
	if resp.StatusCode != 200 && resp.StatusCode != 202 {
		return nil, responseError(resp)
	}
	defer drain(resp.Body)
	// resultsUri is ignored on purpose: it could name another origin, and
	// the execution-id path is always on ours.
	var started gen.UsageExecutionResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&started); err != nil {
		return nil, &DecodeError{Method: "POST", Path: resp.Request.URL.Path, Err: err}
	}
	if deref(started.ExecutionID) == "" {
		return nil, &DecodeError{Method: "POST", Path: resp.Request.URL.Path, Err: errors.New("no executionId")}
	}
	return c.Execution(*started.ExecutionID), nil
}

// Run starts q and waits for its result.
func (c *Client) Run(ctx context.Context, q Query) (*Result, error) {
	e, err := c.Start(ctx, q)
	if err != nil {
		return nil, err
	}
	return e.Wait(ctx)
}

// Wait waits for a stored execution id; see Execution.Wait.
func (c *Client) Wait(ctx context.Context, executionID string) (*Result, error) {
	return c.Execution(executionID).Wait(ctx)
}

// Execution is a handle on a started query, in the manner of the Azure SDK
// poller: Poll for one look, Wait for the end. It is safe for concurrent use.
type Execution struct {
	ID string
	c  *Client

	mu     sync.Mutex
	done   bool // a terminal answer is cached below
	status gen.QueryStatus
	result *Result
	err    error
}

// Execution returns a handle on an execution started earlier, maybe by
// another process.
func (c *Client) Execution(id string) *Execution { return &Execution{ID: id, c: c} }

// PollPolicy sets how Wait polls. A zero field takes its default.
type PollPolicy struct {
	// MinDelay and MaxDelay bound the exponential growth (×1.5 per poll)
	// of the delay between polls. Defaults 200ms and 1s. Beyond MaxDelay,
	// the bound follows a fifth of the time waited so far (at most
	// max(MaxDelay, 1m)), so that a query running for minutes is not
	// polled every second, and is seen at most 20% late.
	//
	// Each delay is drawn at random from the top quarter of its bound.
	// Full jitter, as retries use, would halve the mean delay and so
	// double the polls for the same lateness; the quarter is enough to
	// spread out clients that started together.
	MinDelay, MaxDelay time.Duration
	// MaxWait bounds the whole wait on top of the context; 0: context only.
	MaxWait time.Duration
	// MaxRetryAfter bounds the Retry-After a results answer may ask
	// for; a longer hint is cut to it. Default 30s.
	MaxRetryAfter time.Duration
	// OnPoll, when set, is called after each poll that found the query
	// still running, for progress displays.
	OnPoll func(PollEvent)
}

// PollEvent tells OnPoll about a poll.
type PollEvent struct {
	Attempt int // 1 for the first poll
	Status  gen.QueryStatus
	Elapsed time.Duration // since Wait began
	Next    time.Duration // until the next poll
}

func (p PollPolicy) withDefaults() PollPolicy {
	def(&p.MinDelay, 200*time.Millisecond)
	def(&p.MaxDelay, time.Second)
	def(&p.MaxRetryAfter, 30*time.Second)
	return p
}

// delay is the wait after poll n, elapsed into the wait, with the server's
// hint.
func (p PollPolicy) delay(n int, elapsed, hint time.Duration) time.Duration {
	c := backoffCap(n-1, p.MinDelay, p.MaxDelay, 1.5)
	if long := min(elapsed/5, max(p.MaxDelay, time.Minute)); long > c {
		c = long
	}
	return max(c-jitter(c/4), min(hint, p.MaxRetryAfter))
}

// Poll asks once for the state of the execution. Once it is terminal, the
// answer is cached: Poll returns it again without a request, and after
// Complete, Wait returns the result at once. Failed and unknown states come
// with an *ExecutionError.
func (e *Execution) Poll(ctx context.Context) (gen.QueryStatus, error) {
	st, _, err := e.poll(ctx, ctx)
	return st, err
}

// Wait polls until the execution is Complete and returns its result, or
// returns an *ExecutionError carrying the execution id: on Failed, on an
// unknown state, when ctx ends or MaxWait passes (errors.Is finds the
// context error), and around any API error met while polling.
func (e *Execution) Wait(ctx context.Context) (*Result, error) {
	p := e.c.poll
	waitCtx, cancel := ctx, context.CancelFunc(func() {})
	if p.MaxWait > 0 {
		waitCtx, cancel = context.WithTimeout(ctx, p.MaxWait)
	}
	defer cancel()
	start := time.Now()
	for n := 1; ; n++ {
		st, hint, err := e.poll(ctx, waitCtx)
		var ee *ExecutionError
		var ve *ValidationError
		switch {
		case err == nil && st != gen.QueryStatusRunning:
			return e.result, nil
		case waitCtx.Err() != nil:
			return nil, e.stopped(waitCtx, st, start)
		case errors.As(err, &ee) || errors.As(err, &ve):
			return nil, err
		case err != nil:
			return nil, &ExecutionError{ExecutionID: e.ID, Err: err}
		}
		d := p.delay(n, time.Since(start), hint)
		if p.OnPoll != nil {
			p.OnPoll(PollEvent{Attempt: n, Status: st, Elapsed: time.Since(start), Next: d})
		}
		if sleep(waitCtx, d) != nil {
			return nil, e.stopped(waitCtx, st, start)
		}
	}
}

func (e *Execution) stopped(ctx context.Context, st gen.QueryStatus, start time.Time) error {
	what := "canceled"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		what = "timed out"
	}
	d := time.Since(start).Round(10 * time.Millisecond)
	return &ExecutionError{ExecutionID: e.ID, Status: string(st), Err: fmt.Errorf("wait %s after %s: %w", what, d, ctx.Err())}
}

// poll GETs the state once. The request lives on ctx, and also ends with
// waitCtx while the state is being read; once the state is known to be
// Complete, the body is detached from waitCtx and handed, open, to the
// Result, so that rows stream from the very answer that said Complete.
func (e *Execution) poll(ctx, waitCtx context.Context) (gen.QueryStatus, time.Duration, error) {
	if e.ID == "" {
		return "", 0, &ValidationError{Field: "executionId", Reason: "required"}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return e.status, 0, e.err
	}
	rctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(waitCtx, cancel)
	resp, err := e.c.api.GetUsageQueryExecutionIDResults(rctx, e.ID)
	if err != nil {
		stop()
		cancel()
		return "", 0, transportError(err)
	}
	if resp.StatusCode != 200 {
		stop()
		defer cancel()
		return "", 0, responseError(resp)
	}
	hint, _ := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	dec := getDecoder(resp.Body)
	release := func() { stop(); drain(resp.Body); cancel(); putDecoder(dec) }
	h, err := scanHead(dec)
	if err != nil {
		release()
		return "", 0, &DecodeError{Method: "GET", Path: resp.Request.URL.Path, Err: err}
	}
	st := gen.QueryStatus(h.status)
	switch st {
	case gen.QueryStatusRunning:
		release()
		return st, hint, nil
	case gen.QueryStatusComplete:
		e.result = &Result{ExecutionID: e.ID, c: e.c, ctx: ctx, empty: !h.sawResults}
		if h.atRows && stop() {
			e.result.body, e.result.dec, e.result.cancel = resp.Body, dec, cancel
		} else {
			release()
		}
	case gen.QueryStatusFailed:
		release()
		e.err = &ExecutionError{ExecutionID: e.ID, Status: string(st), Err: ErrQueryFailed}
	default:
		release()
		e.err = &ExecutionError{ExecutionID: e.ID, Status: string(st), Err: fmt.Errorf("%w %q", ErrUnknownStatus, st)}
	}
	e.done, e.status = true, st
	return st, 0, e.err
}

// head is what scanHead learnt of a results answer.
type head struct {
	status     string
	sawResults bool
	atRows     bool // the decoder stands at the results array
}

// scanHead reads the keys of an ApiUsageQueryResult until it knows the
// status. If queryStatus comes before results, it stops at the results array
// with the status known. Otherwise it skips the array (without keeping it)
// to reach the status; a Complete result then fetches its rows again.
func scanHead(d *jx.Decoder) (head, error) {
	var h head
	seen := false
	it, err := d.ObjIter()
	for err == nil && it.Next() {
		switch string(it.Key()) {
		case "queryStatus":
			seen = true
			if d.Next() == jx.Null {
				err = d.Null()
			} else {
				h.status, err = d.Str()
			}
		case "results":
			h.sawResults = h.sawResults || d.Next() != jx.Null
			if seen && d.Next() == jx.Array {
				h.atRows = true
				return h, nil
			}
			err = d.Skip()
		default:
			err = d.Skip()
		}
	}
	if err == nil {
		err = it.Err()
	}
	return h, err
}

// transportError unwraps the *url.Error the HTTP client puts around an
// *AuthError, whose text is already complete.
func transportError(err error) error {
	var ae *AuthError
	var ue *url.Error
	if errors.As(err, &ae) && errors.As(err, &ue) {
		return ae
	}
	return err
}

// Result is a Complete execution. Its rows are read from the network as
// they are iterated, never all held in memory.
//
// When the server sends queryStatus before results (as it does), the rows
// stream from the answer that said Complete. When results come first, the
// status is only known after them: that answer is skipped through without
// being kept and Rows GETs the results once more, trading one request for
// flat memory.
type Result struct {
	ExecutionID string

	c      *Client
	ctx    context.Context // the caller's, for a new GET of the rows
	mu     sync.Mutex
	body   io.ReadCloser // the open answer, until Rows takes it
	dec    *jx.Decoder
	cancel context.CancelFunc
	empty  bool // the answer had no results at all
}

// Rows yields the rows in the server's order. The first error is yielded
// once, then the sequence stops. The open answer is consumed by the first
// call; any later call GETs the results again. Iterating to the end or
// breaking off closes the answer.
func (r *Result) Rows() iter.Seq2[gen.APIUsageRow, error] {
	return func(yield func(gen.APIUsageRow, error) bool) {
		rd := newRowDecoder(r.c.log)
		r.mu.Lock()
		body, dec, cancel := r.body, r.dec, r.cancel
		r.body, r.dec, r.cancel = nil, nil, nil
		r.mu.Unlock()
		if body != nil {
			// Draining lets the connection be reused once the rows end.
			defer func() { drain(body); cancel(); putDecoder(dec) }()
			rd.array(dec, yield)
			return
		}
		if r.empty {
			return
		}
		resp, err := r.c.api.GetUsageQueryExecutionIDResults(r.ctx, r.ExecutionID)
		if err == nil && resp.StatusCode != 200 {
			err = responseError(resp)
		}
		if err != nil {
			yield(gen.APIUsageRow{}, &ExecutionError{ExecutionID: r.ExecutionID, Status: string(gen.QueryStatusComplete), Err: transportError(err)})
			return
		}
		dec = getDecoder(resp.Body)
		defer func() { drain(resp.Body); putDecoder(dec) }()
		rd.object(dec, yield)
	}
}

// All collects the rows, for results known to be small.
func (r *Result) All() ([]gen.APIUsageRow, error) {
	var rows []gen.APIUsageRow
	for row, err := range r.Rows() {
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// Close releases an answer whose rows were not iterated. It is safe to call
// more than once, and after Rows.
func (r *Result) Close() error {
	r.mu.Lock()
	body, dec, cancel := r.body, r.dec, r.cancel
	r.body, r.dec, r.cancel = nil, nil, nil
	r.mu.Unlock()
	if body == nil {
		return nil
	}
	defer putDecoder(dec)
	defer cancel()
	return body.Close()
}
