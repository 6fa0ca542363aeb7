package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gcusage/gcusage/gen"
)

// JobWindow is one window of a run split by RunJobs: its interval, as
// whole UTC days, and the job that counts it once started.
type JobWindow struct {
	Interval string // such as 2026-01-01/2026-03-31, both ends included
	JobID    string // "" until the job is started
	ClientID string // "" for the organization's job
	// MaybeStarted says that the window's POST was sent and its answer
	// lost (ErrMaybeStarted): the job may have started, under an id that
	// is not known, so JobID is "". A window with neither was never
	// started.
	MaybeStarted bool
}

// SplitError ends a RunJobs run that did not yield every row. Window is the
// window that failed; Unfinished lists every window whose rows were not all
// yielded, in order, with the job id of those that were started, so that
// they can be resumed with Client.Job. A window without a job id must be
// queried again: when it is MaybeStarted, its first job may be running as
// well, and counts against the organization's rate limit. Err is the
// window's error, often an *ExecutionError.
type SplitError struct {
	Window     JobWindow
	Unfinished []JobWindow
	Err        error
}

// Error names the window and its job, then the error.
func (e *SplitError) Error() string {
	job := "job " + oneLine(e.Window.JobID, maxQuoted)
	switch {
	case e.Window.MaybeStarted:
		job = "job may have started, its id unknown"
	case e.Window.JobID == "":
		job = "job not started"
	}
	cause := strings.TrimPrefix(e.Err.Error(), "gcusage: ")
	if e.Window.Interval == "" {
		return "gcusage: " + cause // the cause names the job
	}
	return fmt.Sprintf("gcusage: window %s (%s): %s", e.Window.Interval, job, cause)
}

// Unwrap gives the window's error.
func (e *SplitError) Unwrap() error { return e.Err }

// JobOptions tunes RunJobs.
type JobOptions struct {
	// Concurrency is how many windows run at once; 0 is 4.
	Concurrency int
	// OnStart, when set, is called as each window's job starts, for
	// progress displays and resume hints. Its calls are never concurrent.
	OnStart func(JobWindow)
	// Now is today for the one-year limit and the end; nil is the
	// client's clock (WithNow).
	Now func() time.Time
}

// jobDays reads an interval as the whole UTC days it meets.
func jobDays(interval string) (first, last time.Time, err error) {
	start, end, err := ParseInterval(interval)
	if err != nil {
		return first, last, err
	}
	first = start.UTC().Truncate(24 * time.Hour)
	last = end.UTC().Add(-1).Truncate(24 * time.Hour)
	return first, last, nil
}

// days counts the days from first to last, both included.
func days(first, last time.Time) int { return int(last.Sub(first)/(24*time.Hour)) + 1 }

