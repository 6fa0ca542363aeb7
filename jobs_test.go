package gcusage_test

// Contract tests of the usage query jobs: the client against the stub,
// every exchange checked against api/usage.yaml, polling in virtual time.

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// jobsToday is the stub's jobsToday in these tests, so that the one-year and
// 90-day limits do not depend on when they run.
var jobsToday = time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)

func todayFn() time.Time { return jobsToday }

// statusLog records the status and query of every answer of a job GET.
type statusLog struct {
	base http.RoundTripper
	mu   sync.Mutex
	gets []string // "202 pageSize=1000&after=..."
}

func (l *statusLog) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(req)
	if err == nil && req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/aggregates/query/jobs/") {
		l.mu.Lock()
		l.gets = append(l.gets, fmt.Sprintf("%d %s", resp.StatusCode, req.URL.RawQuery))
		l.mu.Unlock()
	}
	return resp, err
}

func (l *statusLog) log() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.gets)
}

type jobHarness struct {
	srv *usagetest.Server
	c   *client.Client
	log *statusLog
	// garbled allows answers outside the spec on the job GETs, where a
	// fault breaks it on purpose.
	garbled bool
}

func newJobHarness(t *testing.T, stubOpts ...usagetest.Option) *jobHarness {
	t.Helper()
	srv := usagetest.NewServer(t, append([]usagetest.Option{usagetest.InMemory(), usagetest.WithNow(todayFn)}, stubOpts...)...)
	check := newSpecCheck(t, srv.Transport())
	h := &jobHarness{srv: srv, log: &statusLog{base: check}}
	c, err := client.New(client.WithNow(srv.Now), client.WithBaseURLs(srv.URL, srv.LoginURL), client.WithClientCredentials(srv.ClientID, srv.ClientSecret),
		client.WithHTTPClient(&http.Client{Transport: h.log}))
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	t.Cleanup(func() {
		for _, v := range check.violations {
			if !h.garbled || v.method != http.MethodGet || !strings.HasPrefix(v.msg, "response") {
				t.Errorf("outside api/usage.yaml: %s", v)
			}
		}
	})
	return h
}

// posted returns the intervals of the jobs the stub was asked to start.
func (h *jobHarness) posted(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range h.srv.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/aggregates/query/jobs") {
			var q gen.OrganizationPublicAPIUsageQueryRequest
			if err := json.Unmarshal(r.Body, &q); err != nil {
				t.Fatal(err)
			}
			out = append(out, q.Interval)
		}
	}
	slices.Sort(out) // windows start concurrently
	return out
}

func days(from time.Time, n int) string { return client.Days(from, from.AddDate(0, 0, n-1)) }

func entities(t *testing.T, seq func(func(client.Entity, error) bool)) []client.Entity {
	t.Helper()
	var out []client.Entity
	for e, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestJobQueuedRunningThen202ThenRows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var states []string
		h := newJobHarness(t, usagetest.WithRunning(2, 0))
		c, err := client.New(client.WithNow(h.srv.Now), client.WithBaseURLs(h.srv.URL, h.srv.LoginURL), client.WithClientCredentials(h.srv.ClientID, h.srv.ClientSecret),
			client.WithHTTPClient(&http.Client{Transport: h.log}),
			client.WithPollPolicy(client.PollPolicy{OnPoll: func(e client.PollEvent) { states = append(states, e.Status) }}))
		if err != nil {
			t.Fatal(err)
		}
		q := client.JobQuery{Interval: days(jobsToday.AddDate(0, 0, -7), 7), Granularity: gen.GranularityDay, GroupBy: []gen.JobsGroupBy{gen.JobsGroupByOauthClientID}}
		res, err := c.RunJob(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		got := entities(t, res.Rows())
		if len(got) < 10 || len(got) > 21 {
			t.Errorf("%d entities, want about 18 (7 days × 3 clients, some days without traffic)", len(got))
		}
		for _, e := range got {
			if e.OauthClient == nil || e.OauthClient.ID == "" || e.Date.IsZero() || e.RequestCount != e.Status200+e.Status300+e.Status400+e.Status500 {
				t.Fatalf("entity %+v lacks its client, date or consistent counts", e)
			}
		}
		if want := []string{"Queued", "Running", "Running"}; !slices.Equal(states, want) {
			t.Errorf("polls saw %v, want %v", states, want)
		}
		gets := h.log.log()
		if len(gets) != 4 || !strings.HasPrefix(gets[0], "202 ") || !strings.HasPrefix(gets[2], "202 ") || !strings.HasPrefix(gets[3], "200 ") {
			t.Errorf("GETs %v: want three 202 answers, then 200", gets)
		}
	})
}

