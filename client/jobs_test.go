package client

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/gen"
)

// pages answers a job's GETs with the bodies given in turn (the last
// repeats), and records their queries.
func jobPages(queries *[]string, bodies ...string) http.HandlerFunc {
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		*queries = append(*queries, r.URL.RawQuery)
		body := bodies[min(n, len(bodies)-1)]
		n++
		writeJSON(w, 200, body)
	}
}

func TestJobRefusesANextURIOnAnotherHost(t *testing.T) {
	for _, next := range []string{"http://127.0.0.2:7001/api/v2/usage/aggregates/query/jobs/j1?after=2", "//evil.example/x?after=2", "https://127.0.0.1:7001/x?after=2"} {
		var qs []string
		f := &fake{api: jobPages(&qs, `{"queryStatus":"Succeeded","entities":[{"requestCount":1}],"nextUri":"`+next+`"}`)}
		c := newTestClient(t, f)
		_, err := c.Job("", "j1").Wait(t.Context())
		var de *DecodeError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), "another origin") {
			t.Errorf("nextUri %s: want a DecodeError refusing it, got %v", next, err)
		}
		for _, call := range f.apiCalls() {
			if !strings.Contains(call, " /api/v2/usage/aggregates/query/jobs/j1 ") {
				t.Errorf("nextUri %s: a request went to %s", next, call)
			}
		}
	}
}

// nextUri is followed on our origin, with its cursor and our page size,
// whether it is a path or a URL of our origin; a nextUri that names the page
// just read is an error, not an endless loop.
func TestJobFollowsNextURIOnTheAPIOrigin(t *testing.T) {
	var qs []string
	f := &fake{api: jobPages(&qs,
		`{"queryStatus":"Succeeded","entities":[{"requestCount":1}],"nextUri":"/api/v2/usage/aggregates/query/jobs/j1?pageSize=1&after=c2"}`,
		`{"queryStatus":"Succeeded","entities":[{"requestCount":2}],"nextUri":"`+testAPI+`/api/v2/usage/aggregates/query/jobs/j1?after=c3"}`,
		`{"queryStatus":"Succeeded","entities":[{"requestCount":3}],"nextUri":"`+testAPI+`/api/v2/usage/aggregates/query/jobs/j1?after=c3"}`)}
	c := newTestClient(t, f)
	j := c.Job("", "j1")
	j.PageSize = 10
	res, err := j.Wait(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	var last error
	for e, err := range res.Rows() {
		if err != nil {
			last = err
			break
		}
		got = append(got, e.RequestCount)
	}
	if len(got) != 3 || got[2] != 3 {
		t.Errorf("entities %v, want 1 2 3", got)
	}
	if want := "pageSize=10|after=c2&pageSize=10|after=c3&pageSize=10"; strings.Join(qs, "|") != want {
		t.Errorf("queries %v, want %s", qs, want)
	}
	var ee *ExecutionError
	if !errors.As(last, &ee) || ee.ExecutionID != "j1" || !strings.Contains(last.Error(), "never end") {
		t.Errorf("a repeated nextUri: want an ExecutionError naming j1, got %v", last)
	}
}

func TestJobUnknownStatusIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var qs []string
		f := &fake{api: jobPages(&qs, `{"queryStatus":"Queued"}`, `{"queryStatus":"Paused"}`)}
		_, err := newTestClient(t, f).Job("c1", "j1").Wait(t.Context())
		if !errors.Is(err, ErrUnknownStatus) || !strings.Contains(err.Error(), "Paused") || len(qs) != 2 {
			t.Errorf("want ErrUnknownStatus naming Paused after 2 polls, got %v after %d", err, len(qs))
		}
		if calls := f.apiCalls(); !strings.HasPrefix(calls[0], "GET /api/v2/usage/client/c1/aggregates/query/jobs/j1 ") {
			t.Errorf("client job polled at %v", calls)
		}
	})
}

func TestSplitInterval(t *testing.T) {
	for _, tc := range []struct {
		interval string
		g        gen.Granularity
		want     string
	}{
		{"2026-01-01/2026-03-31", "", "2026-01-01/2026-03-31"},
		{"2026-01-01/2026-04-01", gen.GranularityDay, "2026-01-01/2026-03-31 2026-04-01/2026-04-01"},
		// Date-times count the whole days they meet.
		{"2026-01-01T12:00:00Z/2026-01-03T00:00:00Z", "", "2026-01-01/2026-01-02"},
		// 2026-01-15 + 89 days is 2026-04-14: the window stops before
		// April; April to June is 91 days, so the next stops before June.
		{"2026-01-15/2026-07-31", gen.GranularityMonth, "2026-01-15/2026-03-31 2026-04-01/2026-05-31 2026-06-01/2026-07-31"},
		// Windows after the first start on Mondays (2026-03-30 is one).
		{"2026-01-01/2026-05-31", gen.GranularityWeek, "2026-01-01/2026-03-29 2026-03-30/2026-05-31"},
	} {
		got, err := SplitInterval(tc.interval, tc.g)
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("SplitInterval(%s, %q) = %v, %v; want %s", tc.interval, tc.g, got, err, tc.want)
		}
	}
}

