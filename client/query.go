package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"sync"

	"github.com/gcusage/gcusage/gen"
)

// Start validates q, which must not end after today (see WithNow), then
// starts its execution. The returned handle's ID can be stored and resumed
// later with Client.Execution or Client.Wait. The query and its results
// need any of the permissions oauth:client:view or usage:organization:view.
func (c *Client) Start(ctx context.Context, q Query) (*Execution, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := notAfterToday(q.Interval, c.now()); err != nil {
		return nil, err
	}
	body := gen.APIUsageQuery{Interval: q.Interval, Metrics: q.Metrics, GroupBy: q.GroupBy}
	if q.Granularity != "" {
		body.Granularity = &q.Granularity
	}
	id, err := startedID(c.api.PostUsageQuery(ctx, body))
	if err != nil {
		return nil, err
	}
	return c.Execution(id), nil
}

// startedID reads the execution id from the answer of a request that starts
// an execution (a query's POST, a summary's GET).
func startedID(resp *http.Response, err error) (string, error) {
	// resultsUri is ignored on purpose: it could name another origin, and
	// the execution-id path is always on ours.
	var s gen.UsageExecutionResult
	if err := decodeStarted(resp, err, &s); err != nil {
		return "", err
	}
	if err := checkStarted(resp, "executionId", deref(s.ExecutionID)); err != nil {
		return "", err
	}
	return *s.ExecutionID, nil
}

// checkStarted checks the id that the answer to a start gave: one path
// segment, and not the bearer token echoed, since errors, logs and resume
// hints print it.
func checkStarted(resp *http.Response, field, id string) error {
	err := checkID(field, id)
	if secrets := secretsOf(resp.Request); secrets.apply(id) != id {
		err = fmt.Errorf("%s %s holds the bearer token: refused", field, quote(secrets.apply(id)))
	}
	if err != nil {
		return &DecodeError{Method: resp.Request.Method, Path: resp.Request.URL.Path, Err: err}
	}
	return nil
}

// answered is what a results request answered: the 200 answer, or the
// error of any other.
func answered(resp *http.Response, err error) (*http.Response, error) {
	if err != nil {
		return nil, transportError(err)
	}
	if resp.StatusCode != 200 {
		return nil, responseError(resp)
	}
	return resp, nil
}

// decodeStarted reads the answer of a request that starts work (200 or
// 202) into v, or builds the error of any other answer.
func decodeStarted(resp *http.Response, err error, v any) error {
	if err != nil {
		return transportError(err)
	}
	if resp.StatusCode != 200 && resp.StatusCode != 202 {
		return responseError(resp)
	}
	defer drain(resp.Body)
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return &DecodeError{Method: resp.Request.Method, Path: resp.Request.URL.Path, Err: err}
	}
	return nil
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
// Client.Execution; a client's query or summary from Client.StartClient,
// Client.Summary or Client.ClientExecution; a simple search from
// Client.StartSearch or Client.SearchExecution. It is safe for concurrent
// use.
type Execution struct {
	ID string
	// ClientID is the OAuth client of a per-client query or summary, whose
	// results are read from that client's path; "" otherwise.
	ClientID string

	c   *Client
	src source

	turn turn // one poll at a time; it guards the terminal state below
	done bool
	last string // the terminal queryStatus, once seen
	err  error
}

// Execution returns a handle on an execution started earlier, maybe by
// another process.
func (c *Client) Execution(id string) *Execution {
	return c.handle(id, "", source{get: func(ctx context.Context, id, _ string) (*http.Response, error) {
		return answered(c.api.GetUsageQueryExecutionIDResults(ctx, id))
	}})
}

func (c *Client) handle(id, clientID string, src source) *Execution {
	return &Execution{ID: id, ClientID: clientID, c: c, src: src, turn: newTurn()}
}

