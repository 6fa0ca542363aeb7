package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/gen"
)

const running = `{"queryStatus":"Running"}`

func TestWaitOutcomes(t *testing.T) {
	cases := []struct {
		name       string
		answers    []string
		policy     PollPolicy
		ctxTimeout time.Duration
		wantIs     error
		wantText   string
		wantStatus string
	}{
		{name: "failed", answers: []string{running, `{"queryStatus":"Failed"}`},
			wantIs: ErrQueryFailed, wantText: "gcusage: execution exec-1: query failed", wantStatus: "Failed"},
		{name: "unknown status", answers: []string{running, `{"queryStatus":"Queued"}`},
			wantIs: ErrUnknownStatus, wantText: `gcusage: execution exec-1: unknown queryStatus "Queued"`, wantStatus: "Queued"},
		{name: "missing status", answers: []string{`{"results":[]}`},
			wantIs: ErrUnknownStatus, wantText: `unknown queryStatus ""`},
		{name: "MaxWait", answers: []string{running}, policy: PollPolicy{MaxWait: 30 * time.Second},
			wantIs: context.DeadlineExceeded, wantText: "gcusage: execution exec-1: wait timed out after 30s: context deadline exceeded", wantStatus: "Running"},
		{name: "context timeout", answers: []string{running}, ctxTimeout: 10 * time.Second,
			wantIs: context.DeadlineExceeded, wantText: "wait timed out after 10s", wantStatus: "Running"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newTestClient(t, &fake{api: started(tc.answers...)}, WithPollPolicy(tc.policy))
				ctx := t.Context()
				if tc.ctxTimeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
					defer cancel()
				}
				_, err := c.Run(ctx, anyQuery)
				var ee *ExecutionError
				if !errors.As(err, &ee) || ee.ExecutionID != "exec-1" || !errors.Is(err, tc.wantIs) {
					t.Fatalf("err = %v, want *ExecutionError for exec-1 wrapping %v", err, tc.wantIs)
				}
				mustContain(t, err.Error(), tc.wantText)
				if ee.Status != tc.wantStatus {
					t.Errorf("Status = %q, want %q", ee.Status, tc.wantStatus)
				}
			})
		})
	}
}

func TestWaitCancelKeepsID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTestClient(t, &fake{api: started(running)})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(7*time.Second, cancel)
		_, err := c.Wait(ctx, "exec-9")
		var ee *ExecutionError
		if !errors.As(err, &ee) || ee.ExecutionID != "exec-9" || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want *ExecutionError for exec-9 wrapping context.Canceled", err)
		}
		mustContain(t, err.Error(), "wait canceled after 7s")
	})
}

func TestWaitAPIErrorKeepsID(t *testing.T) {
	f := &fake{api: func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, `{"code":"not.found","message":"No execution"}`)
	}}
	_, err := newTestClient(t, f).Wait(t.Context(), "gone")
	var ee *ExecutionError
	var ae *APIError
	if !errors.As(err, &ee) || ee.ExecutionID != "gone" || !errors.As(err, &ae) || ae.Code != "not.found" {
		t.Fatalf("err = %v, want *ExecutionError for gone around a 404 *APIError", err)
	}
	mustContain(t, err.Error(), "gcusage: execution gone: GET /api/v2/usage/query/gone/results: 404 Not Found: not.found: No execution (correlation id corr-1)")
	if _, err := newTestClient(t, f).Wait(t.Context(), ""); err == nil {
		t.Fatal("an empty execution id was accepted")
	}
}

