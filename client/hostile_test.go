package client

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The tests of this file face a hostile server over a loopback socket, so
// that net/http's own reading, closing and redirecting is what is tested.
// No test waits for time to pass: a server that stalls blocks until the
// client goes away, and returns only guards against a hang.

// hostile starts a loopback server. Its cleanup first ends the returned
// context and releases the handlers, so that a client still blocked on a
// stalled answer (a failed test) lets go before the server waits for them.
func hostile(t *testing.T, h func(w http.ResponseWriter, r *http.Request, stop <-chan struct{})) (*httptest.Server, context.Context) {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r, stop) }))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { cancel(); close(stop) })
	return srv, ctx
}

// stall sends head, then nothing, until the client goes away: an answer
// that never ends, and that no count of bytes can end either.
func stall(w http.ResponseWriter, r *http.Request, stop <-chan struct{}, status int, head string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, head)
	w.(http.Flusher).Flush()
	select {
	case <-r.Context().Done():
	case <-stop:
	}
}

// returns runs f and fails the test if f is still blocked after a minute,
// far beyond any bound under test: a guard against a hang only, which
// asserts no time. What ended f is for the test to assert.
func returns(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s still blocked after a minute", what)
	}
}

func loopbackClient(t *testing.T, apiURL, loginURL string, opts ...Option) *Client {
	t.Helper()
	c, err := New(append([]Option{WithBaseURLs(apiURL, loginURL), WithAccessToken("tok-secret-123")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Issue 10, item 2: giving up on rows must not wait for the rest of an
// answer (the old client waited 20 s and more): the drain before close is
// bounded in time as well as in bytes. The answer stalls, so that neither
// its end nor drainBytes can come: the time bound is all that can end the
// drain, and net/http's body lets Close end the read it blocks in.
func TestCloseAndBreakDoNotWaitForAStall(t *testing.T) {
	for _, how := range []string{"Close", "break"} {
		t.Run(how, func(t *testing.T) {
			gone := make(chan struct{})
			srv, ctx := hostile(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
				if r.Method == http.MethodPost {
					writeJSON(w, 202, `{"executionId":"exec-1"}`)
					return
				}
				stall(w, r, stop, 200, `{"queryStatus":"Complete","results":[{"requests":1},{"requests":2},`)
				if r.Context().Err() != nil {
					close(gone)
				}
			})
			res, err := loopbackClient(t, srv.URL, "").Run(ctx, anyQuery)
			if err != nil {
				t.Fatal(err)
			}
			returns(t, how, func() {
				if how == "Close" {
					res.Close()
					return
				}
				for _, err := range res.Rows() {
					if err != nil {
						t.Error(err)
					}
					break
				}
			})
			// The connection was closed: a drain still reading would keep it.
			returns(t, "the server's handler", func() { <-gone })
		})
	}
}

// Issue 10, item 2: a body read for an error or for the POST's answer ends
// with the retry policy's MaxElapsed, whatever the server trickles: in
// memory and in virtual time, so that the trickle never ends and is never
// idle, and the request's context tells what ended it.
func TestTricklingBodiesEndWithMaxElapsed(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		status     int
		header     http.Header
		posts      int
		check      func(t *testing.T, err error)
	}{
		{"error body", `{"message":"`, 500, nil, 1, func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != 500 {
				t.Errorf("err = %v, want the 500 as *APIError", err)
			}
		}},
		{"retried error body", `{"message":"`, 503, http.Header{"Retry-After": {"1"}}, 2, func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != 503 {
				t.Errorf("err = %v, want the 503 as *APIError", err)
			}
		}},
		{"POST answer", `{"executionId":"exec-`, 202, nil, 1, func(t *testing.T, err error) {
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, errBudget) {
				t.Errorf("err = %v, want a *DecodeError that the budget ended", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := &trickler{post: tc.head + trickleMark, status: tc.status, header: tc.header}
				c, err := New(WithBaseURLs(testAPI, ""), WithAccessToken("a-test-token"), WithNow(func() time.Time { return testToday }),
					WithHTTPClient(&http.Client{Transport: tr}),
					WithRetryPolicy(RetryPolicy{MaxElapsed: time.Minute, MaxAttempts: 2, MinDelay: time.Millisecond}))
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), time.Hour) // against a hang: the trickle never ends
				defer cancel()
				_, err = c.Start(ctx, anyQuery)
				tc.check(t, err)
				synctest.Wait() // the trickles have seen their request end
				ends := tr.endings()
				if len(ends) != tc.posts || !errors.Is(ends[len(ends)-1], errBudget) {
					t.Errorf("the trickles ended with %v; want %d POSTs, the last ended by MaxElapsed", ends, tc.posts)
				}
			})
		})
	}
}

// recorder is the target of a redirect: it must never be reached.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (rc *recorder) start(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.seen = append(rc.seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		rc.mu.Unlock()
		tokenOK(w, "stolen")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// anyHostToLoopback dials every host on 127.0.0.1, so that the names
