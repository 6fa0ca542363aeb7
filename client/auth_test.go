package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"
)

// When the token cannot be renewed after a 401, the caller learns why the
// renewal failed, not merely that the old token was refused.
func TestUnauthorizedWithFailedRenewalIsAnAuthError(t *testing.T) {
	f := &fake{
		api: func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, `{"code":"authentication.required","message":"revoked"}`)
		},
		token: func(n int, w http.ResponseWriter) {
			if n == 1 {
				tokenOK(w, "tok-1")
				return
			}
			writeJSON(w, 401, `{"error":"invalid_client","error_description":"client disabled"}`)
		},
	}
	_, err := newTestClient(t, f).Start(t.Context(), anyQuery)
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Code != "invalid_client" {
		t.Fatalf("want the renewal's *AuthError, got %v", err)
	}
	if n := len(f.apiCalls()); n != 1 {
		t.Fatalf("%d API calls, want 1: a failed renewal is not retried", n)
	}
}

// A caller's token source that hangs is asked once, not once per request:
// the requests that give up meanwhile leave nothing behind.
func TestHungTokenSourceIsAskedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &hungSource{release: make(chan struct{})}
		c, err := New(WithBaseURLs(testAPI, ""), WithTokenSource(src), WithNow(func() time.Time { return testToday }), WithHTTPClient(&http.Client{Transport: &fake{}}))
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
			if _, err := c.Start(ctx, anyQuery); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("want DeadlineExceeded, got %v", err)
			}
			cancel()
		}
		if n := src.calls.Load(); n != 1 {
			t.Errorf("the hung source was asked %d times, want once", n)
		}
		close(src.release)
	})
}

type hungSource struct {
	calls   atomic.Int32
	release chan struct{}
}

func (s *hungSource) Token() (*oauth2.Token, error) {
	s.calls.Add(1)
	<-s.release
	return nil, errors.New("released")
}

func TestUnauthorizedRenewsTokenOnce(t *testing.T) {
	next := started(`{}`)
	f := &fake{api: func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-2" {
			writeJSON(w, 401, `{"code":"authentication.required","message":"expired"}`)
			return
		}
		next(w, r)
	}}
	c := newTestClient(t, f)
	e, err := c.Start(t.Context(), anyQuery)
	if err != nil || e.ID != "exec-1" {
		t.Fatalf("Start = %v, %v; want success with the renewed token", e, err)
	}
	want := []string{"POST /api/v2/usage/query Bearer tok-1", "POST /api/v2/usage/query Bearer tok-2"}
	if got := f.apiCalls(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("API calls = %q, want %q", got, want)
	}
	if f.tokenCalls() != 2 {
		t.Fatalf("token requests = %d, want 2", f.tokenCalls())
	}
}

func TestUnauthorizedWithStaticTokenIsAnAPIError(t *testing.T) {
	f := &fake{api: func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, `{"code":"bad.credentials","message":"Invalid login credentials."}`)
	}}
	c, _ := New(WithBaseURLs(testAPI, testLogin), WithAccessToken("static-token-value"), WithHTTPClient(&http.Client{Transport: f}))
	_, err := c.Start(t.Context(), anyQuery)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 401 || ae.Code != "bad.credentials" {
		t.Fatalf("err = %v, want 401 *APIError", err)
	}
	if n := len(f.apiCalls()); n != 1 || f.tokenCalls() != 0 {
		t.Fatalf("%d API calls and %d token calls, want 1 and 0", n, f.tokenCalls())
	}
	if strings.Contains(err.Error(), "static-token-value") {
		t.Fatalf("error shows the token: %v", err)
	}
}

func TestTokenEndpointRateLimitIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"400 rate limit exceeded", 400, `{"error":"invalid_request","error_description":"Rate limit exceeded the maximum [300] requests within [60] seconds"}`},
		{"429", 429, `{"error":"too_many_requests"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fake{api: started(`{}`)}
				f.token = func(n int, w http.ResponseWriter) {
					if n <= 2 {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(tc.status)
						fmt.Fprint(w, tc.body)
						return
					}
					tokenOK(w, "tok-ok")
				}
				c := newTestClient(t, f)
				if _, err := c.Start(t.Context(), anyQuery); err != nil {
					t.Fatal(err)
				}
				if f.tokenCalls() != 3 {
					t.Fatalf("token requests = %d, want 3", f.tokenCalls())
				}
			})
		})
	}
}

func TestTokenFailureIsAnAuthErrorWithoutSecret(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{api: started(`{}`)}
		f.token = func(n int, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			// A hostile or buggy server echoing the credentials must not get them into our errors.
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"bad client","echo":%q}`, testSecret)
		}
		c := newTestClient(t, f)
		_, err := c.Start(t.Context(), anyQuery)
		var ae *AuthError
		if !errors.As(err, &ae) || ae.StatusCode != 401 || ae.Code != "invalid_client" {
			t.Fatalf("err = %v, want *AuthError 401 invalid_client", err)
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%v %+v", err, err)} {
			if strings.Contains(s, testSecret) || strings.Contains(s, "\n") {
				t.Fatalf("error text leaks the secret or spans lines: %s", s)
			}
		}
		if f.tokenCalls() != 1 || len(f.apiCalls()) != 0 {
			t.Fatalf("token calls %d, API calls %d; want 1 and 0: bad credentials are not retried", f.tokenCalls(), len(f.apiCalls()))
		}
	})
}