func TestPollCachesTerminalState(t *testing.T) {
	f := &fake{api: started(running, `{"queryStatus":"Complete","results":[{"requests":7}]}`)}
	c := newTestClient(t, f)
	e := c.Execution("exec-1")
	pollCtx, cancel := context.WithCancel(t.Context())
	for i, want := range []gen.QueryStatus{"Running", "Complete", "Complete"} {
		if st, err := e.Poll(pollCtx); st != want || err != nil {
			t.Fatalf("poll %d = %s, %v; want %s", i, st, err, want)
		}
	}
	if n := len(f.apiCalls()); n != 2 {
		t.Fatalf("%d GETs, want 2: a terminal state is cached", n)
	}
	cancel() // the rows must not depend on the context of the polls
	res, err := e.Wait(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := res.All()
	if err != nil || len(rows) != 1 || rows[0].Requests != 7 {
		t.Fatalf("rows %v, %v", rows, err)
	}
	if n := len(f.apiCalls()); n != 3 {
		t.Fatalf("%d GETs, want 3: Poll keeps no answer open, so the rows take one more", n)
	}
}

func TestPollingHonoursBoundedRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var gets []time.Duration
		start := time.Now()
		f := &fake{api: func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				started()(w, r)
				return
			}
			gets = append(gets, time.Since(start))
			if len(gets) < 3 {
				w.Header().Set("Retry-After", []string{"4", "3600"}[len(gets)-1])
				writeJSON(w, 200, running)
				return
			}
			writeJSON(w, 200, `{"queryStatus":"Complete"}`)
		}}
		var events []PollEvent
		c := newTestClient(t, f, WithPollPolicy(PollPolicy{MaxRetryAfter: 10 * time.Second, OnPoll: func(e PollEvent) { events = append(events, e) }}))
		res, err := c.Run(t.Context(), anyQuery)
		if err != nil {
			t.Fatal(err)
		}
		if rows, err := res.All(); len(rows) != 0 || err != nil {
			t.Fatalf("rows %v, %v; want none", rows, err)
		}
		// The second GET waits the hinted 4s; the third the 10s cap, not an hour.
		if len(gets) != 3 || gets[1]-gets[0] != 4*time.Second || gets[2]-gets[1] != 10*time.Second {
			t.Fatalf("GETs at %v", gets)
		}
		if len(events) != 2 || events[0].Attempt != 1 || events[1].Next != 10*time.Second || events[1].Status != string(gen.QueryStatusRunning) {
			t.Fatalf("OnPoll events %+v", events)
		}
	})
}

// TestPollSchedule checks the default policy against the targets of the
// performance work, with a fixed 5 s poll as the yardstick: a wait ends at
// most max(1 s, 20%) after the query, in every run, and a 300 s query costs
// at most 70% of the fixed poll's 60 GETs. Jitter is random, so it tries
// many runs; no clock is involved.
func TestPollSchedule(t *testing.T) {
	p := PollPolicy{}.withDefaults()
	for _, done := range []time.Duration{500 * time.Millisecond, 5 * time.Second, time.Minute, 5 * time.Minute} {
		const runs = 400
		var worstOver time.Duration
		worstGets := 0
		for range runs {
			at, n := time.Duration(0), 1
			for ; at < done; n++ {
				at += p.delay(n, at, 0)
			}
			worstOver, worstGets = max(worstOver, at-done), max(worstGets, n)
		}
		if limit := max(time.Second, done/5); worstOver > limit {
			t.Errorf("done at %v: overshoot up to %v, want at most %v", done, worstOver, limit)
		}
		if done == 5*time.Minute && worstGets > 42 {
			t.Errorf("done at %v: up to %d GETs, want at most 42", done, worstGets)
		}
		t.Logf("done at %v: overshoot up to %v, up to %d GETs", done, worstOver, worstGets)
	}
}

// MaxDelay is a cap whatever the time waited, and MinDelay a floor (up to
// the jitter on the top quarter).
func TestPollPolicyBounds(t *testing.T) {
	p := PollPolicy{MinDelay: 300 * time.Millisecond, MaxDelay: 2 * time.Second}.withDefaults()
	for n, elapsed := range []time.Duration{0, time.Second, time.Minute, time.Hour} {
		for range 100 {
			if d := p.delay(n+1, elapsed, 0); d > 2*time.Second || d < 225*time.Millisecond {
				t.Fatalf("poll %d at %v: delay %v outside [225ms, 2s]", n+1, elapsed, d)
			}
		}
	}
	if d := p.delay(1, 0, 10*time.Second); d != 10*time.Second {
		t.Errorf("a Retry-After of 10s gave a delay of %v", d)
	}
	if d := p.delay(1, 0, time.Hour); d != 30*time.Second {
		t.Errorf("a Retry-After of 1h gave %v, want the 30s MaxRetryAfter", d)
	}
}