// source is where the results of an execution are read: the seam through
// which one Execution, one wait loop and one Result serve the organization's
// query, a client's query or summary, and a simple search's pages.
type source struct {
	// get GETs the results of execution id, at the page whose cursor is
	// after ("" for the first), and returns the 200 answer or the error of
	// any other.
	get func(ctx context.Context, id, after string) (*http.Response, error)
	// paged says the answers come in pages linked by cursors.after, at
	// most maxSearchRecords rows in all.
	paged bool
}

// Poll asks once for the state of the execution. Once it is terminal, the
// answer is cached: Poll returns it again without a request. Failed and
// unknown states come with an *ExecutionError. An answer whose rows come
// before its status is read through to the status; its rows are not kept.
func (e *Execution) Poll(ctx context.Context) (gen.QueryStatus, error) {
	l, err := e.look(ctx, ctx, true)
	return gen.QueryStatus(l.state), named("", e.ID, l.state, err)
}

// Wait polls until the execution is Complete and returns its result, or
// returns an *ExecutionError carrying the execution id: on Failed, on an
// unknown state, when ctx ends or MaxWait passes (errors.Is finds the
// context error), and around any API error met while polling. The rows
// stream from the answer that ended the wait: one GET per poll, none more.
func (e *Execution) Wait(ctx context.Context) (*Result, error) {
	return waitFor(ctx, e.c.poll, "", e.ID, func(ctx, waitCtx context.Context) (look[*Result], error) {
		return e.look(ctx, waitCtx, false)
	})
}

// look GETs the state once, unless it is already known to be terminal.
// Without skip, the answer that holds the rows is detached from waitCtx
// and handed, open, to the Result, so that they stream from it; with skip
// (Poll, whose answer nothing would close) rows are read past.
func (e *Execution) look(ctx, waitCtx context.Context, skip bool) (look[*Result], error) {
	if err := checkID("executionId", e.ID); err != nil {
		return look[*Result]{}, err
	}
	release, err := e.turn.take(waitCtx)
	if err != nil {
		return look[*Result]{}, err
	}
	defer release()
	if e.done {
		return look[*Result]{state: e.last, done: e.err == nil, res: e.result(ctx, nil)}, e.err
	}
	a, hint, err := e.c.results(ctx, waitCtx, e.src.get, e.ID, "")
	if err != nil {
		return look[*Result]{}, err
	}
	if err := a.head(skip); err != nil {
		a.close()
		return look[*Result]{}, err
	}
	st := gen.QueryStatus(a.status)
	switch {
	case a.state == inRows:
		// Rows first, as the real API sends them: they stream now, and
		// their status is checked when they end. Nothing is cached, since
		// Complete is not yet known.
		a.stop()
		return look[*Result]{done: true, res: e.result(ctx, a)}, nil
	case st == gen.QueryStatusRunning:
		a.close()
		return look[*Result]{state: a.status, hint: hint}, nil
	case st == gen.QueryStatusComplete:
	case st == gen.QueryStatusFailed:
		e.err = &ExecutionError{ExecutionID: e.ID, Status: a.status, Err: ErrQueryFailed}
	default:
		e.err = &ExecutionError{ExecutionID: e.ID, Status: a.status, Err: fmt.Errorf("%w %q", ErrUnknownStatus, a.status)}
	}
	e.done, e.last = true, a.status
	if e.err != nil || skip {
		a.close()
		return look[*Result]{state: a.status, done: e.err == nil, res: e.result(ctx, nil)}, e.err
	}
	a.stop()
	return look[*Result]{state: a.status, done: true, res: e.result(ctx, a)}, nil
}