func TestJobQueryValidate(t *testing.T) {
	now := time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)
	order := gen.SortOrder("Up")
	for _, tc := range []struct {
		q          JobQuery
		field, has string
	}{
		{JobQuery{Interval: "2025-06-14/2025-07-01"}, "interval", "on or after 2025-06-15"},
		{JobQuery{Interval: "2026-01-01/2026-01-02", GroupBy: []gen.JobsGroupBy{"OAuthClientId"}}, "groupBy[0]", "OauthClientId"},
		{JobQuery{Interval: "2026-01-01/2026-01-02", ClientID: "c", GroupBy: []gen.JobsGroupBy{"UserId"}}, "groupBy", "OrganizationId"},
		{JobQuery{Interval: "2026-01-01/2026-01-02", UserIDs: []string{"u"}, ClientID: "c"}, "userIds", "organization"},
		{JobQuery{Interval: "2026-01-01/2026-01-02", OrganizationIDs: []string{"o"}}, "organizationIds", "ClientID"},
		{JobQuery{Interval: "2026-01-01/2026-01-02", HTTPMethods: []gen.JobsHTTPMethod{"OPTIONS"}}, "httpMethods[0]", "HEAD"},
		{JobQuery{Interval: "2026-01-01/2026-01-02", PageSize: 1001}, "pageSize", "1000"},
		{JobQuery{Interval: "2026-01-01/2026-01-02", SortBy: []gen.JobsSortBy{{FieldName: new(string)}}}, "sortBy[0].fieldName", "requestCount"},
		{JobQuery{Interval: "2026-01-01/2026-01-02", SortBy: []gen.JobsSortBy{{FieldName: ptrIf("date"), Order: &order}}}, "sortBy[0].order", "Desc"},
		{JobQuery{Interval: "2026-01-01/2026-01-02", ClientID: "a/b"}, "clientId", "/"},
	} {
		err := tc.q.Validate(now)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field || !strings.Contains(err.Error(), tc.has) {
			t.Errorf("%+v: want a ValidationError on %s mentioning %q, got %v", tc.q, tc.field, tc.has, err)
		}
	}
	if err := (JobQuery{Interval: "2025-06-15/2025-07-01"}).Validate(now); err != nil {
		t.Errorf("a start exactly a year ago: %v", err)
	}
}

