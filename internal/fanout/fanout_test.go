package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/internal/fanout"
)

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("org-%02d", i)
	}
	return out
}

// gauge counts the work in flight and remembers the most at once.
type gauge struct{ now, most atomic.Int32 }

func (g *gauge) enter() {
	n := g.now.Add(1)
	for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
	}
}

func (g *gauge) leave() { g.now.Add(-1) }

// Run keeps to its limit, and with orgs that each take the same time, the
// run takes as many of those times as there are rounds: the work overlaps
// as much as the limit allows, and no more. The times are virtual.
func TestRunLimit(t *testing.T) {
	for _, c := range []struct{ orgs, limit, most int }{{10, 3, 3}, {10, 0, fanout.DefaultLimit}, {2, 5, 2}, {20, 4, 4}} {
		t.Run(fmt.Sprintf("%d orgs, limit %d", c.orgs, c.limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g gauge
				start := time.Now()
				outs := fanout.Run(t.Context(), names(c.orgs), fanout.Options{Limit: c.limit}, func(ctx context.Context, task *fanout.Task) error {
					g.enter()
					defer g.leave()
					time.Sleep(time.Second)
					return nil
				})
				if int(g.most.Load()) != c.most {
					t.Errorf("%d at once at most, want %d", g.most.Load(), c.most)
				}
				if rounds := (c.orgs + c.most - 1) / c.most; time.Since(start) != time.Duration(rounds)*time.Second {
					t.Errorf("took %v, want %d rounds of a second", time.Since(start), rounds)
				}
				for i, o := range outs {
					if o.Name != names(c.orgs)[i] || o.Index != i || o.State != fanout.Done || o.Err != nil {
						t.Errorf("outcome %d: %+v, want %s done", i, o, names(c.orgs)[i])
					}
				}
			})
		})
	}
}

// One org's error stops no other, and keeps what resumes it.
func TestOneFailureLosesNothing(t *testing.T) {
	boom := errors.New("boom")
	var ran atomic.Int32
	var done []string
	var mu sync.Mutex
	outs := fanout.Run(t.Context(), names(6), fanout.Options{Limit: 2, OnDone: func(o fanout.Outcome) {
		mu.Lock()
		defer mu.Unlock()
		done = append(done, o.Name)
	}}, func(ctx context.Context, task *fanout.Task) error {
		ran.Add(1)
		task.SetResume("exec-" + task.Name)
		if task.Index == 1 {
			return boom
		}
		task.SetResume("") // nothing left to resume
		return nil
	})
	if ran.Load() != 6 || len(done) != 6 {
		t.Errorf("%d ran, %d done, want 6 each", ran.Load(), len(done))
	}
	for i, o := range outs {
		want := fanout.Outcome{Name: names(6)[i], Index: i, State: fanout.Done}
		if i == 1 {
			want.State, want.Err, want.Resume = fanout.Failed, boom, "exec-org-01"
		}
		if o != want {
			t.Errorf("outcome %d: %+v, want %+v", i, o, want)
		}
	}
	if fanout.Failed.String() != "failed" || fanout.State(9).String() != "unknown" {
		t.Errorf("state names %q, %q", fanout.Failed, fanout.State(9))
	}
}

// The end of the context stops the orgs running, which keep what resumes
// them, and starts no other.
func TestCancelStopsEveryOrg(t *testing.T) {
	interrupted := errors.New("interrupted by signal")
	ctx, cancel := context.WithCancelCause(t.Context())
	var started atomic.Int32
	outs := fanout.Run(ctx, names(7), fanout.Options{Limit: 3, OnStart: func(string) {
		if started.Add(1) == 3 {
			cancel(interrupted) // Ctrl-C once three are running
		}
	}}, func(ctx context.Context, task *fanout.Task) error {
		task.SetResume("exec-" + task.Name)
		<-ctx.Done()
		return ctx.Err()
	})
	var states []fanout.State
	for i, o := range outs {
		states = append(states, o.State)
		switch {
		case i < 3 && (o.Resume != "exec-"+o.Name || !errors.Is(o.Err, context.Canceled)):
			t.Errorf("running org %d: %+v, want its execution and the context's error", i, o)
		case i >= 3 && (o.Resume != "" || !errors.Is(o.Err, interrupted)):
			t.Errorf("waiting org %d: %+v, want no execution and the context's cause", i, o)
		}
	}
	want := []fanout.State{fanout.Interrupted, fanout.Interrupted, fanout.Interrupted,
		fanout.NotStarted, fanout.NotStarted, fanout.NotStarted, fanout.NotStarted}
	if !slices.Equal(states, want) || started.Load() != 3 {
		t.Errorf("states %v after %d started, want %v after 3", states, started.Load(), want)
	}
}

// A Sink writes one whole row at a time whatever the number of orgs
// writing, counts each org's rows, and once a write fails refuses every
// later one.
func TestSink(t *testing.T) {
	var busy atomic.Bool
	var lines []string
	closed := errors.New("write |1: broken pipe")
	var fail atomic.Bool
	s := fanout.NewSink(func(org string, row int) error {
		if !busy.CompareAndSwap(false, true) {
			t.Error("write called while another write was in progress")
		}
		defer busy.Store(false)
		if fail.Load() {
			return closed
		}
		lines = append(lines, fmt.Sprintf("%s,%d", org, row))
		return nil
	})
	var wg sync.WaitGroup
	for _, org := range names(8) {
		wg.Go(func() {
			for row := range 100 {
				if err := s.Write(org, row); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if len(lines) != 800 || s.Rows("org-03") != 100 || s.Err() != nil {
		t.Errorf("%d lines, %d of org-03, error %v; want 800, 100, none", len(lines), s.Rows("org-03"), s.Err())
	}
	fail.Store(true)
	if err := s.Write("org-00", 100); err != closed {
		t.Errorf("write to a closed output: %v", err)
	}
	fail.Store(false)
	if err := s.Write("org-01", 100); err != closed || s.Err() != closed || s.Rows("org-01") != 100 {
		t.Errorf("write after a failure: %v (Err %v, %d rows), want the failure again and nothing written", err, s.Err(), s.Rows("org-01"))
	}
}

// Drain writes rows until the first error, of the rows or of a write.
func TestDrain(t *testing.T) {
	var got []int
	s := fanout.NewSink(func(org string, row int) error {
		if row == 3 {
			return errors.New("disk full")
		}
		got = append(got, row)
		return nil
	})
	broken := errors.New("connection reset")
	rows := func(stop error) func(yield func(int, error) bool) {
		return func(yield func(int, error) bool) {
			for i := range 5 {
				if i == 2 && stop != nil {
					yield(0, stop)
					return
				}
				if !yield(i, nil) {
					return
				}
			}
		}
	}
	if err := s.Drain("a", rows(broken)); err != broken || !slices.Equal(got, []int{0, 1}) {
		t.Errorf("rows broken after two: %v, wrote %v", err, got)
	}
	if err := s.Drain("b", rows(nil)); err == nil || err.Error() != "disk full" || !slices.Equal(got, []int{0, 1, 0, 1, 2}) || s.Rows("b") != 3 {
		t.Errorf("a write failing at the fourth row: %v, wrote %v (%d of b)", err, got, s.Rows("b"))
	}
}
