package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// outcome is one scripted answer of seqTransport: an error, or a status
// with headers.
type outcome struct {
	status int
	header map[string]string
	err    error
}

// seqTransport answers with the outcomes in turn, then with 202 (a started
// query), and counts the requests.
type seqTransport struct {
	mu   sync.Mutex
	outs []outcome
	n    int
}

func (s *seqTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	o := outcome{status: 202}
	if req.Method == http.MethodGet {
		o.status = 200
	}
	if s.n <= len(s.outs) {
		o = s.outs[s.n-1]
	}
	if o.err != nil {
		return nil, o.err
	}
	h := http.Header{"Content-Type": {"application/json"}}
	for k, v := range o.header {
		h.Set(k, v)
	}
	body := `{"executionId":"exec-1","id":"exec-1","queryStatus":"Complete"}`
	if o.status/100 != 2 {
		body = `{"code":"x","message":"no"}`
	}
	return &http.Response{StatusCode: o.status, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

func (s *seqTransport) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// The retry rules of a GET; those of a request that starts work are in
// TestStartIsRetriedOnlyWhenDeclinedOrNotSent.
func TestRetryMatrix(t *testing.T) {
	connRefused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: network is unreachable")}
	httpDate := time.Date(2000, 1, 1, 0, 0, 3, 0, time.UTC).Format(http.TimeFormat) // synctest's epoch + 3s
	ra := func(v string) map[string]string { return map[string]string{"Retry-After": v} }
	cases := []struct {
		name     string
		outs     []outcome
		policy   RetryPolicy
		attempts int
		elapsed  time.Duration // exact when > 0; otherwise at most maxWait
		maxWait  time.Duration
		check    func(t *testing.T, err error)
	}{
		{name: "429 Retry-After seconds", outs: []outcome{{status: 429, header: ra("2")}}, attempts: 2, elapsed: 2 * time.Second},
		{name: "429 Retry-After HTTP-date", outs: []outcome{{status: 429, header: ra(httpDate)}}, attempts: 2, elapsed: 3 * time.Second},
		{name: "429 without hint backs off", outs: []outcome{{status: 429}, {status: 429}}, attempts: 3, maxWait: 1500 * time.Millisecond},
		{name: "502 503 504", outs: []outcome{{status: 502}, {status: 503}, {status: 504}}, attempts: 4, maxWait: 3500 * time.Millisecond},
		{name: "connection error", outs: []outcome{{err: connRefused}}, attempts: 2, maxWait: 500 * time.Millisecond},
		{
			// A large time budget, so that only the cap can stop the retry.
			name: "429 hint over cap gives up at once", outs: []outcome{{status: 429, header: ra("181")}}, attempts: 1, elapsed: 0,
			policy: RetryPolicy{MaxElapsed: time.Hour},
			check: func(t *testing.T, err error) {
				var rl *RateLimitError
				var ae *APIError
				if !errors.As(err, &rl) || rl.RetryAfter != 181*time.Second || !errors.As(err, &ae) || ae.StatusCode != 429 {
					t.Fatalf("err = %v, want *RateLimitError with RetryAfter 181s wrapping a 429 *APIError", err)
				}
			},
		},
		{
			name: "500 is not retried", outs: []outcome{{status: 500}}, attempts: 1,
			check: func(t *testing.T, err error) {
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != 500 {
					t.Fatalf("err = %v, want 500 *APIError", err)
				}
			},
		},
		{
			name: "attempt budget", outs: []outcome{{status: 503}, {status: 503}, {status: 503}, {status: 503}},
			policy: RetryPolicy{MaxAttempts: 3}, attempts: 3, maxWait: 1500 * time.Millisecond,
			check: func(t *testing.T, err error) {
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != 503 {
					t.Fatalf("err = %v, want the last 503 as *APIError", err)
				}
			},
		},
		{
			name: "time budget", outs: []outcome{{status: 503, header: ra("2")}, {status: 503, header: ra("2")}},
			policy: RetryPolicy{MaxElapsed: 3 * time.Second}, attempts: 2, elapsed: 2 * time.Second,
			check: func(t *testing.T, err error) {
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != 503 {
					t.Fatalf("err = %v, want 503 *APIError", err)
				}
			},
		},
		{
			name: "connection errors exhaust attempts", outs: []outcome{{err: connRefused}, {err: connRefused}},
			policy: RetryPolicy{MaxAttempts: 2}, attempts: 2, maxWait: 500 * time.Millisecond,
			check: func(t *testing.T, err error) {
				mustContain(t, err.Error(), "gave up after 2 attempts", "network is unreachable")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := &seqTransport{outs: tc.outs}
				c, err := New(WithBaseURLs(testAPI, testLogin), WithAccessToken("static"), WithNow(func() time.Time { return testToday }),
					WithHTTPClient(&http.Client{Transport: tr}), WithRetryPolicy(tc.policy))
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				st, err := c.Execution("exec-1").Poll(t.Context())
				elapsed := time.Since(start)
				if tc.check != nil {
					tc.check(t, err)
				} else if err != nil || st != "Complete" {
					t.Fatalf("Poll = %v, %v; want success after retries", st, err)
				}
				if got := tr.count(); got != tc.attempts {
					t.Errorf("attempts = %d, want %d", got, tc.attempts)
				}
				if tc.elapsed > 0 && elapsed != tc.elapsed {
					t.Errorf("elapsed = %v, want %v", elapsed, tc.elapsed)
				}
				if tc.maxWait > 0 && elapsed > tc.maxWait {
					t.Errorf("elapsed = %v, want at most %v", elapsed, tc.maxWait)
				}
			})
		})
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &seqTransport{outs: []outcome{{status: 503, header: map[string]string{"Retry-After": "60"}}}}
		c, _ := New(WithBaseURLs(testAPI, testLogin), WithAccessToken("static"), WithNow(func() time.Time { return testToday }), WithHTTPClient(&http.Client{Transport: tr}))
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Start(ctx, anyQuery)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		// Issue 11, item 4: the cause of the retry is not lost.
		mustContain(t, err.Error(), "context deadline exceeded; last error: 503 Service Unavailable")
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("returned after %v, want when the context ended (5s)", d)
		}
		if tr.count() != 1 {
			t.Errorf("attempts = %d, want 1: nothing is sent after the context is done", tr.count())
		}
	})
}

func TestRetryNeedsRewindableBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &seqTransport{outs: []outcome{{status: 503}}}
		d := &retryDoer{hc: &http.Client{Transport: tr}, p: RetryPolicy{}.withDefaults(), log: discard}
		req, _ := http.NewRequest(http.MethodPost, testAPI+"/x", io.NopCloser(bytes.NewReader([]byte("{}"))))
		if req.GetBody != nil {
			t.Fatal("test needs a request without GetBody")
		}
		resp, err := d.Do(req)
		if err != nil || resp.StatusCode != 503 || tr.count() != 1 {
			t.Fatalf("got %v, %v after %d attempts; want the 503 after 1 attempt", resp, err, tr.count())
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{" 120 ", 120 * time.Second, true},
		{"0", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"99999999999999999999999", 1<<63 - 1, true},
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
	}
	for _, tc := range cases {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"3", "Wed, 21 Oct 2015 07:28:00 GMT", "", "-1", "18446744073709551616"} {
		f.Add(s)
	}
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := parseRetryAfter(s, now); d < 0 || (!ok && d != 0) {
			t.Fatalf("parseRetryAfter(%q) = %v, %v", s, d, ok)
		}
	})
}

// realRefusal dials a port nothing listens on, outside any bubble, for the
// error a closed port really gives.
func realRefusal(t *testing.T) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conn, err := net.Dial("tcp", addr)
	if err == nil {
		conn.Close()
		t.Skip("the closed port was taken again")
	}
	return err
}

// Issue 11, item 4: a refused connection or an unknown host does not heal
// in seconds: a couple of quick retries, then the error, well within 10 s,
// for the API and for the token endpoint alike. A reset keeps the budget.
func TestHopelessFailuresFailFast(t *testing.T) {
	refused := realRefusal(t)
	noHost := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "api.eu-west-9.invalid", IsNotFound: true}}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	for _, tc := range []struct {
		name     string
		err      error
		login    bool // fail the token requests, not the API's
		attempts int
		check    func(error) bool
	}{
		{"API refused", refused, false, 3, func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{"API unknown host", noHost, false, 3, func(err error) bool { var d *net.DNSError; return errors.As(err, &d) }},
		{"API reset keeps the budget", reset, false, 5, func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }},
		// A start that may have reached the server is not sent again.
		{"API reset of a start", reset, false, 1, func(err error) bool {
			return errors.Is(err, syscall.ECONNRESET) && errors.Is(err, ErrMaybeStarted)
		}},
		{"token refused", refused, true, 3, func(err error) bool {
			var ae *AuthError
			return errors.As(err, &ae) && errors.Is(err, syscall.ECONNREFUSED)
		}},
		{"token unknown host", noHost, true, 3, func(err error) bool { var d *net.DNSError; return errors.As(err, &d) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				n := 0
				tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
					mu.Lock()
					defer mu.Unlock()
					n++
					return nil, tc.err
				})
				creds := WithAccessToken("static")
				if tc.login {
					creds = WithClientCredentials("id", testSecret)
				}
				c, err := New(WithBaseURLs(testAPI, testLogin), creds, WithNow(func() time.Time { return testToday }), WithHTTPClient(&http.Client{Transport: tr}),
					WithRetryPolicy(RetryPolicy{MaxDelay: time.Second}))
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if tc.name == "API reset keeps the budget" {
					_, err = c.Execution("exec-1").Poll(t.Context())
				} else {
					_, err = c.Start(t.Context(), anyQuery)
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("failed after %v, want within 10s", d)
				}
				if !tc.check(err) {
					t.Errorf("err = %v: not recognisable", err)
				}
				mu.Lock()
				defer mu.Unlock()
				if n != tc.attempts {
					t.Errorf("%d attempts, want %d", n, tc.attempts)
				}
			})
		})
	}
}

// Issue 11, item 4: OnRetry hears of each retry, of the API and of the
// token endpoint, before the wait.
func TestOnRetryReportsEachRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var events []RetryEvent
		f := &fake{}
		apiCalls := 0
		f.api = func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			apiCalls++
			first := apiCalls == 1
			mu.Unlock()
			if first {
				w.Header().Set("Retry-After", "1")
				writeJSON(w, 503, `{}`)
				return
			}
			writeJSON(w, 202, `{"executionId":"exec-1"}`)
		}
		f.token = func(n int, w http.ResponseWriter) {
			if n == 1 {
				writeJSON(w, 502, `{}`)
				return
			}
			tokenOK(w, "tok")
		}
		c := newTestClient(t, f, WithRetryPolicy(RetryPolicy{OnRetry: func(e RetryEvent) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
		}}))
		if _, err := c.Start(t.Context(), anyQuery); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		got := fmt.Sprint(len(events))
		for _, e := range events {
			got += fmt.Sprintf(" [%d %s %s %d %v]", e.Attempt, e.Method, e.Path, e.StatusCode, e.Delay <= 2*time.Second)
		}
		if want := "2 [1 POST /oauth/token 502 true] [1 POST /api/v2/usage/query 503 true]"; got != want {
			t.Errorf("events %s\nwant   %s", got, want)
		}
	})
}
