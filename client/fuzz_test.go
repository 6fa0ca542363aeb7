package client

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"iter"
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

// FuzzWaitRows drives Wait and Rows on arbitrary results answers: any
// status, headers and body, the same answer to every poll. Whatever the
// server sends, the caller gets rows or one error, nothing after the
// error, no panic, within its deadline, and allocations stay bounded.
func FuzzWaitRows(f *testing.F) {
	for _, s := range []struct {
		status uint16
		header string
		body   string
	}{
		{200, "Content-Type: application/json", `{"results":[{"clientId":"c","requests":1,"date":"2024-01-01T00:00:00Z"}],"queryStatus":"Complete"}`},
		{200, "", `{"queryStatus":"Complete","results":[{"requests":2}]}`},
		{200, "Retry-After: 3", `{"queryStatus":"Running"}`},
		{200, "", `{"results":[{"requests":1}],"queryStatus":"Failed"}`},
		{200, "", `{"queryStatus":"Complete"}]`},
		{200, "", `{"results":[{"requests":-1}],"queryStatus":"Complete"}`},
		{200, "", `{"results":[{"date":12}],"queryStatus":"Complete"}`},
		{429, "Retry-After: 1", `{"code":"too.many.requests"}`},
		{503, "Content-Type: text/html", `<html><title>503</title></html>`},
		{302, "Location: http://evil.example/x", ``},
		{200, "Content-Encoding: gzip", "\x1f\x8b"},
	} {
		f.Add(s.status, s.header, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status uint16, header string, body []byte) {
		code := 200 + int(status)%400
		synctest.Test(t, func(t *testing.T) {
			api := func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					writeJSON(w, 202, `{"executionId":"exec-1"}`)
					return
				}
				for l := range strings.Lines(header) {
					if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && k != "" && !strings.ContainsAny(k, " \t\r\n") {
						w.Header().Set(k, strings.TrimSpace(v))
					}
				}
				w.WriteHeader(code)
				w.Write(body)
			}
			c := newTestClient(t, &fake{api: api}, WithRetryPolicy(RetryPolicy{MaxAttempts: 2}))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
			defer cancel()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			res, err := c.Run(ctx, anyQuery)
			switch {
			case err != nil && res != nil:
				t.Fatal("both a result and an error")
			case err != nil:
				var ee *ExecutionError
				if !errors.As(err, &ee) || ee.ExecutionID != "exec-1" {
					t.Fatalf("wait error %v does not name the execution", err)
				}
			default:
				errs := 0
				for _, err := range res.Rows() {
					if errs > 0 {
						t.Fatal("a row or an error after an error")
					}
					if err != nil {
						errs++
					}
				}
			}
			if d := time.Since(start); d > 10*time.Minute {
				t.Fatalf("took %v, past the deadline", d)
			}
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20+uint64(100*len(body)) {
				t.Fatalf("allocated %d bytes for a %d-byte answer", n, len(body))
			}
		})
	})
}

// pagesServer answers the GETs of a job's or a search's results: first to
// the first, later to every other, with each {n} in later replaced by the
// page's number (so that a fuzzer can make cursors that never repeat), and
// status to the later ones. After maxFuzzGETs GETs it answers a failure, so
// that a client that would page forever stops. POSTs start exec-1.
func pagesServer(status uint16, first, later []byte, gets *int) http.HandlerFunc {
	code := 200 + int(status)%400
	var mu sync.Mutex
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			writeJSON(w, 202, `{"executionId":"exec-1","id":"exec-1"}`)
			return
		}
		mu.Lock()
		*gets++
		n := *gets
		mu.Unlock()
		switch {
		case n > maxFuzzGETs:
			writeJSON(w, 200, `{"queryStatus":"Failed"}`)
		case n == 1:
			w.WriteHeader(200)
			w.Write(first)
		default:
			w.WriteHeader(code)
			w.Write(bytes.ReplaceAll(later, []byte("{n}"), []byte(strconv.Itoa(n))))
		}
	}
}

const maxFuzzGETs = 50

// fuzzWaited checks what every caller relies on: a wait gives a result
// (got) or an error naming exec-1 of kind, not both; then rows, at most
// one error, nothing after it, and no more rows than max.
func fuzzWaited[T any](t *testing.T, got bool, err error, kind string, rows func() iter.Seq2[T, error], max int) {
	var ee *ExecutionError
	switch {
	case err != nil && got:
		t.Fatal("both a result and an error")
	case err != nil && (!errors.As(err, &ee) || ee.ExecutionID != "exec-1" || ee.Kind != kind):
		t.Fatalf("wait error %v does not name the %s", err, cmp.Or(kind, "execution"))
	case err == nil:
		fuzzRows(t, rows(), max)
	}
}

// fuzzRows reads seq: rows, then at most one error, nothing after it, and
// no more rows than max.
func fuzzRows[T any](t *testing.T, seq iter.Seq2[T, error], max int) {
	rows, errs := 0, 0
	for _, err := range seq {
		if errs > 0 {
			t.Fatal("a row or an error after an error")
		}
		if err != nil {
			var ee *ExecutionError
			if !errors.As(err, &ee) || ee.ExecutionID != "exec-1" {
				t.Fatalf("rows error %v does not name exec-1", err)
			}
			errs++
			continue
		}
		if rows++; rows > max {
			t.Fatalf("more than %d rows", max)
		}
	}
}