func TestTokenOnlyForAPIOrigin(t *testing.T) {
	var got []string
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.URL.String()+" "+r.Header.Get("Authorization"))
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	origin, _ := url.Parse(testAPI + "/prefix")
	a := &authTransport{base: base, origin: origin, tokens: newTokens(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "T"}), nil), ua: "ua"}
	for _, u := range []string{testAPI + "/x", "http://127.0.0.1:7999/x", "https://127.0.0.1:7001/x"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer smuggled")
		if _, err := a.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{testAPI + "/x Bearer T", "http://127.0.0.1:7999/x ", "https://127.0.0.1:7001/x "}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sent %q, want %q", got, want)
	}
}

func TestForeignResultsURIIsNotFollowed(t *testing.T) {
	f := &fake{}
	f.api = func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			writeJSON(w, 202, `{"executionId":"exec-1","resultsUri":"http://127.0.0.1:7999/steal/results"}`)
			return
		}
		writeJSON(w, 200, `{"queryStatus":"Complete","results":[{"requests":1}]}`)
	}
	c := newTestClient(t, f)
	res, err := c.Run(t.Context(), anyQuery)
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := res.All(); err != nil || len(rows) != 1 {
		t.Fatalf("rows %v, %v", rows, err)
	}
	for _, call := range f.apiCalls() {
		if !strings.HasPrefix(call, "POST /api/v2/usage/query ") && !strings.HasPrefix(call, "GET /api/v2/usage/query/exec-1/results ") {
			t.Fatalf("unexpected request %q", call)
		}
	}
}

func TestSecretsNeverShown(t *testing.T) {
	var logs bytes.Buffer
	f := &fake{api: started(`{"queryStatus":"Complete","results":[{"date":"bad"}]}`)}
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestClient(t, f, WithLogger(log))
	res, err := c.Run(t.Context(), anyQuery)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := res.All(); err != nil {
		t.Fatal(err)
	}
	log.Info("client", "c", c)
	cfg := &config{secret: testSecret, static: "tok-static"}
	shown := fmt.Sprintf("%v %+v %#v %v %+v %#v %s", c, c, c, *c, cfg, cfg, logs.String())
	for _, secret := range []string{testSecret, "tok-1", "tok-static"} {
		if strings.Contains(shown, secret) {
			t.Fatalf("%q shown in: %s", secret, shown)
		}
	}
	// The debug log has one record per attempt with what an operator needs.
	mustContain(t, logs.String(), "method=POST", "path=/api/v2/usage/query", "status=202", "attempt=1", "correlation_id=corr-1", "duration=")
	// Token requests are logged too, so that a slow or rate-limited login
	// host is visible.
	mustContain(t, logs.String(), "path=/oauth/token attempt=1 duration=")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Issue 10, item 8: a token that lives a minute or less is still reused:
// renewed halfway through its life, and never sooner than minTokenReuse
// after it came, rather than fetched for every request.
func TestShortLivedTokensBoundTheFetchRate(t *testing.T) {
	for _, tc := range []struct {
		expiresIn, maxFetches int
	}{
		{60, 5},  // renewed every 30 s over two minutes
		{1, 25},  // renewed every minTokenReuse
		{600, 1}, // renewed 60 s before it expires
	} {
		t.Run(fmt.Sprint(tc.expiresIn), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fake{api: started(`{}`)}
				f.token = func(n int, w http.ResponseWriter) {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"bearer","expires_in":%d}`, n, tc.expiresIn)
				}
				c := newTestClient(t, f)
				for range 1200 { // a request every 100 ms for two minutes
					if _, err := c.Start(t.Context(), anyQuery); err != nil {
						t.Fatal(err)
					}
					time.Sleep(100 * time.Millisecond)
				}
				if n := f.tokenCalls(); n > tc.maxFetches {
					t.Errorf("%d token requests for 1200 API requests, want at most %d", n, tc.maxFetches)
				}
			})
		})
	}
}

// Issue 11, item 4: when the caller's deadline ends while token requests
// are retried, the error says what they met.
func TestDeadlineWhileTokenRetriesKeepsTheCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{api: started(`{}`)}
		f.token = func(n int, w http.ResponseWriter) {
			w.Header().Set("Retry-After", "2")
			writeJSON(w, 503, `{"error":"temporarily_unavailable"}`)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := newTestClient(t, f).Start(ctx, anyQuery)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		mustContain(t, err.Error(), "context deadline exceeded; last error: token request failed: 503 Service Unavailable: temporarily_unavailable")
		time.Sleep(tokenBudget) // the fetch goes on for later callers, until its budget is spent
	})
}

// Issue 11, item 12: the README's figures for token retries are what the
// code does: 6 attempts, at most 44 s of waiting, about 22 s on average.
func TestTokenRetriesMatchTheREADME(t *testing.T) {
	const runs = 50
	var total time.Duration
	for range runs {
		synctest.Test(t, func(t *testing.T) {
			f := &fake{api: started(`{}`)}
			f.token = func(n int, w http.ResponseWriter) { writeJSON(w, 503, `{}`) }
			start := time.Now()
			if _, err := newTestClient(t, f).Start(t.Context(), anyQuery); err == nil {
				t.Fatal("Start succeeded without a token")
			}
			took := time.Since(start)
			if n := f.tokenCalls(); n != 6 || took > 44*time.Second {
				t.Errorf("%d token requests in %v, want 6 within 44s", n, took)
			}
			total += took
		})
	}
	if mean := total / runs; mean < 15*time.Second || mean > 30*time.Second {
		t.Errorf("mean time to give up %v, want about 22s", mean)
	}
}