func TestRowsStreamBothKeyOrders(t *testing.T) {
	rows := `[{"clientId":"c1","clientName":"Nightly export","requests":1520,"status200":1400,"status300":0,"status400":110,"status429":95,"status500":10,"date":"2024-01-01T00:00:00.000Z","extra":{"x":[1,2]}},` +
		`{"userId":"u1","organizationId":"o1","templateUri":"api/v2/users/{userId}","httpMethod":"GET","requests":9007199254740993,"date":null}]`
	for _, tc := range []struct {
		name string
		body string
		gets int
	}{
		{"status first", `{"queryStatus":"Complete","results":` + rows + `,"cursors":{}}`, 1},
		{"results first", `{"results":` + rows + `,"queryStatus":"Complete"}`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{api: started(tc.body)}
			res, err := newTestClient(t, f).Run(t.Context(), anyQuery)
			if err != nil {
				t.Fatal(err)
			}
			got, err := res.All()
			if err != nil || len(got) != 2 {
				t.Fatalf("rows %v, %v", got, err)
			}
			r0, r1 := got[0], got[1]
			want0 := "c1 Nightly export 1520 1400 0 110 95 10 2024-01-01 00:00:00 +0000 UTC"
			if s := fmt.Sprint(r0.ClientID, " ", r0.ClientName, " ", r0.Requests, " ", r0.Status200, " ", r0.Status300, " ",
				r0.Status400, " ", r0.Status429, " ", r0.Status500, " ", r0.Date); s != want0 {
				t.Errorf("row 0 = %s\nwant     %s", s, want0)
			}
			if r0.UserID != "" || r1.ClientID != "" || !r1.Date.IsZero() || r1.Status200 != 0 {
				t.Errorf("absent or null fields are set: %+v %+v", r0, r1)
			}
			if r1.UserID != "u1" || r1.OrganizationID != "o1" || r1.TemplateURI != "api/v2/users/{userId}" || r1.HTTPMethod != "GET" || r1.Requests != 9007199254740993 {
				t.Errorf("row 1 = %+v", r1)
			}
			if n := len(f.apiCalls()) - 1; n != tc.gets {
				t.Errorf("%d GETs, want %d: the rows stream from the answer that ended the wait", n, tc.gets)
			}
			// A second pass is allowed and fetches the rows again.
			if again, err := res.All(); err != nil || len(again) != 2 {
				t.Errorf("second pass: %d rows, %v", len(again), err)
			}
		})
	}
}

// countingBody is a results answer of n rows, generated as it is read, so
// that the test can see how far the client read and whether it closed it.
type countingBody struct {
	r      io.Reader
	read   atomic.Int64
	closed atomic.Bool
}

func newCountingBody(n int) *countingBody {
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, `{"results":[`) // the real API's order: the status comes last
		for i := range n {
			if i > 0 {
				io.WriteString(pw, ",")
			}
			if _, err := fmt.Fprintf(pw, `{"clientId":"client-%d","templateUri":"api/v2/users/{userId}","httpMethod":"GET","requests":%d,"date":"2024-01-0%dT00:00:00Z"}`, i%7, i, 1+i%7); err != nil {
				return
			}
		}
		io.WriteString(pw, `],"queryStatus":"Complete"}`)
		pw.Close()
	}()
	return &countingBody{r: pr}
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error {
	b.closed.Store(true)
	return b.r.(*io.PipeReader).Close()
}

func streamingClient(t *testing.T, body *countingBody) *Client {
	tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h := http.Header{"Content-Type": {"application/json"}}
		if r.Method == http.MethodPost {
			return &http.Response{StatusCode: 202, Header: h, Body: io.NopCloser(strings.NewReader(`{"executionId":"big"}`)), Request: r}, nil
		}
		return &http.Response{StatusCode: 200, Header: h, Body: body, Request: r}, nil
	})
	c, err := New(WithBaseURLs(testAPI, testLogin), WithAccessToken("t"), WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRowsAreStreamed(t *testing.T) {
	const n = 50_000
	body := newCountingBody(n)
	res, err := streamingClient(t, body).Run(t.Context(), anyQuery)
	if err != nil {
		t.Fatal(err)
	}
	if got := body.read.Load(); got > 2*bufSize {
		t.Fatalf("read %d bytes before any row was asked for", got)
	}
	i := 0
	for row, err := range res.Rows() {
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if got := body.read.Load(); got > 3*bufSize {
				t.Fatalf("read %d bytes to yield the first row: not streaming", got)
			}
		}
		if row.Requests != int64(i) || row.Date.Day() != 1+i%7 {
			t.Fatalf("row %d = %+v", i, row)
		}
		i++
	}
	if i != n || !body.closed.Load() {
		t.Fatalf("%d rows, closed %v; want %d rows and a closed body", i, body.closed.Load(), n)
	}
}

