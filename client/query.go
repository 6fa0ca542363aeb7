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
// poller: Poll for one look, Wait for the end. Get one from Client.Start or
// Client.Execution. It is safe for concurrent use.
type Execution struct {
	ID string
	c  *Client

	// turn lets one poll at a time reach the server; the others wait for
	// it, or for their own context, whichever ends first. It guards the
	// cached terminal answer below.
	turn   chan struct{}
	done   bool
	status gen.QueryStatus
	empty  bool // Complete without any results
	err    error
}

// Execution returns a handle on an execution started earlier, maybe by
// another process.
func (c *Client) Execution(id string) *Execution {
	return &Execution{ID: id, c: c, turn: make(chan struct{}, 1)}
}

// PollPolicy sets how Wait polls. A zero field takes its default.
type PollPolicy struct {
	// MinDelay is the first delay between polls; the delays then grow
	// ×1.5 a poll up to a second, so that a quick query is seen within a
	// second of its end. Default 200ms.
	MinDelay time.Duration
	// Lateness is how late a wait may see the end of a query, as a
	// fraction of the time waited so far: past the first second, the
	// delay grows with the wait, so that a query running for minutes is
	// not polled every second. Default 0.2.
	Lateness float64
	// MaxDelay caps the delay between polls, whatever the above. Default
	// 1m.
	//
	// Each delay is drawn at random from the top quarter of its bound.
	// Full jitter, as retries use, would halve the mean delay and so
	// double the polls for the same lateness; the quarter is enough to
	// spread out clients that started together.
	MaxDelay time.Duration
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
	if p.Lateness <= 0 {
		p.Lateness = 0.2
	}
	def(&p.MaxDelay, time.Minute)
	def(&p.MaxRetryAfter, 30*time.Second)
	return p
}

// delay is the wait after poll n, elapsed into the wait, with the server's
// hint.
func (p PollPolicy) delay(n int, elapsed, hint time.Duration) time.Duration {
	c := backoffCap(n-1, p.MinDelay, max(p.MinDelay, time.Second), 1.5)
	c = min(max(c, time.Duration(p.Lateness*float64(elapsed))), p.MaxDelay)
	return max(c-jitter(c/4), min(hint, p.MaxRetryAfter))
}

// Poll asks once for the state of the execution. Once it is terminal, the
// answer is cached: Poll returns it again without a request, and after
// Complete, Wait returns the result at once. Failed and unknown states come
// with an *ExecutionError.
func (e *Execution) Poll(ctx context.Context) (gen.QueryStatus, error) {
	st, _, _, err := e.poll(ctx, ctx, false)
	return st, e.wrap(st, err)
}

// wrap names the execution in an error met while polling it, so that the
// caller can resume; a bad argument needs no resuming.
func (e *Execution) wrap(st gen.QueryStatus, err error) error {
	var ee *ExecutionError
	var ve *ValidationError
	if err == nil || errors.As(err, &ee) || errors.As(err, &ve) {
		return err
	}
	return &ExecutionError{ExecutionID: e.ID, Status: string(st), Err: err}
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
	start, garbled, lastChance := time.Now(), 0, true
	for n := 1; ; n++ {
		st, hint, res, err := e.poll(ctx, waitCtx, true)
		var de *DecodeError
		switch {
		case res != nil:
			return res, nil
		case waitCtx.Err() != nil:
			return nil, e.stopped(waitCtx, st, start)
		case errors.As(err, &de) && garbled < maxGarbled:
			// An answer cut short is most often the network's doing, and
			// polling again costs nothing; one that stays garbled is not.
			garbled++
		case err != nil:
			return nil, e.wrap(st, err)
		default:
			garbled = 0
		}
		d := p.delay(n, time.Since(start), hint)
		// Rather than sleep past the deadline, look once more just before
		// it, as AWS waiters do: the query may have ended meanwhile.
		if dl, ok := waitCtx.Deadline(); ok && lastChance {
			if left := time.Until(dl); d >= left {
				d, lastChance = left-min(left/10, time.Second), false
			}
		}
		if p.OnPoll != nil && st == gen.QueryStatusRunning {
			p.OnPoll(PollEvent{Attempt: n, Status: st, Elapsed: time.Since(start), Next: d})
		}
		if sleep(waitCtx, d) != nil {
			return nil, e.stopped(waitCtx, st, start)
		}
	}
}

// maxGarbled is how many unreadable answers in a row Wait polls past.
const maxGarbled = 2

func (e *Execution) stopped(ctx context.Context, st gen.QueryStatus, start time.Time) error {
	what := "canceled"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		what = "timed out"
	}
	d := time.Since(start).Round(10 * time.Millisecond)
	return &ExecutionError{ExecutionID: e.ID, Status: string(st), Err: fmt.Errorf("wait %s after %s: %w", what, d, ctx.Err())}
}