// fuzzPages runs read against pagesServer in a bubble and checks the
// bounds every page read keeps: within the deadline, at most maxFuzzGETs
// GETs (then the failure), allocations bounded by the bytes sent.
func fuzzPages(t *testing.T, status uint16, first, later []byte, read func(t *testing.T, ctx context.Context, c *Client)) {
	synctest.Test(t, func(t *testing.T) {
		gets := 0
		c := newTestClient(t, &fake{api: pagesServer(status, first, later, &gets)}, WithRetryPolicy(RetryPolicy{MaxAttempts: 2}))
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		read(t, ctx, c)
		if d := time.Since(start); d > 10*time.Minute {
			t.Fatalf("took %v, past the deadline", d)
		}
		if gets > maxFuzzGETs+1 {
			t.Fatalf("%d GETs after the failure", gets)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20+uint64(100*(len(first)+maxFuzzGETs*len(later))) {
			t.Fatalf("allocated %d bytes for pages of %d and %d bytes", n, len(first), len(later))
		}
	})
}

// FuzzJobPages drives Job.Wait and JobResult.Rows on arbitrary pages: the
// first, and every later one (status and body), whose cursors may repeat
// or never repeat. Whatever the server sends, the caller gets entities or
// one error naming the job, nothing after it, no panic, within its
// deadline, with a bounded number of requests and allocations.
func FuzzJobPages(f *testing.F) {
	for _, s := range []struct {
		status       uint16
		first, later string
	}{
		{200, `{"queryStatus":"Succeeded","entities":[{"date":"2026-01-02","oauthClient":{"id":"c","name":"n"},"requestCount":2,"status200":2}],"nextUri":"/api/v2/usage/aggregates/query/jobs/exec-1?after=p{n}"}`, `{"queryStatus":"Succeeded","entities":[{"requestCount":1}],"nextUri":"?after=p{n}"}`},
		{200, `{"queryStatus":"Running"}`, `{"queryStatus":"Succeeded","entities":[{"requestCount":1}]}`},
		{200, `{"queryStatus":"Succeeded","entities":[{}],"nextUri":"/x?after=a&junk={n}"}`, `{"queryStatus":"Succeeded","entities":[{}],"nextUri":"/x?after=a&junk={n}"}`},
		{200, `{"queryStatus":"Succeeded","entities":[{}],"nextUri":"http://evil.example/x?after=1"}`, `{}`},
		{200, `{"queryStatus":"Failed","errorBody":{"code":"query.error","message":"\u0074ok"}}`, `{}`},
		{200, `{"queryStatus":"Succeeded","entities":[{}],"entities":[{}]}`, `{}`},
		{200, `{"queryStatus":"Succeeded","entities":[{"date":12,"status429":-1}]}`, `{}`},
		{100, `{"queryStatus":"Succeeded","entities":[{}],"nextUri":"?after=2"}`, `{"code":"max.response.size.reached"}`},
		{300, `{"queryStatus":"Succeeded","entities":[{}],"nextUri":"?after=2"}`, `<html><title>502</title></html>`},
	} {
		f.Add(s.status, []byte(s.first), []byte(s.later))
	}
	f.Fuzz(func(t *testing.T, status uint16, first, later []byte) {
		fuzzPages(t, status, first, later, func(t *testing.T, ctx context.Context, c *Client) {
			res, err := c.Job("", "exec-1").Wait(ctx)
			fuzzWaited(t, res != nil, err, "job", func() iter.Seq2[Entity, error] { return res.Rows() }, maxFuzzGETs*maxPageSize)
		})
	})
}

// FuzzSearchPages drives RunSearch and Result.Rows on arbitrary pages, as
// FuzzJobPages does for jobs, and checks the cap of MaxSearchRecords rows.
func FuzzSearchPages(f *testing.F) {
	for _, s := range []struct {
		status       uint16
		first, later string
	}{
		{200, `{"results":[{"clientName":"c","status200":1,"date":"2024-01-01T00:00:00Z"}],"queryStatus":"Complete","cursors":{"after":"p{n}"}}`, `{"results":[{"clientName":"c"}],"queryStatus":"Complete","cursors":{"after":"p{n}"}}`},
		{200, `{"queryStatus":"Running"}`, `{"results":[{"status200":1}],"queryStatus":"Complete"}`},
		{200, `{"results":[{}],"queryStatus":"Complete","cursors":{"after":"same"}}`, `{"results":[{}],"queryStatus":"Complete","cursors":{"after":"same"}}`},
		{200, `{"results":[{}],"queryStatus":"Complete","results":[{}]}`, `{}`},
		{200, `{"results":[{}],"queryStatus":"Complete","cursors":{"after":"2"}}`, `{"results":[{}],"queryStatus":"Failed"}`},
		{300, `{"results":[{}],"queryStatus":"Complete","cursors":{"after":"2"}}`, `{"code":"max.response.size.reached"}`},
		{200, `{"results":[{"date":{"x":1}},{"date":"bad"}],"queryStatus":"\u0074ok"}`, `{}`},
		{200, `{"queryStatus":"Complete","cursors":{"after":"p"},"results":[{},{},{},{},{},{},{},{},{},{}]}`, `{"queryStatus":"Complete","cursors":{"after":"p{n}"},"results":[{},{},{},{},{},{},{},{},{},{}]}`},
	} {
		f.Add(s.status, []byte(s.first), []byte(s.later))
	}
	f.Fuzz(func(t *testing.T, status uint16, first, later []byte) {
		fuzzPages(t, status, first, later, func(t *testing.T, ctx context.Context, c *Client) {
			res, err := c.RunSearch(ctx, SimpleSearch{Interval: anyQuery.Interval})
			fuzzWaited(t, res != nil, err, "", func() iter.Seq2[gen.APIUsageRow, error] { return res.Rows() }, MaxSearchRecords)
		})
	})
}