func (e *Execution) result(ctx context.Context, open *answer) *Result {
	return &Result{ExecutionID: e.ID, c: e.c, src: e.src, ctx: ctx, open: open}
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

// Result is an execution whose rows can be read. They are read from the
// network as they are iterated, never all held in memory, on the context
// given to the Wait or Run that returned it: keep that context alive until
// the rows are read.
//
// The rows stream from the answer that ended the wait, whichever the order
// of its keys. When the rows come before queryStatus, as the real API sends
// them, the status is read after the last row: anything but Complete is
// then an error after the rows, since they may be a part only. The rows of
// a simple search come in pages, one held at a time: see Rows and Capped.
type Result struct {
	ExecutionID string

	c      *Client
	src    source
	ctx    context.Context // the wait's, for a new GET of the rows
	mu     sync.Mutex
	open   *answer // the answer that ended the wait, until Rows takes it
	capped bool
}

// Rows yields the rows in the server's order. The first error, an
// *ExecutionError naming the execution, is yielded once, then the sequence
// stops; an answer cut short after its rows, or whose status after them is
// not Complete, is an error too, not a short result. The open answer is
// consumed by the first call; any later call GETs the results again.
// Iterating to the end or breaking off closes the answer.
//
// A simple search's rows go on page after page, each GET with the cursor
// of the page before, until a page has no cursors.after (or an empty one,
// or no rows), or until MaxSearchRecords rows, the API's cap, even within
// a page: Capped then says so. A cursor met before is an error.
func (r *Result) Rows() iter.Seq2[gen.APIUsageRow, error] {
	return func(yieldRow func(gen.APIUsageRow, error) bool) {
		r.mu.Lock()
		a := r.open
		r.open = nil
		r.mu.Unlock()
		rd, seen := newRowDecoder(r.c.log), pageLoop{}
		defer rd.flush()
		for {
			if a == nil {
				var err error
				if a, err = r.page(""); err != nil {
					yieldRow(gen.APIUsageRow{}, &ExecutionError{ExecutionID: r.ExecutionID, Err: err})
					return
				}
			}
			before, ok, capped := rd.n, true, false
			var budget *readBudget
			if r.src.paged {
				budget = newReadBudget(r.c.budget, a)
			}
			// Every error names the execution, whose rows can be read again.
			a.stream(rd, true, func(row gen.APIUsageRow, err error) bool {
				if err != nil {
					ok = false
					err = &ExecutionError{ExecutionID: r.ExecutionID, Status: a.status, Err: err}
				}
				budget.pause()
				ok = yieldRow(row, err) && ok
				budget.resume()
				// The cap counts rows, so that a page longer than asked
				// for, or one that never ends, stops there too.
				capped = ok && r.src.paged && rd.n >= MaxSearchRecords
				return ok && !capped
			})
			budget.pause()
			a.close()
			if capped {
				r.mu.Lock()
				r.capped = true
				r.mu.Unlock()
				r.c.log.Warn("gcusage: the search stopped at the API's cap; narrow the interval or add filters",
					"execution", oneLine(r.ExecutionID, maxQuoted), "records", rd.n)
				return
			}
			if !ok || !r.src.paged {
				return
			}
			// A page without rows ends the search whatever its cursor says,
			// and a cursor met before is an error, so that no server can
			// keep it paging forever.
			if a.after == "" || rd.n == before {
				return
			}
			var err error
			if seen.again(a.after) {
				err = errors.New("cursors.after names a page already read: the pages would never end")
			} else {
				a, err = r.page(a.after)
			}
			if err != nil {
				yieldRow(gen.APIUsageRow{}, &ExecutionError{ExecutionID: r.ExecutionID, Err: err})
				return
			}
		}
	}
}

// page GETs the results from the page whose cursor is after, read up to
// their rows.
func (r *Result) page(after string) (*answer, error) {
	a, _, err := r.c.results(r.ctx, r.ctx, r.src.get, r.ExecutionID, after)
	if err != nil {
		return nil, err
	}
	if err := a.head(false); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// Capped reports whether Rows stopped at MaxSearchRecords, the most records
// the API gives a simple search: the rows may then be a part only (a
// search of exactly that many reports it too). Ask once the rows are read.
func (r *Result) Capped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.capped
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