func TestJobThreePages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newJobHarness(t, usagetest.WithRunning(0, 0))
		q := client.JobQuery{Interval: days(jobsToday.AddDate(0, 0, -30), 14), Granularity: gen.GranularityDay,
			GroupBy: []gen.JobsGroupBy{gen.JobsGroupByOauthClientID}, PageSize: 15}
		j, err := h.c.StartJob(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		res, err := j.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		paged := entities(t, res.Rows())
		if n := len(h.log.log()); n != 3 {
			t.Errorf("%d GETs for %d entities by 15, want 3: %v", n, len(paged), h.log.log())
		}
		whole, err := h.c.Job("", j.ID).Wait(t.Context()) // resumed by id, one page of 1000
		if err != nil {
			t.Fatal(err)
		}
		all := entities(t, whole.Rows())
		if len(paged) <= 30 || len(paged) > 45 || !slices.EqualFunc(paged, all, entityEqual) {
			t.Errorf("three pages gave %d entities, one page %d: want the same 31 to 45", len(paged), len(all))
		}
	})
}

func entityEqual(a, b client.Entity) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestJobMaxResponseSizeHalvesThePage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newJobHarness(t, usagetest.WithRunning(0, 0), usagetest.WithFault(usagetest.RouteJobResults, 0, usagetest.MaxResponseSize(300)))
		q := client.JobQuery{Interval: days(jobsToday.AddDate(0, 0, -40), 30), Granularity: gen.GranularityDay,
			GroupBy: []gen.JobsGroupBy{gen.JobsGroupByOauthClientID, gen.JobsGroupByTemplateURI, gen.JobsGroupByHTTPMethod}}
		res, err := h.c.RunJob(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		got := entities(t, res.Rows())
		gets := h.log.log()
		if len(gets) < 4 || gets[0] != "400 pageSize=1000" || gets[1] != "400 pageSize=500" || gets[2] != "200 pageSize=250" {
			t.Errorf("GETs %v: want 1000 and 500 refused, then pages of 250", gets)
		}
		if len(got) < 250*(len(gets)-3) {
			t.Errorf("%d entities over %d pages", len(got), len(gets)-2)
		}
	})
}

// A 200-day interval runs as three windows of whole days, with no gap and
// no overlap; with a granularity the rows come in window order.
func TestJobsSplitTwoHundredDays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newJobHarness(t, usagetest.WithRunning(1, 0))
		from := jobsToday.AddDate(0, 0, -201)
		q := client.JobQuery{Interval: days(from, 200), Granularity: gen.GranularityDay, GroupBy: []gen.JobsGroupBy{gen.JobsGroupByOauthClientID}}
		// OnStart calls are never concurrent: each takes a virtual second,
		// and no other may begin meanwhile.
		var started []string
		var inside, most atomic.Int32
		got := entities(t, h.c.RunJobs(t.Context(), q, client.JobOptions{Now: todayFn, OnStart: func(w client.JobWindow) {
			if n := inside.Add(1); n > most.Load() {
				most.Store(n)
			}
			started = append(started, w.Interval)
			time.Sleep(time.Second)
			inside.Add(-1)
		}}))
		if most.Load() != 1 {
			t.Errorf("%d OnStart calls at once, want 1", most.Load())
		}
		want := []string{days(from, 90), days(from.AddDate(0, 0, 90), 90), days(from.AddDate(0, 0, 180), 20)}
		if p := h.posted(t); !slices.Equal(p, want) {
			t.Errorf("windows %v, want %v", p, want)
		}
		if slices.Sort(started); !slices.Equal(started, want) {
			t.Errorf("OnStart saw %v, want %v", started, want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Date.Before(got[i-1].Date.Time) && got[i].Date.Before(from.AddDate(0, 0, 90)) && !got[i-1].Date.Before(from.AddDate(0, 0, 90)) {
				t.Fatalf("entity %d (%v) of an earlier window after one of a later window (%v)", i, got[i].Date, got[i-1].Date)
			}
		}
		first, last := got[0].Date.Time, got[0].Date.Time
		for _, e := range got {
			first, last = minT(first, e.Date.Time), maxT(last, e.Date.Time)
		}
		if !first.Equal(from) || !last.Equal(from.AddDate(0, 0, 199)) {
			t.Errorf("entities from %v to %v, want the 200 days from %v", first, last, from)
		}
	})
}

