package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"sync"
	"time"

	"github.com/gcusage/gcusage/gen"
)

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