// SplitInterval splits an interval into windows of at most 90 whole UTC
// days, written as dates, that neither overlap nor leave a gap. With a
// granularity, every window but the first starts on a bucket start (a
// Monday for Week, the 1st for Month), so that no bucket is split across
// two windows.
func SplitInterval(interval string, g gen.Granularity) ([]string, error) {
	first, last, err := jobDays(interval)
	if err != nil {
		return nil, err
	}
	var out []string
	for from := first; !from.After(last); {
		to := from.AddDate(0, 0, maxJobDays-1)
		if g == gen.GranularityWeek || g == gen.GranularityMonth {
			// End the window before the last bucket that would not fit.
			if b := bucketStart(g, to.AddDate(0, 0, 1)); b.After(from) {
				to = b.AddDate(0, 0, -1)
			}
		}
		to = minTime(to, last)
		out = append(out, Days(from, to))
		from = to.AddDate(0, 0, 1)
	}
	return out, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// bucketStart is the UTC start of the bucket holding day t.
func bucketStart(g gen.Granularity, t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	switch g {
	case gen.GranularityWeek:
		day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // ISO weeks start on Monday
	case gen.GranularityMonth:
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// RunJobs runs q over an interval of any length whose start is at most a
// year ago: it splits it into windows (see SplitInterval), runs at most
// o.Concurrency of their jobs at once, and yields one stream of entities.
// With a granularity, the rows come window by window, in order; a window
// whose job is over before its turn holds its first page until then. Without
// one, each window's totals are summed per group across windows and
// ordered by q.SortBy, so that the caller gets one total per group, as one
// query would give; those are held in memory until the last window ends,
// at most 50,000 of them (past that, an error wrapping
// ErrTooManyGroups), and a sum past the int64 range is an error. The first
// error, a *SplitError naming the failed window, its job and every
// unfinished one, is yielded once, then the sequence stops; the other jobs
// are then no longer waited for.
func (c *Client) RunJobs(ctx context.Context, q JobQuery, o JobOptions) iter.Seq2[Entity, error] {
	return func(yield func(Entity, error) bool) {
		now := c.now
		if o.Now != nil {
			now = o.Now
		}
		if err := q.Validate(now()); err != nil {
			yield(Entity{}, err)
			return
		}
		intervals, _ := SplitInterval(q.Interval, q.Granularity) // Validate parsed it
		r := newRun(ctx, c, q, intervals, o, now())
		defer r.stop()
		if q.Granularity == "" && len(intervals) > 1 {
			r.totals(yield)
			return
		}
		for i := range intervals {
			res, err := r.result(i)
			if err == nil {
				for e, err := range res.Rows() {
					if err != nil {
						yield(Entity{}, r.fail(i, err))
						return
					}
					if !yield(e, nil) {
						return
					}
				}
			}
			if err != nil {
				yield(Entity{}, r.fail(i, err))
				return
			}
			r.finish(i)
		}
	}
}

// run is a split run in flight: a goroutine per window, at most n of them
// starting or waiting at once.
type run struct {
	cancel  context.CancelFunc
	sortBy  []gen.JobsSortBy
	wg      sync.WaitGroup
	onStart turn // one OnStart call at a time (a channel: synctest sees it block)

	mu      sync.Mutex
	windows []JobWindow
	read    []bool // rows all yielded
	ready   []chan struct{}
	results []*JobResult
	errs    []error
}

func newRun(ctx context.Context, c *Client, q JobQuery, intervals []string, o JobOptions, now time.Time) *run {
	ctx, cancel := context.WithCancel(ctx)
	r := &run{cancel: cancel, sortBy: q.SortBy, onStart: newTurn(), windows: make([]JobWindow, len(intervals)), read: make([]bool, len(intervals)),
		ready: make([]chan struct{}, len(intervals)), results: make([]*JobResult, len(intervals)), errs: make([]error, len(intervals))}
	n := o.Concurrency
	if n <= 0 {
		n = 4
	}
	slots := make(chan struct{}, n)
	// Windows take their slots in order, so that the first windows, whose
	// rows are read first, start first.
	prev := make(chan struct{})
	close(prev)
	for i, iv := range intervals {
		r.windows[i] = JobWindow{Interval: iv, ClientID: q.ClientID}
		r.ready[i] = make(chan struct{})
		r.wg.Add(1)
		after, mine := prev, make(chan struct{})
		prev = mine
		go func() {
			defer r.wg.Done()
			defer close(r.ready[i])
			select {
			case <-after:
			case <-ctx.Done():
				close(mine)
				r.errs[i] = ctx.Err()
				return
			}
			select {
			case slots <- struct{}{}:
				close(mine)
			case <-ctx.Done():
				close(mine)
				r.errs[i] = ctx.Err()
				return
			}
			defer func() { <-slots }()
			wq := q
			wq.Interval = iv
			j, err := c.startJob(ctx, wq, now)
			if err != nil {
				r.mu.Lock()
				r.windows[i].MaybeStarted = errors.Is(err, ErrMaybeStarted)
				r.mu.Unlock()
				r.errs[i] = err
				return
			}
			r.mu.Lock()
			r.windows[i].JobID = j.ID
			r.mu.Unlock()
			if o.OnStart != nil {
				release, err := r.onStart.take(ctx)
				if err != nil {
					r.errs[i] = err
					return
				}
				o.OnStart(JobWindow{Interval: iv, JobID: j.ID, ClientID: q.ClientID})
				release()
			}
			r.results[i], r.errs[i] = j.Wait(ctx)
		}()
	}
	return r
}

// result waits for window i's job to succeed, and hands its result over:
// the run no longer holds its first page, so that a long run keeps only
// the pages of the windows not yet read.
func (r *run) result(i int) (*JobResult, error) {
	<-r.ready[i]
	res := r.results[i]
	r.results[i] = nil
	return res, r.errs[i]
}

func (r *run) finish(i int) {
	r.mu.Lock()
	r.read[i] = true
	r.mu.Unlock()
}

// fail stops the other windows and builds the run's error.
func (r *run) fail(i int, err error) error {
	r.cancel()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := &SplitError{Window: r.windows[i], Err: err}
	for k, w := range r.windows {
		if !r.read[k] {
			e.Unfinished = append(e.Unfinished, w)
		}
	}
	return e
}

func (r *run) stop() {
	r.cancel()
	r.wg.Wait()
}

// ErrTooManyGroups is what errors.Is finds in the error of a RunJobs run
// without granularity whose totals passed the bound of what it sums in
// memory: 50,000 groups, or 16 MiB of their values. A granularity (such
// as Month) streams the rows window by window instead; fewer dimensions
// in GroupBy, or more filters, make fewer groups.
var ErrTooManyGroups = errors.New("too many groups to sum in memory")

// The most a RunJobs run without granularity sums in memory until its last
// window ends: about 40 MiB at worst, whatever the server sends. A real
// group's values take a few hundred bytes. ErrTooManyGroups and
// docs/sdk.md state these numbers.
const (
	maxTotalGroups = 50000
	maxTotalBytes  = 16 << 20
)

// totals sums the windows' totals per group, and yields them once every
// window is read, in the order the query's SortBy asks (else in the order
// groups first appear): until then a failure leaves every window
// unfinished. It holds at most maxTotalGroups groups and maxTotalBytes of
// their strings.
func (r *run) totals(yield func(Entity, error) bool) {
	sums := map[groupKey]int{}
	var out []Entity
	size := 0
	for i := range r.windows {
		res, err := r.result(i)
		if err == nil {
			for e, rerr := range res.Rows() {
				if rerr != nil {
					err = rerr
					break
				}
				k := keyOf(&e)
				at, ok := sums[k]
				if !ok {
					if size += entityBytes(&e); len(out) == maxTotalGroups || size > maxTotalBytes {
						err = fmt.Errorf("%w: the totals of this run pass %d groups or %d MiB of their values, the most RunJobs sums in memory: set a Granularity (such as Month) to have the rows of each window as they come, or group by fewer dimensions, or filter more",
							ErrTooManyGroups, maxTotalGroups, maxTotalBytes>>20)
						break
					}
					sums[k] = len(out)
					out = append(out, e)
					continue
				}
				if err = add(&out[at], &e); err != nil {
					err = fmt.Errorf("the totals of group %s: %w", k, err)
					break
				}
			}
		}
		if err != nil {
			yield(Entity{}, r.fail(i, err))
			return
		}
		// Window i is not finished: none of its sums is yielded before
		// every window is read, so that a failure lists every window.
	}
	sortTotals(out, r.sortBy)
	for _, e := range out {
		if !yield(e, nil) {
			return
		}
	}
}

// sortTotals orders summed totals as by asks, since each window's job
// sorted its own totals only: by each field in turn, Asc unless Desc, as
// the stub reads them; stable, so that ties keep the order groups first
// appeared in. A field not known here leaves the order to the next.
func sortTotals(out []Entity, by []gen.JobsSortBy) {
	if len(by) == 0 {
		return
	}
	slices.SortStableFunc(out, func(a, b Entity) int {
		for _, s := range by {
			f, ok := entityOrder[deref(s.FieldName)]
			if !ok {
				continue
			}
			c := f(&a, &b)
			if deref(s.Order) == gen.SortOrderDesc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
}

// entityOrder compares entities by a sortBy field name. The API does not
// document the names it takes: these are its entity's fields.
var entityOrder = map[string]func(a, b *Entity) int{
	"date":         func(a, b *Entity) int { return a.Date.Compare(b.Date.Time) },
	"requestCount": func(a, b *Entity) int { return cmp.Compare(a.RequestCount, b.RequestCount) },
	"status200":    func(a, b *Entity) int { return cmp.Compare(a.Status200, b.Status200) },
	"status300":    func(a, b *Entity) int { return cmp.Compare(a.Status300, b.Status300) },
	"status400":    func(a, b *Entity) int { return cmp.Compare(a.Status400, b.Status400) },
	"status429":    func(a, b *Entity) int { return cmp.Compare(a.Status429, b.Status429) },
	"status500":    func(a, b *Entity) int { return cmp.Compare(a.Status500, b.Status500) },
	"templateUri":  func(a, b *Entity) int { return cmp.Compare(a.TemplateURI, b.TemplateURI) },
	"httpMethod":   func(a, b *Entity) int { return cmp.Compare(a.HTTPMethod, b.HTTPMethod) },
	"platform":     func(a, b *Entity) int { return cmp.Compare(a.Platform, b.Platform) },
}

// add adds e's counters to sum's; a sum past the int64 range is an error,
// not a wrapped negative total. Counters are never negative (see
// rowDecoder.count).
func add(sum, e *Entity) error {
	for _, c := range [...]struct {
		name   string
		sum, v *int64
	}{{"requestCount", &sum.RequestCount, &e.RequestCount}, {"status200", &sum.Status200, &e.Status200},
		{"status300", &sum.Status300, &e.Status300}, {"status400", &sum.Status400, &e.Status400},
		{"status429", &sum.Status429, &e.Status429}, {"status500", &sum.Status500, &e.Status500}} {
		if *c.v > math.MaxInt64-*c.sum {
			return fmt.Errorf("%s overflows int64 summed across windows (%d + %d)", c.name, *c.sum, *c.v)
		}
		*c.sum += *c.v
	}
	return nil
}

// groupKey is every dimension of an entity: totals of one group carry the
// same values in every window.
type groupKey struct {
	clientID, clientName, userID, platform, method, template, org string
	date                                                          time.Time
}

// String names the group by its dimensions that are set, for errors.
func (k groupKey) String() string {
	var b strings.Builder
	for _, d := range [...]struct{ name, v string }{{"oauthClient.id", k.clientID}, {"oauthClient.name", k.clientName},
		{"user.id", k.userID}, {"organizationId", k.org}, {"platform", k.platform}, {"httpMethod", k.method}, {"templateUri", k.template}} {
		if d.v != "" {
			fmt.Fprintf(&b, " %s=%s", d.name, quote(d.v))
		}
	}
	if !k.date.IsZero() {
		fmt.Fprintf(&b, " date=%s", k.date.Format(time.DateOnly))
	}
	if b.Len() == 0 {
		return "{}"
	}
	return "{" + b.String()[1:] + "}"
}

// entityBytes counts the bytes of an entity's strings.
func entityBytes(e *Entity) int {
	n := len(e.Platform) + len(e.HTTPMethod) + len(e.TemplateURI) + len(e.OrganizationID)
	if c := e.OauthClient; c != nil {
		n += len(c.ID) + len(c.Name) + len(c.SelfURI)
	}
	if u := e.User; u != nil {
		n += len(u.ID) + len(u.SelfURI)
	}
	return n
}

func keyOf(e *Entity) groupKey {
	k := groupKey{platform: e.Platform, method: e.HTTPMethod, template: e.TemplateURI, org: e.OrganizationID, date: e.Date.Time}
	if c := e.OauthClient; c != nil {
		k.clientID, k.clientName = c.ID, c.Name
	}
	if u := e.User; u != nil {
		k.userID = u.ID
	}
	return k
}