func minT(a, b time.Time) time.Time { return map[bool]time.Time{true: a, false: b}[a.Before(b)] }
func maxT(a, b time.Time) time.Time { return map[bool]time.Time{true: a, false: b}[a.After(b)] }

func TestJobsSplitByWeekKeepsWeeksWhole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newJobHarness(t, usagetest.WithRunning(0, 0))
		q := client.JobQuery{Interval: days(jobsToday.AddDate(0, 0, -201), 200), Granularity: gen.GranularityWeek, GroupBy: []gen.JobsGroupBy{gen.JobsGroupByOauthClientID}}
		got := entities(t, h.c.RunJobs(t.Context(), q, client.JobOptions{Now: todayFn}))
		p := h.posted(t)
		if len(p) != 3 {
			t.Fatalf("windows %v, want 3", p)
		}
		for _, iv := range p[1:] {
			start, _, _ := client.ParseInterval(iv)
			if start.Weekday() != time.Monday {
				t.Errorf("window %s does not start on a Monday", iv)
			}
		}
		seen := map[string]bool{}
		for _, e := range got {
			k := e.OauthClient.ID + e.Date.String()
			if seen[k] {
				t.Errorf("week %v of client %s split across windows", e.Date, e.OauthClient.ID)
			}
			seen[k] = true
		}
	})
}

// Without a granularity, the totals of the three windows are summed per
// group: they equal the daily rows of the same data summed per group.
func TestJobsTotalsSumAcrossWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newJobHarness(t, usagetest.WithRunning(0, 0))
		iv := days(jobsToday.AddDate(0, 0, -201), 200)
		group := []gen.JobsGroupBy{gen.JobsGroupByOauthClientID, gen.JobsGroupByHTTPMethod}
		totals := entities(t, h.c.RunJobs(t.Context(), client.JobQuery{Interval: iv, GroupBy: group}, client.JobOptions{Now: todayFn}))
		if w := h.posted(t); len(w) != 3 {
			t.Fatalf("200 days without granularity ran as %d windows %v, want 3", len(w), w)
		}
		daily := entities(t, h.c.RunJobs(t.Context(), client.JobQuery{Interval: iv, GroupBy: group, Granularity: gen.GranularityDay}, client.JobOptions{Now: todayFn}))
		want := map[string]int64{}
		for _, e := range daily {
			want[e.OauthClient.ID+" "+e.HTTPMethod] += e.RequestCount
		}
		if len(totals) != 9 || len(want) != 9 { // 3 clients × 3 methods
			t.Fatalf("%d totals and %d daily groups, want 9 of each", len(totals), len(want))
		}
		for _, e := range totals {
			if k := e.OauthClient.ID + " " + e.HTTPMethod; e.RequestCount != want[k] || !e.Date.IsZero() {
				t.Errorf("total of %s: %d requests (date %v), want %d summed from days", k, e.RequestCount, e.Date, want[k])
			}
		}
		// And one window's total is the stub's own single answer.
		short := days(jobsToday.AddDate(0, 0, -40), 30)
		one := entities(t, h.c.RunJobs(t.Context(), client.JobQuery{Interval: short, GroupBy: group}, client.JobOptions{Now: todayFn}))
		res, err := h.c.RunJob(t.Context(), client.JobQuery{Interval: short, GroupBy: group})
		if err != nil {
			t.Fatal(err)
		}
		if single := entities(t, res.Rows()); !slices.EqualFunc(one, single, entityEqual) {
			t.Errorf("RunJobs over one window differs from the single job")
		}
	})
}

func TestJobsFailedWindowNamesItsJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newJobHarness(t, usagetest.WithRunning(1, 0), usagetest.WithFault(usagetest.RouteJobs, 2, usagetest.JobFailed(true)))
		q := client.JobQuery{Interval: days(jobsToday.AddDate(0, 0, -201), 200), Granularity: gen.GranularityDay, GroupBy: []gen.JobsGroupBy{gen.JobsGroupByOauthClientID}}
		var err error
		for _, err = range h.c.RunJobs(t.Context(), q, client.JobOptions{Now: todayFn, Concurrency: 1}) {
			if err != nil {
				break
			}
		}
		var se *client.SplitError
		var ee *client.ExecutionError
		if !errors.As(err, &se) || !errors.As(err, &ee) || !errors.Is(err, client.ErrQueryFailed) {
			t.Fatalf("want a SplitError around a Failed ExecutionError, got %v", err)
		}
		if se.Window.JobID == "" || ee.ExecutionID != se.Window.JobID || se.Window.Interval != h.posted(t)[1] {
			t.Errorf("failed window %+v, job %s: want the second window and its job", se.Window, ee.ExecutionID)
		}
		if ee.ErrorBody == nil || !strings.Contains(err.Error(), "The usage query failed") || !strings.Contains(err.Error(), se.Window.JobID) {
			t.Errorf("error %q lacks the job id or the errorBody", err)
		}
		if len(se.Unfinished) < 2 || se.Unfinished[0].Interval != se.Window.Interval {
			t.Errorf("unfinished %+v: want the failed window and those after it", se.Unfinished)
		}
	})
}

func TestJobFailedWithoutBodyAndCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newJobHarness(t, usagetest.WithRunning(0, 0),
			usagetest.WithFault(usagetest.RouteJobs, 1, usagetest.JobFailed(false)),
			usagetest.WithFault(usagetest.RouteJobs, 2, usagetest.JobCancelled()))
		q := client.JobQuery{Interval: days(jobsToday.AddDate(0, 0, -10), 5)}
		_, err := h.c.RunJob(t.Context(), q)
		var ee *client.ExecutionError
		if !errors.As(err, &ee) || !errors.Is(err, client.ErrQueryFailed) || ee.ErrorBody != nil || ee.Status != "Failed" {
			t.Errorf("want a Failed ExecutionError without errorBody, got %v", err)
		}
		_, err = h.c.RunJob(t.Context(), q)
		if !errors.As(err, &ee) || !errors.Is(err, client.ErrJobCancelled) || !strings.Contains(err.Error(), "cancelled") {
			t.Errorf("want an ExecutionError wrapping ErrJobCancelled, got %v", err)
		}
	})
}

func TestJobLimitsCheckedBeforeSending(t *testing.T) {
	h := newJobHarness(t)
	for _, q := range []client.JobQuery{
		{Interval: days(jobsToday.AddDate(-1, 0, -2), 30)},
		{Interval: days(jobsToday.AddDate(0, 0, -100), 91)},
		{Interval: days(jobsToday.AddDate(0, 0, -10), 5), GroupBy: []gen.JobsGroupBy{"OAuthClientId"}},
	} {
		_, err := h.c.StartJob(t.Context(), q)
		var ve *client.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%+v: want a ValidationError, got %v", q, err)
		}
	}
	if err := (client.JobQuery{Interval: days(jobsToday.AddDate(-1, 0, -2), 30)}).Validate(jobsToday); err == nil || !strings.Contains(err.Error(), "a year ago") {
		t.Errorf("error %v does not name the one-year limit", err)
	}
	if n := len(h.srv.Requests()); n != 0 {
		t.Errorf("%d requests sent for invalid queries", n)
	}
}

