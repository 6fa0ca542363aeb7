package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Issue 16, item 5: a non-string date was warned about on every row (100k
// rows gave 11 MB of stderr), and unique bad date strings too. Each
// distinct value is warned about once, at most ten in all, and one record
// at the end counts the rows past them.
func TestOddDateWarningsAreBounded(t *testing.T) {
	var same, unique strings.Builder
	for i := range 100000 {
		if i > 0 {
			same.WriteByte(',')
		}
		same.WriteString(`{"requests":1,"date":12}`)
	}
	for i := range 100 {
		if i > 0 {
			unique.WriteByte(',')
		}
		fmt.Fprintf(&unique, `{"requests":1,"date":"bad %d"}`, i)
	}
	for _, tc := range []struct {
		name, rows    string
		warns         int
		summary, want string
	}{
		{"one non-string date on every row", same.String(), 1, "", "date=12"},
		{"unique bad strings", unique.String(), 11, "rows=90", `date="bad 9"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, service := range []string{"query", "job"} {
				var logs bytes.Buffer
				log := WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))
				n := 0
				if service == "query" {
					res, err := newTestClient(t, &fake{api: started(`{"results":[` + tc.rows + `],"queryStatus":"Complete"}`)}, log).Run(t.Context(), anyQuery)
					if err != nil {
						t.Fatal(err)
					}
					rows, err := res.All()
					if err != nil {
						t.Fatal(err)
					}
					n = len(rows)
				} else {
					var qs []string
					f := &fake{api: jobPages(&qs, `{"queryStatus":"Succeeded","entities":[`+strings.ReplaceAll(tc.rows, `"requests"`, `"requestCount"`)+`]}`)}
					if strings.Count(tc.rows, "{") > 1000 {
						continue // a page holds 1000 entities; the query covers it
					}
					got, err := jobEntities(t, f, log)
					if err != nil {
						t.Fatal(err)
					}
					n = len(got)
				}
				if n != strings.Count(tc.rows, "{") {
					t.Errorf("%s: %d rows, want every row", service, n)
				}
				if got := strings.Count(logs.String(), "level=WARN"); got != tc.warns || logs.Len() > 4<<10 {
					t.Errorf("%s: %d warnings, %d bytes, want %d:\n%.2000s", service, got, logs.Len(), tc.warns, logs.String())
				}
				mustContain(t, logs.String(), tc.want, tc.summary)
			}
		})
	}
}

// Issue 16, item 5: a second results array after "queryStatus":"Complete"
// was read as more rows, and printed with exit 0: it is a malformed
// answer, after the first array's rows. A second entities array of a jobs
// page likewise.
func TestSecondRowsArrayIsMalformed(t *testing.T) {
	for _, body := range []string{
		`{"results":[{"requests":1}],"queryStatus":"Complete","results":[{"requests":2}]}`,
		`{"queryStatus":"Complete","results":[{"requests":1}],"results":[{"requests":2}]}`,
		`{"queryStatus":"Complete","results":[{"requests":1}],"cursors":{},"results":[]}`,
	} {
		res, err := newTestClient(t, &fake{api: started(body)}).Run(t.Context(), anyQuery)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := res.All()
		var de *DecodeError
		if !errors.As(err, &de) || len(rows) != 1 || !strings.Contains(err.Error(), "a second results array") {
			t.Errorf("%s: %d rows, %v; want the first row, then a DecodeError", body, len(rows), err)
		}
	}
	var qs []string
	_, err := jobEntities(t, &fake{api: jobPages(&qs, `{"queryStatus":"Succeeded","entities":[{"requestCount":1}],"entities":[{"requestCount":2}]}`)})
	var de *DecodeError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "a second entities array") {
		t.Errorf("jobs: %v; want a DecodeError", err)
	}
}

// trickler serves the answers in turn (the last repeats) in memory, so that
// it works in a synctest bubble; an answer with a trickle marker sends what
// comes before it, then a space every second until the request ends, whose
// cause endings gives. A POST gets post, with status and header, if set.
type trickler struct {
	answers []string
	post    string
	status  int
	header  http.Header

	mu   sync.Mutex
	ends []error
}

const trickleMark = "<trickle>"

func (tr *trickler) RoundTrip(req *http.Request) (*http.Response, error) {
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Request: req}
	body := `{"executionId":"exec-1","id":"exec-1"}`
	switch {
	case req.Method == http.MethodPost && tr.post != "":
		body, resp.StatusCode = tr.post, tr.status
		maps.Copy(resp.Header, tr.header)
	case req.Method != http.MethodPost:
		body = tr.answers[0]
		if len(tr.answers) > 1 {
			tr.answers = tr.answers[1:]
		}
	}
	head, trickle := strings.CutSuffix(body, trickleMark)
	pr, pw := io.Pipe()
	ctx := req.Context()
	go func() {
		io.WriteString(pw, head)
		for trickle {
			select {
			case <-ctx.Done():
				tr.end(context.Cause(ctx))
				pw.CloseWithError(context.Cause(ctx))
				return
			case <-time.After(time.Second):
				if _, err := io.WriteString(pw, " "); err != nil {
					tr.end(err)
					return
				}
			}
		}
		pw.Close()
	}()
	resp.Body = pr
	return resp, nil
}

func (tr *trickler) end(err error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.ends = append(tr.ends, err)
}

// endings are what ended each trickle: the cause of its request's end, or
// the error of writing to a body closed.
func (tr *trickler) endings() []error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]error(nil), tr.ends...)
}

// Issue 16, item 5: a later jobs or search page that trickles yielded
// nothing until it ended, and neither MaxWait nor MaxElapsed applied to
// it. Every page read now ends within RetryPolicy.MaxElapsed, not counting
// the time the caller holds a row.
func TestTricklingPagesEndWithMaxElapsed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers []string
		rows    func(c *Client, ctx context.Context) (int, error)
	}{
		{"jobs", []string{`{"queryStatus":"Succeeded","entities":[{"requestCount":1}],"nextUri":"/x?after=2"}`,
			`{"queryStatus":"Succeeded","entities":[` + trickleMark}, func(c *Client, ctx context.Context) (int, error) {
			res, err := c.Job("", "j1").Wait(ctx)
			if err != nil {
				return 0, err
			}
			return countRows(res.Rows(), func() {})
		}},
		{"search", []string{`{"results":[{"requests":1}],"queryStatus":"Complete","cursors":{"after":"p2"}}`,
			`{"results":[{"requests":2},` + trickleMark}, func(c *Client, ctx context.Context) (int, error) {
			res, err := c.RunSearch(ctx, SimpleSearch{Interval: anyQuery.Interval})
			if err != nil {
				return 0, err
			}
			// A caller that takes its time with each row is not cut short:
			// only the time spent reading counts.
			return countRows(res.Rows(), func() { time.Sleep(40 * time.Second) })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, err := New(WithBaseURLs(testAPI, ""), WithAccessToken("a-test-token"), WithNow(func() time.Time { return testToday }),
					WithHTTPClient(&http.Client{Transport: &trickler{answers: tc.answers}}), WithRetryPolicy(RetryPolicy{MaxElapsed: time.Minute}))
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
				defer cancel()
				start := time.Now()
				n, err := tc.rows(c, ctx)
				if d := time.Since(start); d > 3*time.Minute {
					t.Errorf("the rows ended after %v, want within MaxElapsed of the page's start", d)
				}
				var ee *ExecutionError
				if !errors.As(err, &ee) || !errors.Is(err, errBudget) || errors.Is(err, context.DeadlineExceeded) ||
					!strings.Contains(err.Error(), "did not end within RetryPolicy.MaxElapsed") {
					t.Errorf("%d rows, then %v; want an ExecutionError saying MaxElapsed ran out", n, err)
				}
				if want := map[string]int{"jobs": 1, "search": 2}[tc.name]; n != want {
					t.Errorf("%d rows before the error, want %d", n, want)
				}
			})
		})
	}
}

// countRows counts the rows of seq up to its first error, calling each
// after each row.
func countRows[T any](seq iter.Seq2[T, error], each func()) (int, error) {
	n := 0
	for _, err := range seq {
		if err != nil {
			return n, err
		}
		each()
		n++
	}
	return n, nil
}