func TestRowsBreakAndCloseRelease(t *testing.T) {
	body := newCountingBody(100_000)
	res, err := streamingClient(t, body).Run(t.Context(), anyQuery)
	if err != nil {
		t.Fatal(err)
	}
	for range res.Rows() {
		break
	}
	if !body.closed.Load() {
		t.Fatal("breaking off the rows left the answer open")
	}
	body2 := newCountingBody(10)
	res, err = streamingClient(t, body2).Run(t.Context(), anyQuery)
	if err != nil {
		t.Fatal(err)
	}
	first, second := res.Close(), res.Close()
	if first != nil || second != nil || !body2.closed.Load() {
		t.Fatalf("Close = %v then %v, closed %v; want nil, nil, true", first, second, body2.closed.Load())
	}
}

func TestRowsErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"truncated", `{"queryStatus":"Complete","results":[{"requests":1},{"requests":`, ": the answer was cut short in row 2"},
		{"truncated, rows first", `{"results":[{"requests":1},{"requests":`, ": the answer was cut short in row 2"},
		{"a row larger than the cap", `{"results":[{"clientName":"` + strings.Repeat("x", 2<<20) + `"}],"queryStatus":"Complete"}`, ": row 1 is larger than 1 MiB"},
		{"wrong type", `{"queryStatus":"Complete","results":[{"requests":"many"}]}`, ": row 1 is not valid JSON or not a usage row ("},
		{"not an array", `{"queryStatus":"Complete","results":{"requests":1}}`, ": the answer is not the JSON the API sends (\"[\" expected"},
		{"cut after the rows", `{"queryStatus":"Complete","results":[{"requests":1}]`, ": the answer was cut short"},
		{"cut in a later key", `{"queryStatus":"Complete","results":[{"requests":1}],"cursors":{"after":`, ": the answer was cut short"},
		{"a value after the answer", `{"queryStatus":"Complete","results":[{"requests":1}]}{}`, ": the answer could not be read: data after the answer"},
		{"garbage after the answer", `{"queryStatus":"Complete","results":[{"requests":1}]}{{`, ": the answer is not the JSON the API sends (after the answer: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := newTestClient(t, &fake{api: started(tc.body)}).Run(t.Context(), anyQuery)
			if err != nil {
				t.Fatal(err)
			}
			var errs, rows int
			for _, err := range res.Rows() {
				if err != nil {
					errs++
					mustContain(t, err.Error(), "gcusage: execution exec-1", tc.want)
					var de *DecodeError
					if !errors.As(err, &de) {
						t.Errorf("%v is not a *DecodeError", err)
					}
				} else {
					rows++
				}
			}
			if errs != 1 {
				t.Fatalf("%d errors yielded, want exactly 1", errs)
			}
		})
	}
}

// A Complete answer without rows must still end where it should: what
// follows it is a broken answer, never an empty success. Wait polls past
// such answers twice, then reports the last.
func TestCompleteWithoutRowsIsCheckedToTheEnd(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"a bracket after the status", `{"queryStatus":"Complete"}]`, "the answer is not the JSON the API sends (after the answer: "},
		{"a second object", `{"queryStatus":"Complete"}{"results":[{"requests":1}]}`, "data after the answer"},
		{"garbage", `{"queryStatus":"Complete"}xyz`, "the answer is not the JSON the API sends (after the answer: "},
		{"a key larger than the cap", `{"queryStatus":"Complete","` + strings.Repeat("k", 2<<20) + `":1}`, "a value in the answer is larger than 1 MiB"},
		{"a status that never ends", `{"queryStatus":"` + strings.Repeat("R", 2<<20) + `"}`, "a value in the answer is larger than 1 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fake{api: started(tc.body)}
				_, err := newTestClient(t, f).Run(t.Context(), anyQuery)
				var de *DecodeError
				var ee *ExecutionError
				if !errors.As(err, &de) || !errors.As(err, &ee) || ee.ExecutionID != "exec-1" {
					t.Fatalf("err = %v, want a *DecodeError naming exec-1", err)
				}
				mustContain(t, err.Error(), "GET /api/v2/usage/query/exec-1/results: ", tc.want)
				if n := len(f.apiCalls()) - 1; n != 1+maxGarbled {
					t.Errorf("%d GETs, want %d", n, 1+maxGarbled)
				}
			})
		})
	}
}