// A client's job, filtered and sorted, counts what the organization's job
// counts for that client with the same filter.
func TestClientJobAgreesWithTheOrganizationsJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newJobHarness(t, usagetest.WithRunning(1, 0))
		iv := days(jobsToday.AddDate(0, 0, -30), 30)
		orgRes, err := h.c.RunJob(t.Context(), client.JobQuery{Interval: iv, GroupBy: []gen.JobsGroupBy{gen.JobsGroupByOauthClientID}})
		if err != nil {
			t.Fatal(err)
		}
		id := entities(t, orgRes.Rows())[1].OauthClient.ID
		desc := gen.SortOrderDesc
		q := client.JobQuery{Interval: iv, ClientID: id, ClientGroupBy: []gen.ClientJobsGroupBy{gen.ClientJobsGroupByTemplateURI, gen.ClientJobsGroupByOrganizationID},
			HTTPMethods: []gen.JobsHTTPMethod{gen.JobsHTTPMethodGET}, SortBy: []gen.JobsSortBy{{FieldName: ptr("requestCount"), Order: &desc}}}
		res, err := h.c.RunJob(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		mine := entities(t, res.Rows())
		byOrg, err := h.c.RunJob(t.Context(), client.JobQuery{Interval: iv, GroupBy: []gen.JobsGroupBy{gen.JobsGroupByTemplateURI},
			OAuthClientIDs: []string{id}, HTTPMethods: []gen.JobsHTTPMethod{gen.JobsHTTPMethodGET}})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{}
		for _, e := range entities(t, byOrg.Rows()) {
			want[e.TemplateURI] = e.RequestCount
		}
		if len(mine) != 4 || len(want) != 4 {
			t.Fatalf("%d entities of the client, %d of the organization; want one per template, 4", len(mine), len(want))
		}
		for i, e := range mine {
			if e.OrganizationID == "" || e.OauthClient != nil || e.RequestCount != want[e.TemplateURI] {
				t.Errorf("client entity %+v: want an organizationId, no oauthClient, and %d requests", e, want[e.TemplateURI])
			}
			if i > 0 && e.RequestCount > mine[i-1].RequestCount {
				t.Errorf("entity %d has more requests than the one before: not sorted requestCount:desc", i)
			}
		}
		for _, r := range h.srv.Requests() {
			if strings.Contains(r.Path, "/aggregates/") && !strings.HasPrefix(r.Path, "/api/v2/usage/aggregates/") &&
				!strings.HasPrefix(r.Path, "/api/v2/usage/client/"+id+"/aggregates/query/jobs") {
				t.Errorf("request to %s", r.Path)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }

// The stub's existing faults reach the job routes, and the client rides
// them out: a 429 is retried after its Retry-After, a garbled poll is
// polled again.
func TestJobRidesOutRateLimitAndGarbledPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newJobHarness(t, usagetest.WithRunning(2, 0),
			usagetest.WithFault(usagetest.RouteJobs, 1, usagetest.RateLimited("3")),
			usagetest.WithFault(usagetest.RouteJobResults, 1, usagetest.TruncatedJSON()),
			usagetest.WithFault(usagetest.RouteJobResults, 2, usagetest.RateLimited("2")))
		h.garbled = true
		start := time.Now()
		res, err := h.c.RunJob(t.Context(), client.JobQuery{Interval: days(jobsToday.AddDate(0, 0, -7), 7), GroupBy: []gen.JobsGroupBy{gen.JobsGroupByOauthClientID}})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(entities(t, res.Rows())); n != 3 {
			t.Errorf("%d totals, want one per client, 3", n)
		}
		if d := time.Since(start); d < 5*time.Second {
			t.Errorf("done after %v: the Retry-After of 3 s and 2 s were not waited", d)
		}
	})
}