// A Failed job's errorBody reaches the error, without the bearer token the
// server may echo in it.
func TestJobFailedErrorBodyIsRedacted(t *testing.T) {
	f := &fake{api: func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		writeJSON(w, 202, `{"queryStatus":"Failed","errorBody":{"code":"query.error","message":"failed for token `+tok+`"}}`)
	}}
	c, err := New(WithBaseURLs(testAPI, ""), WithAccessToken("a-long-bearer-token-1234"), WithHTTPClient(&http.Client{Transport: f}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Job("", "j1").Wait(t.Context())
	var ee *ExecutionError
	if !errors.As(err, &ee) || ee.ErrorBody == nil || !errors.Is(err, ErrQueryFailed) {
		t.Fatalf("want a Failed ExecutionError with its errorBody, got %v", err)
	}
	mustContain(t, err.Error(), "query.error", "failed for token REDACTED", "j1")
	if strings.Contains(err.Error(), "a-long-bearer-token-1234") {
		t.Errorf("error %q holds the token", err)
	}
}

// jobEntities waits for job j1 of f and reads its entities until the
// first error.
func jobEntities(t *testing.T, f *fake, opts ...Option) ([]Entity, error) {
	t.Helper()
	res, err := newTestClient(t, f, opts...).Job("", "j1").Wait(t.Context())
	if err != nil {
		return nil, err
	}
	var got []Entity
	for e, err := range res.Rows() {
		if err != nil {
			return got, err
		}
		got = append(got, e)
	}
	return got, nil
}

// A page of a million empty entities (once 4 GiB of heap for 24 MiB) is
// refused after the page size asked for, without holding the rest.
func TestJobPageOfManyEntitiesIsRefused(t *testing.T) {
	huge := `{"queryStatus":"Succeeded","entities":[` + strings.Repeat(`{},`, 2<<20/3) + `{}]}`
	var qs []string
	f := &fake{api: jobPages(&qs, `{"queryStatus":"Succeeded","entities":[{"requestCount":1}],"nextUri":"/x?after=2"}`, huge)}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err := jobEntities(t, f)
	runtime.ReadMemStats(&after)
	var de *DecodeError
	if !errors.As(err, &de) || de.Row != 1001 || !strings.Contains(err.Error(), "more entities than the page size") || len(got) != 1 {
		t.Errorf("want a DecodeError at entity 1001 after the first page's entity, got %d entities and %v", len(got), err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
		t.Errorf("reading the page allocated %d MiB, want under 64", d>>20)
	}
}

// An entity date with a time, or one that cannot be read, loses neither the
// entity nor the job: a time is cut to its UTC day, an unreadable date is
// left zero with one warning per distinct value, as a row's.
func TestJobEntityDatesAreLenient(t *testing.T) {
	var logs bytes.Buffer
	var qs []string
	f := &fake{api: jobPages(&qs, `{"queryStatus":"Succeeded","entities":[{"requestCount":1,"date":"2026-01-02T00:00:00Z"},
		{"requestCount":2,"date":"2026-01-03T23:30:00-02:00"},{"requestCount":3,"date":"last tuesday"},{"requestCount":4,"date":"2026-01-05"},
		{"requestCount":5,"date":20260106}],"nextUri":"/x?after=2"}`,
		`{"queryStatus":"Succeeded","entities":[{"requestCount":6,"date":"last tuesday"}]}`)}
	got, err := jobEntities(t, f, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil || len(got) != 6 {
		t.Fatalf("entities %v, %v: want all 6", got, err)
	}
	want := []string{"2026-01-02", "2026-01-04", "", "2026-01-05", "", ""}
	for i, e := range got {
		d := ""
		if !e.Date.IsZero() {
			d = e.Date.String()
		}
		if d != want[i] || e.Date.Location() != time.UTC || e.RequestCount != int64(i+1) {
			t.Errorf("entity %d: date %q (%v), want %q", i+1, d, e.Date.Location(), want[i])
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 || !strings.Contains(logs.String(), `date="last tuesday"`) || !strings.Contains(logs.String(), "date=20260106") {
		t.Errorf("want one warning per odd date, got:\n%s", logs.String())
	}
}

// A negative counter would lower every total: it is a malformed answer,
// named by entity and field.
func TestJobNegativeCounterIsADecodeError(t *testing.T) {
	var qs []string
	f := &fake{api: jobPages(&qs, `{"queryStatus":"Succeeded","entities":[{"requestCount":1}],"nextUri":"/x?after=2"}`,
		`{"queryStatus":"Succeeded","entities":[{"requestCount":1},{"requestCount":3,"status429":-5}]}`)}
	got, err := jobEntities(t, f)
	var de *DecodeError
	if !errors.As(err, &de) || de.Row != 2 || !strings.Contains(err.Error(), "status429 is negative: -5") || len(got) != 1 {
		t.Errorf("want a DecodeError naming entity 2 and status429 after the first page, got %d and %v", len(got), err)
	}
}

// A hostile server's pages can neither go on empty forever (once 161,283
// GETs in 2 s) nor loop: an empty page ends the rows whatever its nextUri,
// and a nextUri met before is an error naming the job.
func TestJobPagingEnds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		empty bool // every page but the first has no entities
		next  func(after string) string
		gets  int
		err   string
	}{
		{"empty pages with ever new cursors", true, func(after string) string { return after + "x" }, 2, ""},
		{"the page just read", false, func(string) string { return "a" }, 2, "never end"},
		// Issue 16, item 2: the cursor repeats, a junk parameter does not
		// (once 79,029 GETs in 5 s).
		{"the same cursor with a new junk parameter", false, func() func(string) string {
			n := 0
			return func(string) string { n++; return "a&junk=" + strconv.Itoa(n) }
		}(), 3, "never end"},
		{"a cycle of two", false, func(after string) string { return map[string]string{"": "a", "a": "b", "b": "a"}[after] }, 4, "never end"},
		{"a cycle of five after ten", false, func(after string) string {
			n, _ := strconv.Atoi(after)
			if n++; n > 15 {
				n = 11
			}
			return strconv.Itoa(n)
		}, 25, "never end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gets := 0
			f := &fake{api: func(w http.ResponseWriter, r *http.Request) {
				// So that a client that never stops does.
				if gets++; gets > 100 {
					writeJSON(w, 200, `{"queryStatus":"Failed"}`)
					return
				}
				after := r.URL.Query().Get("after")
				entities := `{"requestCount":1}`
				if tc.empty && after != "" {
					entities = ""
				}
				writeJSON(w, 200, `{"queryStatus":"Succeeded","entities":[`+entities+`],"nextUri":"/x?after=`+tc.next(after)+`"}`)
			}}
			_, err := jobEntities(t, f)
			var ee *ExecutionError
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("want the rows to end, got %v", err)
			case tc.err != "" && (!errors.As(err, &ee) || ee.ExecutionID != "j1" || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("want an ExecutionError naming j1 and saying %q, got %v", tc.err, err)
			}
			if gets > tc.gets {
				t.Errorf("%d GETs, want at most %d", gets, tc.gets)
			}
		})
	}
}

// jobsServer starts every job (ids j1, j2...) and answers every job's page
// with entities.
func jobsServer(entities string) *fake {
	var mu sync.Mutex
	n := 0
	return &fake{api: func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			mu.Lock()
			n++
			id := fmt.Sprintf("j%d", n)
			mu.Unlock()
			writeJSON(w, 200, `{"id":"`+id+`"}`)
			return
		}
		writeJSON(w, 200, `{"queryStatus":"Succeeded","entities":[`+entities+`]}`)
	}}
}