// localhost and evil.localhost (a subdomain, to which Go forwards
// Authorization on a redirect) reach the test's servers.
func anyHostToLoopback() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
	}
	return &http.Client{Transport: tr}
}

// Issue 10, item 3: neither the Basic credentials nor the bearer token
// follow a redirect, to another port of the same host or to a subdomain;
// the error names the target's origin only.
func TestNoRedirectIsFollowed(t *testing.T) {
	for _, endpoint := range []string{"token", "API"} {
		for _, host := range []string{"127.0.0.1", "localhost"} {
			t.Run(endpoint+" "+host, func(t *testing.T) {
				var target recorder
				tsrv := target.start(t)
				_, port, _ := net.SplitHostPort(tsrv.Listener.Addr().String())
				targetHost := map[string]string{"127.0.0.1": "127.0.0.1", "localhost": "evil.localhost"}[host]
				loc := "http://user:UPASS@" + targetHost + ":" + port + "/steal?q=QSECRET"
				src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, loc, http.StatusTemporaryRedirect)
				}))
				defer src.Close()
				_, srcPort, _ := net.SplitHostPort(src.Listener.Addr().String())
				base := "http://" + host + ":" + srcPort
				creds := WithAccessToken("tok-secret-123")
				if endpoint == "token" {
					creds = WithClientCredentials("id", testSecret)
				}
				c, err := New(WithBaseURLs(base, base), creds, WithHTTPClient(anyHostToLoopback()))
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.Start(t.Context(), anyQuery)
				target.mu.Lock()
				defer target.mu.Unlock()
				if len(target.seen) != 0 {
					t.Errorf("the redirect target received %q", target.seen)
				}
				var ae *AuthError
				var api *APIError
				if endpoint == "token" && (!errors.As(err, &ae) || ae.StatusCode != 307) ||
					endpoint == "API" && (!errors.As(err, &api) || api.StatusCode != 307) {
					t.Fatalf("err = %v, want a 307 %s error", err, endpoint)
				}
				mustContain(t, err.Error(), "redirect to http://"+targetHost+":"+port+" ")
				for _, leak := range []string{"UPASS", "user", "steal", "QSECRET"} {
					if strings.Contains(err.Error(), leak) {
						t.Errorf("%q shows %q of the Location", err, leak)
					}
				}
			})
		}
	}
}

// Issue 10, item 3: a redirect loop is not transient: one request, no retry
// (the old client sent 55).
func TestRedirectLoopIsOneRequest(t *testing.T) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		http.Redirect(w, r, r.URL.String(), http.StatusFound)
	}))
	defer srv.Close()
	_, err := loopbackClient(t, srv.URL, "").Wait(t.Context(), "exec-1")
	var api *APIError
	if !errors.As(err, &api) || api.StatusCode != 302 {
		t.Fatalf("err = %v, want the 302 as *APIError", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

// Issue 10, item 4: a token server that echoes the request's Authorization
// and the secret itself gets neither into any error text.
func TestEchoedCredentialsAreRedacted(t *testing.T) {
	const id, secret = "my id", "s3cr3t/+&= x" // both change under QueryEscape
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		desc := fmt.Sprintf("you sent %s, that is %s or %s", r.Header.Get("Authorization"), secret, url.QueryEscape(secret))
		fmt.Fprintf(w, `{"error":"invalid_client %s","error_description":%q}`, secret, desc)
	}))
	defer srv.Close()
	c, err := New(WithBaseURLs(srv.URL, srv.URL), WithClientCredentials(id, secret))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Start(t.Context(), anyQuery)
	var ae *AuthError
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Fatalf("err = %v, want a 401 *AuthError", err)
	}
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
	mustContain(t, err.Error(), "you sent Basic REDACTED")
	for _, s := range []string{err.Error(), fmt.Sprintf("%v %+v", ae.Err, ae.Err), ae.Description, ae.Code} {
		for _, leak := range []string{secret, url.QueryEscape(secret), basic} {
			if strings.Contains(s, leak) {
				t.Errorf("%q shows %q", s, leak)
			}
		}
	}
}

// Issue 10, item 4: an API that echoes the bearer token gets it into
// neither the error text nor the kept body.
func TestEchoedTokenIsRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, fmt.Sprintf(`{"code":"bad","message":"header %s"}`, r.Header.Get("Authorization")))
	}))
	defer srv.Close()
	_, err := loopbackClient(t, srv.URL, "").Start(t.Context(), anyQuery)
	var api *APIError
	if !errors.As(err, &api) {
		t.Fatalf("err = %v, want *APIError", err)
	}
	mustContain(t, err.Error(), "header Bearer REDACTED")
	if strings.Contains(err.Error(), "tok-secret-123") || strings.Contains(string(api.Body), "tok-secret-123") {
		t.Errorf("the token shows in %q or in the body %q", err, api.Body)
	}
}
