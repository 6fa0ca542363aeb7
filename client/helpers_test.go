package client

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testAPI    = "http://127.0.0.1:7001"
	testLogin  = "http://127.0.0.1:7002"
	testSecret = "s3cr3t-do-not-print"
)

// fake is an in-memory Genesys Cloud: a RoundTripper, so that it also works
// inside synctest bubbles, where a real socket would hang.
type fake struct {
	mu     sync.Mutex
	tokens int      // token requests
	calls  []string // "METHOD path bearer" of each API request
	// token answers the n-th token request (1-based); default: tok-n.
	token func(n int, w http.ResponseWriter)
	api   http.HandlerFunc
}

func (f *fake) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	f.mu.Lock()
	if "http://"+req.URL.Host == testLogin {
		f.tokens++
		n := f.tokens
		f.mu.Unlock()
		if f.token != nil {
			f.token(n, rec)
		} else {
			tokenOK(rec, fmt.Sprintf("tok-%d", n))
		}
	} else {
		f.calls = append(f.calls, req.Method+" "+req.URL.Path+" "+req.Header.Get("Authorization"))
		f.mu.Unlock()
		f.api(rec, req)
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

func (f *fake) apiCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fake) tokenCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens
}

func tokenOK(w http.ResponseWriter, tok string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":86400}`, tok)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ININ-Correlation-Id", "corr-1")
	w.Header().Set("Content-Length", strconv.Itoa(len(body))) // as net/http sets it on a small answer
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func newTestClient(t testing.TB, f *fake, opts ...Option) *Client {
	t.Helper()
	opts = append([]Option{
		// Today is after anyQuery's interval, also in a synctest bubble,
		// whose clock starts in 2000; a test's own WithNow comes after.
		WithNow(func() time.Time { return testToday }),
		WithBaseURLs(testAPI, testLogin),
		WithClientCredentials("id", testSecret),
		WithHTTPClient(&http.Client{Transport: f}),
	}, opts...)
	c, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// started answers POST /api/v2/usage/query with executionId exec-1, and
// GETs of its results with the answers given in turn (the last repeats).
func started(results ...string) http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			writeJSON(w, 202, `{"executionId":"exec-1","resultsUri":"/api/v2/usage/query/exec-1/results"}`)
			return
		}
		mu.Lock()
		body := results[min(n, len(results)-1)]
		n++
		mu.Unlock()
		writeJSON(w, 200, body)
	}
}

// testToday is the clients' today in these tests: a month after anyQuery.
var testToday = time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)

var anyQuery = Query{Interval: "2024-01-01T00:00:00Z/2024-01-08T00:00:00Z"}

func mustContain(t testing.TB, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q does not contain %q", s, sub)
		}
	}
}

var discard = slog.New(slog.DiscardHandler)