// Without a granularity nothing is yielded before every window is read, so
// a failed window leaves every window unfinished, the windows read before
// it included, and names each job started.
func TestJobsFailedTotalsLeaveEveryWindowUnfinished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newJobHarness(t, usagetest.WithRunning(1, 0), usagetest.WithFault(usagetest.RouteJobs, 2, usagetest.JobFailed(true)))
		q := client.JobQuery{Interval: days(jobsToday.AddDate(0, 0, -201), 200), GroupBy: []gen.JobsGroupBy{gen.JobsGroupByOauthClientID}}
		var err error
		for _, err = range h.c.RunJobs(t.Context(), q, client.JobOptions{Now: todayFn, Concurrency: 1}) {
			if err != nil {
				break
			}
		}
		var se *client.SplitError
		if !errors.As(err, &se) || !errors.Is(err, client.ErrQueryFailed) {
			t.Fatalf("want a SplitError around a Failed job, got %v", err)
		}
		windows, _ := client.SplitInterval(q.Interval, "")
		var unfinished []string
		for _, w := range se.Unfinished {
			unfinished = append(unfinished, w.Interval)
		}
		if !slices.Equal(unfinished, windows) {
			t.Fatalf("unfinished %v, want every window %v", unfinished, windows)
		}
		// The third may have been cancelled before its job started.
		if u := se.Unfinished; u[0].JobID == "" || u[1].JobID != se.Window.JobID || se.Window.Interval != windows[1] {
			t.Errorf("unfinished %+v: want the first window's job, then the second's, which failed (%+v)", u, se.Window)
		}
	})
}

// Without a granularity the totals summed across windows come in the order
// SortBy asks, as one job's would, not in the order groups first appear.
func TestJobsTotalsFollowSortBy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newJobHarness(t, usagetest.WithRunning(0, 0))
		desc := gen.SortOrderDesc
		q := client.JobQuery{Interval: days(jobsToday.AddDate(0, 0, -201), 200),
			GroupBy: []gen.JobsGroupBy{gen.JobsGroupByOauthClientID, gen.JobsGroupByHTTPMethod},
			SortBy:  []gen.JobsSortBy{{FieldName: ptr("requestCount"), Order: &desc}}}
		got := entities(t, h.c.RunJobs(t.Context(), q, client.JobOptions{Now: todayFn}))
		if len(got) != 9 {
			t.Fatalf("%d totals, want 9", len(got))
		}
		if !slices.IsSortedFunc(got, func(a, b client.Entity) int { return cmp.Compare(b.RequestCount, a.RequestCount) }) {
			var counts []int64
			for _, e := range got {
				counts = append(counts, e.RequestCount)
			}
			t.Errorf("totals' requestCount %v, want descending", counts)
		}
	})
}

// gate holds the job POSTs until it is opened, counting how many wait: the
// windows started together.
type gate struct {
	next    http.RoundTripper
	mu      sync.Mutex
	waiting int
	open    chan struct{}
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/aggregates/query/jobs") {
		g.mu.Lock()
		g.waiting++
		g.mu.Unlock()
		<-g.open
	}
	return g.next.RoundTrip(r)
}

// RunJobs runs at most Concurrency windows at once, 4 by default: with a
// year split into five windows or more, only that many reach their POST
// before one ends.
func TestJobsConcurrencyIsBounded(t *testing.T) {
	for _, tc := range []struct{ concurrency, want int }{{0, 4}, {2, 2}, {1, 1}} {
		t.Run(fmt.Sprint(tc.concurrency), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithNow(todayFn), usagetest.WithRunning(1, 0))
				g := &gate{next: srv.Transport(), open: make(chan struct{})}
				c, err := client.New(client.WithNow(srv.Now), client.WithBaseURLs(srv.URL, srv.LoginURL), client.WithClientCredentials(srv.ClientID, srv.ClientSecret),
					client.WithHTTPClient(&http.Client{Transport: g}))
				if err != nil {
					t.Fatal(err)
				}
				q := client.JobQuery{Interval: days(jobsToday.AddDate(0, 0, -364), 364), Granularity: gen.GranularityMonth, GroupBy: []gen.JobsGroupBy{gen.JobsGroupByOauthClientID}}
				if w, _ := client.SplitInterval(q.Interval, q.Granularity); len(w) < 5 {
					t.Fatalf("%d windows, want 5 or more", len(w))
				}
				done := make(chan error)
				go func() {
					var last error
					for _, err := range c.RunJobs(t.Context(), q, client.JobOptions{Concurrency: tc.concurrency, Now: todayFn}) {
						last = cmp.Or(last, err)
					}
					done <- last
				}()
				synctest.Wait() // every window that may start is held at its POST, the others wait for a slot
				g.mu.Lock()
				started := g.waiting
				g.mu.Unlock()
				close(g.open)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				if started != tc.want {
					t.Errorf("%d windows started at once, want %d", started, tc.want)
				}
			})
		})
	}
}
