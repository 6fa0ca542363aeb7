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
	"time"
)

// The tests of this file face a hostile server over a loopback socket, so
// that net/http's own reading, closing and redirecting is what is tested.
// They bound real time generously: a fixed client returns in milliseconds,
// the old one took minutes.

// hostile starts a loopback server. Its cleanup first ends the returned
// context and releases the handlers, so that a client still blocked on a
// trickle (a failed test) lets go before the server waits for them.
func hostile(t *testing.T, h func(w http.ResponseWriter, r *http.Request, stop <-chan struct{})) (*httptest.Server, context.Context) {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r, stop) }))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { cancel(); close(stop) })
	return srv, ctx
}

// trickle sends head, then a space every few milliseconds until the client
// goes away: an answer that never ends, yet is never idle.
func trickle(w http.ResponseWriter, r *http.Request, stop <-chan struct{}, status int, head string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, head)
	for {
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
		if _, err := io.WriteString(w, " "); err != nil {
			return
		}
	}
}

// within runs f and fails the test unless it returns within d. A client
// that hangs is given 10 s more before the test gives up on it.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); f() }()
	select {
	case <-done:
		if took := time.Since(start); took > d {
			t.Errorf("%s took %v, want at most %v", what, took, d)
		}
	case <-time.After(d + 10*time.Second):
		t.Fatalf("%s still blocked after %v", what, d+10*time.Second)
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
// answer that trickles; the drain before close has a small time budget.
func TestCloseAndBreakDoNotWaitForATrickle(t *testing.T) {
	for _, how := range []string{"Close", "break"} {
		t.Run(how, func(t *testing.T) {
			srv, ctx := hostile(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
				if r.Method == http.MethodPost {
					writeJSON(w, 202, `{"executionId":"exec-1"}`)
					return
				}
				trickle(w, r, stop, 200, `{"queryStatus":"Complete","results":[{"requests":1},{"requests":2},`)
			})
			res, err := loopbackClient(t, srv.URL, "").Run(ctx, anyQuery)
			if err != nil {
				t.Fatal(err)
			}
			within(t, time.Second, how, func() {
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
		})
	}
}

// Issue 10, item 2: a body read for an error or for the POST's answer ends
// with the retry policy's MaxElapsed, whatever the server trickles.
func TestTricklingBodiesEndWithMaxElapsed(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		status     int
		check      func(t *testing.T, err error)
	}{
		{"error body", `{"message":"`, 500, func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != 500 {
				t.Errorf("err = %v, want the 500 as *APIError", err)
			}
		}},
		{"retried error body", `{"message":"`, 503, func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != 503 {
				t.Errorf("err = %v, want the 503 as *APIError", err)
			}
		}},
		{"POST answer", `{"executionId":"exec-`, 202, func(t *testing.T, err error) {
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, errBudget) {
				t.Errorf("err = %v, want a *DecodeError that the budget ended", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, ctx := hostile(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
				trickle(w, r, stop, tc.status, tc.head)
			})
			c := loopbackClient(t, srv.URL, "", WithRetryPolicy(RetryPolicy{MaxElapsed: 300 * time.Millisecond, MaxAttempts: 2, MinDelay: time.Millisecond}))
			within(t, 2*time.Second, "Start", func() {
				_, err := c.Start(ctx, anyQuery)
				tc.check(t, err)
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
