package client

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"
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