// The real API sends the rows before queryStatus: they stream from that
// one answer, and a status after them other than Complete is an error
// after the rows, never a clean end.
func TestRowsFirstStatusIsCheckedAfterTheRows(t *testing.T) {
	rows := `[{"requests":1},{"requests":2}]`
	for _, tc := range []struct {
		name, tail string
		wantIs     error
		wantStatus string
	}{
		{"Complete", `,"queryStatus":"Complete"}`, nil, "Complete"},
		{"Failed", `,"queryStatus":"Failed"}`, ErrQueryFailed, "Failed"},
		{"Running", `,"queryStatus":"Running"}`, nil, "Running"},
		{"unknown", `,"queryStatus":"Paused"}`, nil, "Paused"},
		{"null", `,"queryStatus":null}`, nil, ""},
		{"absent", `}`, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{api: started(`{"results":` + rows + tc.tail)}
			res, err := newTestClient(t, f).Run(t.Context(), anyQuery)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			var last error
			for row, err := range res.Rows() {
				if err != nil {
					last = err
					continue
				}
				if last != nil {
					t.Fatal("a row after the error")
				}
				got = append(got, row.Requests)
			}
			if fmt.Sprint(got) != "[1 2]" {
				t.Fatalf("rows %v, want [1 2] before any error", got)
			}
			if n := len(f.apiCalls()) - 1; n != 1 {
				t.Errorf("%d GETs, want 1", n)
			}
			if tc.wantStatus == "Complete" {
				if last != nil {
					t.Fatalf("err %v after Complete rows", last)
				}
				return
			}
			var ee *ExecutionError
			if !errors.As(last, &ee) || ee.ExecutionID != "exec-1" || ee.Status != tc.wantStatus {
				t.Fatalf("after the rows: %v (%+v); want an *ExecutionError with Status %q", last, ee, tc.wantStatus)
			}
			if tc.wantIs != nil && !errors.Is(last, tc.wantIs) {
				t.Errorf("%v does not wrap %v", last, tc.wantIs)
			}
			mustContain(t, last.Error(), "may be a part only")
		})
	}
}

// An empty results array before the status says nothing: a Running answer
// that carries one polls on.
func TestRowsFirstEmptyWhileRunningPollsOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{api: started(`{"results":[],"queryStatus":"Running"}`, `{"results":[{"requests":3}],"queryStatus":"Complete"}`)}
		res, err := newTestClient(t, f).Run(t.Context(), anyQuery)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := res.All()
		if err != nil || len(rows) != 1 || rows[0].Requests != 3 {
			t.Fatalf("rows %v, %v", rows, err)
		}
		if n := len(f.apiCalls()) - 1; n != 2 {
			t.Errorf("%d GETs, want 2", n)
		}
	})
}

func TestMaxWaitInterruptsAHangingPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done() // the server never answers
			return nil, r.Context().Err()
		})
		c, _ := New(WithBaseURLs(testAPI, testLogin), WithAccessToken("t"), WithHTTPClient(&http.Client{Transport: tr}),
			WithPollPolicy(PollPolicy{MaxWait: 30 * time.Second}))
		_, err := c.Wait(t.Context(), "exec-1")
		var ee *ExecutionError
		if !errors.As(err, &ee) || ee.ExecutionID != "exec-1" || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want *ExecutionError wrapping context.DeadlineExceeded", err)
		}
		mustContain(t, err.Error(), "gcusage: execution exec-1: wait timed out after 30s")
	})
}

// An id that is not one path segment would make the GET reach another
// resource with the bearer token ("." and ".." are cleaned out of paths):
// it is refused before anything is sent.
func TestExecutionIDsAreOnePathSegment(t *testing.T) {
	f := &fake{api: started(running)}
	c := newTestClient(t, f)
	for _, id := range []string{"", ".", "..", "a/b", "../../users", "a?b", "a#b", "a\\b", "a\nb", "a\x00b"} {
		_, err := c.Wait(t.Context(), id)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "executionId" || ve.Value != id {
			t.Errorf("Wait(%q) = %v; want a *ValidationError naming executionId", id, err)
		}
		if _, err := c.Execution(id).Poll(t.Context()); !errors.As(err, &ve) {
			t.Errorf("Poll(%q) = %v; want a *ValidationError", id, err)
		}
	}
	if n := len(f.apiCalls()) + f.tokenCalls(); n != 0 {
		t.Fatalf("%d requests sent for bad ids, want none", n)
	}
}

// A poll of a Running answer is read with a buffer of its size, not the
// 64 KiB the rows get: waiting costs next to nothing.
func TestPollsAllocateLittle(t *testing.T) {
	f := &fake{api: started(running)}
	e := newTestClient(t, f).Execution("exec-1")
	e.Poll(t.Context()) // the token, once
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const polls = 20
	for range polls {
		e.Poll(t.Context())
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / polls; per > 32<<10 {
		t.Errorf("%d bytes allocated a poll, want far under the rows' 64 KiB buffer", per)
	}
}
