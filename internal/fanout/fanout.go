// Package fanout runs the same work over many Genesys Cloud organizations
// at once, a bounded number at a time, and gathers how each one ended: the
// CLI's --profile a,b,c and --all-profiles, and the benchmark of them.
//
// Each org's work runs in a goroutine of its own and builds its own
// client.Client (its own token, retries, rate-limit waits and connection
// pool), so a slow or throttled org holds one slot and nothing else. One
// org's failure never cancels the others: every org runs to its own end,
// and Run returns every outcome. The caller's context stops them all:
// the orgs then running see it end, those not started yet never start.
//
// Rows of several orgs meet in a Sink, which writes them one whole row at
// a time. The package is internal: it serves the gcusage commands and
// benchmarks, not apps.
package fanout

import (
	"context"
	"sync"
)

// DefaultLimit is how many orgs run at once unless Options.Limit says
// otherwise.
const DefaultLimit = 4

// Options tune Run.
type Options struct {
	// Limit is the most orgs that run at once; below 1, DefaultLimit.
	Limit int
	// OnStart and OnDone, when set, hear of each org as its work starts
	// and as it ends (OnDone also of the orgs that never started). They
	// are called from the orgs' goroutines, so they must be safe for
	// concurrent use, and should be quick: a slot is held meanwhile.
	OnStart func(name string)
	OnDone  func(Outcome)
}

// State is how one org's work ended.
type State int

// The states of an Outcome.
const (
	// Done: the work returned nil.
	Done State = iota
	// Failed: the work returned an error of its own, the context being
	// still alive.
	Failed
	// Interrupted: the context ended while the work ran, and it returned
	// (most often the context's error).
	Interrupted
	// NotStarted: the context ended before the org's turn came.
	NotStarted
)

var stateNames = [...]string{Done: "done", Failed: "failed", Interrupted: "interrupted", NotStarted: "not started"}

// String names the state in lower case, for messages.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "unknown"
	}
	return stateNames[s]
}

// Outcome is how one org's work ended.
type Outcome struct {
	Name  string // the org's name, as given to Run
	Index int    // its position in the names given to Run
	State State
	// Err is the work's error: nil when Done, the context's cause when
	// NotStarted.
	Err error
	// Resume is what the work last gave Task.SetResume: the execution or
	// job id that picks it up again, or "" when there is none (it never
	// started one, or nothing is left to pick up).
	Resume string
}

// Task is one org's work in progress, given to the work function.
type Task struct {
	Name  string // the org's name
	Index int    // its position in the names given to Run

	mu     sync.Mutex
	resume string
}

// SetResume records what picks the org's work up again should it not end
// well: the id of the execution or job it has started, as soon as the
// POST answers. "" clears it, once nothing is left to resume. It is safe
// to call from any goroutine of the work.
func (t *Task) SetResume(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.resume = id
}

func (t *Task) resumeHint() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.resume
}

// Run calls work once for each of names, in order, with at most
// opts.Limit calls running at once, and returns every org's Outcome in the
// order of names once all have returned. An error of one org does not stop
// the others. When ctx ends, the orgs not started are NotStarted and Run
// returns as soon as the running ones have returned, which they do when
// they heed ctx: work must bound every wait by it.
func Run(ctx context.Context, names []string, opts Options, work func(ctx context.Context, t *Task) error) []Outcome {
	limit := opts.Limit
	if limit < 1 {
		limit = DefaultLimit
	}
	out := make([]Outcome, len(names))
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	done := func(o Outcome) {
		out[o.Index] = o
		if opts.OnDone != nil {
			opts.OnDone(o)
		}
	}
	for i, name := range names {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		// A slot and the end of ctx may come together: ctx wins, so that
		// nothing starts once it has ended.
		if ctx.Err() != nil {
			for j := i; j < len(names); j++ {
				done(Outcome{Name: names[j], Index: j, State: NotStarted, Err: context.Cause(ctx)})
			}
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if opts.OnStart != nil {
				opts.OnStart(name)
			}
			t := &Task{Name: name, Index: i}
			err := work(ctx, t)
			o := Outcome{Name: name, Index: i, Err: err, Resume: t.resumeHint()}
			switch {
			case err == nil:
				o.State = Done
			case ctx.Err() != nil:
				o.State = Interrupted
			default:
				o.State = Failed
			}
			done(o)
		})
	}
	wg.Wait()
	return out
}