// poll GETs the state once and, on Complete, returns the Result. The
// request lives on ctx, and also ends with waitCtx while the state is read.
// With keep, the answer that said Complete is detached from waitCtx and
// handed, open, to the Result, so that the rows stream from it; Poll does
// not keep it, since nothing would close it.
func (e *Execution) poll(ctx, waitCtx context.Context, keep bool) (gen.QueryStatus, time.Duration, *Result, error) {
	if e.ID == "" {
		return "", 0, nil, &ValidationError{Field: "executionId", Reason: "required"}
	}
	select {
	case e.turn <- struct{}{}:
		defer func() { <-e.turn }()
	case <-waitCtx.Done():
		return "", 0, nil, waitCtx.Err()
	}
	if !e.done {
		a, hint, err := e.c.results(ctx, waitCtx, e.ID)
		if err != nil {
			return "", 0, nil, err
		}
		status, sawResults, err := a.scanHead()
		st := gen.QueryStatus(status)
		switch {
		case err != nil:
			a.close()
			return "", 0, nil, &DecodeError{Method: "GET", Path: a.path, Err: err}
		case st == gen.QueryStatusRunning:
			a.close()
			return st, hint, nil, nil
		case st == gen.QueryStatusComplete && keep && a.atRows && a.stop():
			e.done, e.status = true, st
			return st, 0, &Result{ExecutionID: e.ID, c: e.c, ctx: ctx, open: a}, nil
		case st == gen.QueryStatusComplete:
			e.empty = !sawResults
		case st == gen.QueryStatusFailed:
			e.err = &ExecutionError{ExecutionID: e.ID, Status: status, Err: ErrQueryFailed}
		default:
			e.err = &ExecutionError{ExecutionID: e.ID, Status: status, Err: fmt.Errorf("%w %q", ErrUnknownStatus, status)}
		}
		a.close()
		e.done, e.status = true, st
	}
	if e.err != nil {
		return e.status, 0, nil, e.err
	}
	return e.status, 0, &Result{ExecutionID: e.ID, c: e.c, ctx: ctx, empty: e.empty}, nil
}

// answer is a results answer being read: its body, the decoder in it, the
// iterator over the keys of its object, and what ends its request.
type answer struct {
	path   string
	body   io.ReadCloser
	dec    *jx.Decoder
	obj    jx.ObjIter
	atRows bool // dec stands at the results array
	stop   func() bool
	cancel context.CancelFunc
}

// results GETs the results of execution id and opens the answer's object.
// The request lives on ctx and also ends with until, unless stop detaches
// it first.
func (c *Client) results(ctx, until context.Context, id string) (*answer, time.Duration, error) {
	rctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(until, cancel)
	resp, err := c.api.GetUsageQueryExecutionIDResults(rctx, id)
	if err != nil {
		stop()
		cancel()
		return nil, 0, transportError(err)
	}
	if resp.StatusCode != 200 {
		stop()
		defer cancel()
		return nil, 0, responseError(resp)
	}
	a := &answer{path: resp.Request.URL.Path, body: resp.Body, dec: getDecoder(resp.Body), stop: stop, cancel: cancel}
	if a.obj, err = a.dec.ObjIter(); err != nil {
		a.close()
		return nil, 0, &DecodeError{Method: "GET", Path: a.path, Err: err}
	}
	hint, _ := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return a, hint, nil
}

// close drains what is left of the answer, so that its connection can be
// reused, and ends its request.
func (a *answer) close() {
	a.stop()
	drain(a.body)
	a.cancel()
	putDecoder(a.dec)
}

// scanHead reads the answer's keys until it knows the status. When
// queryStatus comes before results (as the stub sends it), it stops at the
// results array. When results come first, it skips them without keeping
// them to reach the status; a Complete result then GETs its rows again.
func (a *answer) scanHead() (status string, sawResults bool, err error) {
	seen := false
	for err == nil && a.obj.Next() {
		switch string(a.obj.Key()) {
		case "queryStatus":
			seen = true
			if a.dec.Next() == jx.Null {
				err = a.dec.Null()
			} else {
				status, err = a.dec.Str()
			}
		case "results":
			sawResults = true
			if seen && a.dec.Next() == jx.Array {
				a.atRows = true
				return status, true, nil
			}
			err = a.dec.Skip()
		default:
			err = a.dec.Skip()
		}
	}
	if err == nil {
		err = a.obj.Err()
	}
	return status, sawResults, err
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
// they are iterated, never all held in memory, on the context given to the
// Wait or Run that returned it: keep that context alive until the rows are
// read.
//
// When the server sends queryStatus before results (as the stub does), the
// rows stream from the answer that said Complete. When results come first,
// the status is only known after them: that answer is skipped through
// without being kept and Rows GETs the results once more, trading one
// request for flat memory.
type Result struct {
	ExecutionID string

	c     *Client
	ctx   context.Context // the caller's, for a new GET of the rows
	mu    sync.Mutex
	open  *answer // the answer that said Complete, until Rows takes it
	empty bool    // Complete without any results
}

// Rows yields the rows in the server's order. The first error, an
// *ExecutionError naming the execution, is yielded once, then the sequence
// stops; an answer cut short after its rows is an error too, not a short
// result. The open answer is consumed by the first call; any later call
// GETs the results again. Iterating to the end or breaking off closes the
// answer.
func (r *Result) Rows() iter.Seq2[gen.APIUsageRow, error] {
	return func(yieldRow func(gen.APIUsageRow, error) bool) {
		// Every error names the execution, whose rows can be read again.
		yield := func(row gen.APIUsageRow, err error) bool {
			if err != nil {
				err = &ExecutionError{ExecutionID: r.ExecutionID, Status: string(gen.QueryStatusComplete), Err: err}
			}
			return yieldRow(row, err)
		}
		r.mu.Lock()
		a := r.open
		r.open = nil
		r.mu.Unlock()
		if a == nil && r.empty {
			return
		}
		if a == nil {
			var err error
			if a, _, err = r.c.results(r.ctx, r.ctx, r.ExecutionID); err != nil {
				yield(gen.APIUsageRow{}, err)
				return
			}
		}
		defer a.close()
		newRowDecoder(r.c.log).object(a.dec, &a.obj, a.atRows, yield)
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
	a := r.open
	r.open = nil
	r.mu.Unlock()
	if a != nil {
		a.close()
	}
	return nil
}
