package client

import (
	"context"
	"errors"
	"fmt"
	"time"
)

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

// PollEvent tells OnPoll about a poll that found the work still going.
type PollEvent struct {
	ID      string        // the execution polled
	Attempt int           // 1 for the first poll
	Status  string        // such as Running
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

// look is what one poll of a long-running operation found: its state, the
// server's hint for the next poll, and, once it is over, its result. Each
// service (the usage query, and any other that is started and then polled)
// answers the loop below through a look function; the loop itself, its
// delays, deadlines and errors are written once.
type look[R any] struct {
	state string
	hint  time.Duration
	done  bool
	res   R
}

// waitFor polls with look until it reports done, an error, or the end of ctx
// or of p.MaxWait. The request of each look lives on ctx (a result may keep
// streaming from it after the wait) and also ends with waitCtx while the
// state is read. Every error it returns is an *ExecutionError naming id, of
// idKind (see ExecutionError.Kind), so that the caller can resume.
func waitFor[R any](ctx context.Context, p PollPolicy, idKind, id string, poll func(ctx, waitCtx context.Context) (look[R], error)) (R, error) {
	var zero R
	waitCtx, cancel := ctx, context.CancelFunc(func() {})
	if p.MaxWait > 0 {
		waitCtx, cancel = context.WithTimeout(ctx, p.MaxWait)
	}
	defer cancel()
	start, garbled, lastChance := time.Now(), 0, true
	for n := 1; ; n++ {
		l, err := poll(ctx, waitCtx)
		var de *DecodeError
		switch {
		case err == nil && l.done:
			return l.res, nil
		case waitCtx.Err() != nil:
			return zero, stopped(waitCtx, idKind, id, l.state, start)
		case errors.As(err, &de) && garbled < maxGarbled:
			// An answer cut short is most often the network's doing, and
			// polling again costs nothing; one that stays garbled is not.
			garbled++
		case err != nil:
			return zero, named(idKind, id, l.state, err)
		default:
			garbled = 0
		}
		d := p.delay(n, time.Since(start), l.hint)
		// Rather than sleep past the deadline, look once more just before
		// it, as AWS waiters do: the work may have ended meanwhile.
		if dl, ok := waitCtx.Deadline(); ok && lastChance {
			if left := time.Until(dl); d >= left {
				d, lastChance = left-min(left/10, time.Second), false
			}
		}
		if p.OnPoll != nil && err == nil {
			p.OnPoll(PollEvent{ID: id, Attempt: n, Status: l.state, Elapsed: time.Since(start), Next: d})
		}
		if sleep(waitCtx, d) != nil {
			return zero, stopped(waitCtx, idKind, id, l.state, start)
		}
	}
}

// maxGarbled is how many unreadable answers in a row Wait polls past.
const maxGarbled = 2

// named puts the id of the work polled around an error met while polling
// it, so that the caller can resume; a bad argument needs no resuming.
func named(idKind, id, state string, err error) error {
	var ee *ExecutionError
	var ve *ValidationError
	if err == nil || errors.As(err, &ee) || errors.As(err, &ve) {
		return err
	}
	return &ExecutionError{ExecutionID: id, Kind: idKind, Status: state, Err: err}
}

func stopped(ctx context.Context, idKind, id, state string, start time.Time) error {
	what := "canceled"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		what = "timed out"
	}
	d := time.Since(start).Round(10 * time.Millisecond)
	return &ExecutionError{ExecutionID: id, Kind: idKind, Status: state, Err: fmt.Errorf("wait %s after %s: %w", what, d, ctx.Err())}
}

// turn lets one poll of a handle at a time reach the server; the others
// wait for it, or for their own context, whichever ends first.
type turn chan struct{}

func newTurn() turn { return make(turn, 1) }

// take waits for the turn; release it by calling the function returned.
func (t turn) take(ctx context.Context) (func(), error) {
	select {
	case t <- struct{}{}:
		return func() { <-t }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