// runJobs runs q on f until the first error.
func runJobs(t *testing.T, f *fake, q JobQuery) ([]Entity, error) {
	var got []Entity
	for e, err := range newTestClient(t, f).RunJobs(t.Context(), q, JobOptions{Now: func() time.Time { return windowsToday }}) {
		if err != nil {
			return got, err
		}
		got = append(got, e)
	}
	return got, nil
}

var (
	windowsToday   = time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	twoHundredDays = JobQuery{Interval: Days(windowsToday.AddDate(0, 0, -201), windowsToday.AddDate(0, 0, -2))}
)

// Totals that pass the int64 range across windows are an error naming the
// group and the counter, not a total wrapped negative.
func TestJobsTotalsOverflowIsAnError(t *testing.T) {
	f := jobsServer(`{"oauthClient":{"id":"c2"},"requestCount":1},{"oauthClient":{"id":"c1","name":"Big"},"requestCount":1,"status200":4611686018427387904}`)
	got, err := runJobs(t, f, twoHundredDays)
	var se *SplitError
	if !errors.As(err, &se) || len(got) != 0 {
		t.Fatalf("want a SplitError and no totals, got %d totals and %v", len(got), err)
	}
	mustContain(t, err.Error(), `oauthClient.id="c1" oauthClient.name="Big"`, "status200 overflows int64")
}

// Issue 16, item 2: max.response.size.reached halves the page size
// whatever the status that comes with it (search gets it with a 500), down
// to 1; a page of 1 still refused is the error.
func TestJobPageSizeHalvesOnMaxResponseSize(t *testing.T) {
	for _, status := range []int{400, 500} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			var sizes []string
			f := &fake{api: func(w http.ResponseWriter, r *http.Request) {
				sizes = append(sizes, r.URL.Query().Get("pageSize"))
				if n, _ := strconv.Atoi(r.URL.Query().Get("pageSize")); n > 250 {
					writeJSON(w, status, `{"code":"max.response.size.reached","message":"The response was too big"}`)
					return
				}
				writeJSON(w, 200, `{"queryStatus":"Succeeded","entities":[{"requestCount":1}]}`)
			}}
			got, err := jobEntities(t, f)
			if err != nil || len(got) != 1 || strings.Join(sizes, " ") != "1000 500 250" {
				t.Errorf("%d entities, %v, page sizes %v; want 1 entity at 1000 500 250", len(got), err, sizes)
			}
			sizes = nil
			f.api = func(w http.ResponseWriter, r *http.Request) {
				sizes = append(sizes, r.URL.Query().Get("pageSize"))
				writeJSON(w, status, `{"code":"max.response.size.reached","message":"The response was too big"}`)
			}
			_, err = jobEntities(t, f)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != "max.response.size.reached" || len(sizes) != 10 || sizes[9] != "1" {
				t.Errorf("err %v after page sizes %v; want the APIError after 1000 down to 1", err, sizes)
			}
			if !errors.Is(err, ErrResponseTooLarge) || !strings.Contains(err.Error(), "narrow the interval or add filters") {
				t.Errorf("err %v; want ErrResponseTooLarge, which says what to do, as a search's", err)
			}
			// A later page refused at every size ends the rows the same way,
			// naming the job.
			sizes = nil
			f.api = func(w http.ResponseWriter, r *http.Request) {
				sizes = append(sizes, r.URL.Query().Get("pageSize"))
				if r.URL.Query().Get("after") == "" {
					writeJSON(w, 200, `{"queryStatus":"Succeeded","entities":[{"requestCount":1}],"nextUri":"/x?after=2"}`)
					return
				}
				writeJSON(w, status, `{"code":"max.response.size.reached","message":"The response was too big"}`)
			}
			got, err = jobEntities(t, f)
			var ee *ExecutionError
			if len(got) != 1 || !errors.Is(err, ErrResponseTooLarge) || !errors.As(err, &ee) || ee.ExecutionID != "j1" || len(sizes) != 11 || sizes[10] != "1" {
				t.Errorf("%d entities, then %v after page sizes %v; want 1, then ErrResponseTooLarge naming job j1 after 1000, then 1000 down to 1", len(got), err, sizes)
			}
		})
	}
}

