package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// startCalls are the calls that start work on the server, each of which
// counts against the organization's rate limit: four POSTs and the
// summary's GET.
var startCalls = map[string]func(ctx context.Context, c *Client) error{
	"Start": func(ctx context.Context, c *Client) error {
		_, err := c.Start(ctx, anyQuery)
		return err
	},
	"StartClient": func(ctx context.Context, c *Client) error {
		_, err := c.StartClient(ctx, "c1", anyQuery)
		return err
	},
	"StartSearch": func(ctx context.Context, c *Client) error {
		_, err := c.StartSearch(ctx, SimpleSearch{Interval: anyQuery.Interval})
		return err
	},
	"StartJob": func(ctx context.Context, c *Client) error {
		_, err := c.StartJob(ctx, JobQuery{Interval: "2024-01-01/2024-01-07"})
		return err
	},
	"Summary": func(ctx context.Context, c *Client) error {
		_, err := c.Summary(ctx, "c1", 7)
		return err
	},
}

// Issue 16, item 3: a server that reads the whole request, then drops the
// connection, once got 5 queries or jobs started by one Start. A request
// that starts work is sent once when it may have reached the server, and
// its error says that the work may have started.
func TestStartIsNotSentAgainOnceItReachedTheServer(t *testing.T) {
	for name, call := range startCalls {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			srv, _ := hostile(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				io.Copy(io.Discard, r.Body)
				mu.Lock()
				n++
				mu.Unlock()
				panic(http.ErrAbortHandler) // the connection closes without an answer
			})
			c := loopbackClient(t, srv.URL, "", WithNow(func() time.Time { return testToday }))
			var err error
			returns(t, name, func() { err = call(t.Context(), c) })
			if !errors.Is(err, ErrMaybeStarted) {
				t.Errorf("err = %v, want ErrMaybeStarted", err)
			}
			mustContain(t, err.Error(), "may have started")
			mu.Lock()
			defer mu.Unlock()
			if n != 1 {
				t.Errorf("%d requests reached the server, want 1", n)
			}
		})
	}
}

// Issue 16, item 3: what declines a start, or shows that it never left, is
// retried: a 429, a 503 with Retry-After, a refused connection. A 502, a
// 503 without Retry-After or a 504 may come from a proxy that passed the
// request on: it is not.
func TestStartIsRetriedOnlyWhenDeclinedOrNotSent(t *testing.T) {
	ra := map[string]string{"Retry-After": "1"}
	for _, tc := range []struct {
		name     string
		outs     []outcome
		attempts int
	}{
		{"429", []outcome{{status: 429}}, 2},
		{"503 with Retry-After", []outcome{{status: 503, header: ra}}, 2},
		{"refused connection", []outcome{{err: realRefusal(t)}}, 2},
		{"502", []outcome{{status: 502}}, 1},
		{"503 without Retry-After", []outcome{{status: 503}}, 1},
		{"504", []outcome{{status: 504}}, 1},
	} {
		for name, call := range startCalls {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					tr := &seqTransport{outs: tc.outs}
					c, err := New(WithBaseURLs(testAPI, testLogin), WithAccessToken("static"), WithNow(func() time.Time { return testToday }),
						WithHTTPClient(&http.Client{Transport: tr}), WithRetryPolicy(RetryPolicy{MinDelay: time.Millisecond, MaxDelay: time.Millisecond}))
					if err != nil {
						t.Fatal(err)
					}
					err = call(t.Context(), c)
					if got := tr.count(); got != tc.attempts {
						t.Errorf("%d attempts, want %d (err %v)", got, tc.attempts, err)
					}
					if tc.attempts == 1 && err == nil {
						t.Error("no error")
					}
				})
			})
		}
	}
}

// Issue 16, item 3: a malformed answer header (an ESC byte in
// ININ-Correlation-Id) is no fault of the network: it was retried 5
// times, and now fails at once.
func TestMalformedHeaderFailsFast(t *testing.T) {
	var mu sync.Mutex
	n := 0
	srv, _ := hostile(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		mu.Lock()
		n++
		mu.Unlock()
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nININ-Correlation-Id: a\x1b]0;pwned\x07b\r\nContent-Type: application/json\r\nContent-Length: 25\r\n\r\n{\"queryStatus\":\"Running\"}")
		buf.Flush()
	})
	c := loopbackClient(t, srv.URL, "", WithRetryPolicy(RetryPolicy{MinDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	_, err := c.Execution("exec-1").Poll(t.Context())
	if err == nil || !strings.Contains(err.Error(), "malformed") || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("err = %q, want the malformed header named, escaped", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// Issue 16, item 3: a token that the token server sent with CR/LF cannot
// go into a header: it was retried for 3.9 s as a network fault, and is
// now an *AuthError at once, as WithAccessToken refuses such a token.
func TestTokenWithALineBreakFailsFast(t *testing.T) {
	var mu sync.Mutex
	api := 0
	srv, _ := hostile(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		if r.URL.Path == "/oauth/token" {
			tokenOK(w, "tok-secret-123\r\nX-Evil: 1")
			return
		}
		mu.Lock()
		api++
		mu.Unlock()
		writeJSON(w, 200, `{"queryStatus":"Running"}`)
	})
	var retries []RetryEvent
	c, err := New(WithBaseURLs(srv.URL, srv.URL), WithClientCredentials("id", testSecret),
		WithRetryPolicy(RetryPolicy{OnRetry: func(e RetryEvent) { retries = append(retries, e) }}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Execution("exec-1").Poll(t.Context())
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an *AuthError", err)
	}
	mustContain(t, err.Error(), "byte 0x0d at offset 14")
	if strings.Contains(err.Error(), "tok-secret") {
		t.Errorf("%q shows the token", err)
	}
	if len(retries) != 0 || api != 0 {
		t.Errorf("%d retries, %d API requests; want none", len(retries), api)
	}
}