// Issue 17, item 5: an error of a usage query job names a job, not an
// execution, so that a 404 from jobs results reads right.
func TestJobErrorsNameAJob(t *testing.T) {
	f := &fake{api: func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, `{"code":"not.found","message":"job not found"}`)
	}}
	_, err := newTestClient(t, f).Job("", "j1").Wait(t.Context())
	var ee *ExecutionError
	if !errors.As(err, &ee) || ee.ExecutionID != "j1" || ee.Kind != "job" || !strings.HasPrefix(err.Error(), "gcusage: job j1: GET ") {
		t.Errorf("err = %v, want a job's ExecutionError naming job j1", err)
	}
	var qs []string
	f = &fake{api: jobPages(&qs, `{"queryStatus":"Succeeded","entities":[{"requestCount":1}],"nextUri":"/x?after=2"}`, `{"queryStatus":"Failed"}`)}
	if _, err := jobEntities(t, f); !strings.HasPrefix(fmt.Sprint(err), "gcusage: job j1: ") {
		t.Errorf("a later page: err = %v, want it to name job j1", err)
	}
	_, err = newTestClient(t, &fake{api: started(`{"queryStatus":"Failed"}`)}).Run(t.Context(), anyQuery)
	if !errors.As(err, &ee) || ee.Kind != "" || !strings.HasPrefix(err.Error(), "gcusage: execution exec-1: ") {
		t.Errorf("a query: err = %v, want it to name execution exec-1", err)
	}
}

// lostStart is f, but the n-th job POST gets no answer, as when the connection
// drops once the server has read the request: the job may have started.
type lostStart struct {
	*fake
	n, posts int
}

func (l *lostStart) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.URL.Path != "/oauth/token" {
		l.fake.mu.Lock()
		l.posts++
		lost := l.posts == l.n
		l.fake.mu.Unlock()
		if lost {
			return nil, errors.New("connection reset by peer")
		}
	}
	return l.fake.RoundTrip(req)
}

// Audit item 7: a window whose POST's answer was lost read "(job not
// started): … so the work may have started". It says the job may have
// started, and its JobWindow tells it apart from a window never started.
func TestSplitErrorTellsAJobThatMayHaveStarted(t *testing.T) {
	l := &lostStart{fake: jobsServer(`{"requestCount":1}`), n: 2}
	var err error
	for _, err = range newTestClient(t, l.fake, WithHTTPClient(&http.Client{Transport: l})).RunJobs(t.Context(), twoHundredDays,
		JobOptions{Concurrency: 1, Now: func() time.Time { return windowsToday }}) {
		if err != nil {
			break
		}
	}
	windows, _ := SplitInterval(twoHundredDays.Interval, "")
	var se *SplitError
	if !errors.As(err, &se) || !errors.Is(err, ErrMaybeStarted) || se.Window.Interval != windows[1] {
		t.Fatalf("err = %v; want a SplitError of window 2 wrapping ErrMaybeStarted", err)
	}
	if strings.Contains(err.Error(), "not started") {
		t.Errorf("%q says the job was not started", err)
	}
	mustContain(t, err.Error(), "window "+windows[1]+" (job may have started, its id unknown)")
	// The third window's job starts or not, as the run stops: either way
	// it is no job that may have started.
	want := []JobWindow{{Interval: windows[0], JobID: "j1"}, {Interval: windows[1], MaybeStarted: true}}
	if u := se.Unfinished; len(u) != 3 || fmt.Sprint(u[:2]) != fmt.Sprint(want) || u[2].MaybeStarted || !se.Window.MaybeStarted {
		t.Errorf("unfinished %+v, window %+v; want %+v and the third, the second that may have started", se.Unfinished, se.Window, want)
	}
}
