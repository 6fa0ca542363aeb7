package client

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests of this file face servers that break HTTP on purpose, so that
// net/http's own errors quote what they sent: a header line, a status
// line, a trailer. A server that echoes the credentials there must not get
// them into any error, log record or retry event.

// rawAnswer writes answer on the connection of the request, as it is, and
// closes it: bytes that no http.ResponseWriter would send.
func rawAnswer(w http.ResponseWriter, answer string) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	buf.WriteString(answer)
	buf.Flush()
}

// echoed is what a hostile server can echo of the credentials of r: the
// bearer token, or the Basic value and the client secret in it.
func echoed(r *http.Request) (token, basic, secret string) {
	auth := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		return tok, "", ""
	}
	basic, _ = strings.CutPrefix(auth, "Basic ")
	pair, _ := base64.StdEncoding.DecodeString(basic)
	_, esc, _ := strings.Cut(string(pair), ":")
	secret, _ = url.QueryUnescape(esc)
	return "", basic, secret
}

// observed is everything a caller can see of a call: its error in every
// verb, the debug log and the retry events.
type observed struct {
	mu     sync.Mutex
	logs   bytes.Buffer
	events []string
}

func (o *observed) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.logs.Write(p)
}

func (o *observed) options() []Option {
	return []Option{
		WithLogger(slog.New(slog.NewTextHandler(o, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithRetryPolicy(RetryPolicy{OnRetry: func(e RetryEvent) {
			o.mu.Lock()
			defer o.mu.Unlock()
			o.events = append(o.events, fmt.Sprintf("%+v %v", e, e.Err))
		}}),
	}
}

// check fails the test if any of what o saw, or err, shows a secret in
// any form: as is, URL-escaped, or (for a client secret) in a Basic value.
func (o *observed) check(t *testing.T, err error, secrets ...string) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	shown := map[string]string{"err.Error()": err.Error(), "%v": fmt.Sprintf("%v", err), "%+v": fmt.Sprintf("%+v", err),
		"the log": o.logs.String(), "the retry events": strings.Join(o.events, "\n")}
	// What errors.As finds prints itself too.
	var ae *AuthError
	if errors.As(err, &ae) && ae.Err != nil {
		shown["the AuthError's cause"] = fmt.Sprintf("%v %+v", ae.Err, ae.Err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		shown["the *url.Error"] = ue.Error()
	}
	var pe textproto.ProtocolError
	if errors.As(err, &pe) {
		shown["the textproto.ProtocolError"] = pe.Error()
	}
	for what, s := range shown {
		for _, secret := range secrets {
			if secret == "" {
				continue
			}
			forms := []string{secret}
			for _, f := range []string{url.QueryEscape(secret), strings.Trim(strconv.Quote(secret), `"`)} {
				if f != secret {
					forms = append(forms, f)
				}
			}
			for _, pair := range []string{"id:" + secret, "id:" + url.QueryEscape(secret)} {
				forms = append(forms, base64.RawStdEncoding.EncodeToString([]byte(pair)))
			}
			for _, f := range forms {
				if strings.Contains(s, f) {
					t.Errorf("%s shows %q: %s", what, f, s)
				}
			}
		}
	}
}

// Audit item 1: a malformed header or status line that quotes the bearer
// token got it into the error of every API call (net/http's text, inside
// the *url.Error), and into the debug log; so did a trailer of the rows,
// and a URL whose cursor the server chose.
func TestTransportErrorsShowNoToken(t *testing.T) {
	const token = "tok-secret-123"
	malformedHeader := func(w http.ResponseWriter, r *http.Request) {
		tok, _, _ := echoed(r)
		rawAnswer(w, "HTTP/1.1 500 Oops\r\nININ-Correlation-Id: "+tok+"\x1bb\r\nContent-Length: 0\r\n\r\n")
	}
	statusLine := func(w http.ResponseWriter, r *http.Request) {
		tok, _, _ := echoed(r)
		rawAnswer(w, tok+" 200 OK\r\nContent-Length: 0\r\n\r\n")
	}
	for _, tc := range []struct {
		name string
		api  func(w http.ResponseWriter, r *http.Request)
		call func(t *testing.T, c *Client) error
		says string // what the error must still say
		// requests is how many the server gets: one, as an answer that
		// breaks HTTP is not retried, but where said.
		requests int
	}{
		{"start, malformed header", malformedHeader, start, "malformed MIME header line", 1},
		{"start, status line", statusLine, start, "malformed HTTP version", 1},
		{"poll, malformed header", malformedHeader, poll, "malformed MIME header line", 1},
		{"poll, status line", statusLine, poll, "malformed HTTP version", 1},
		{"job start, malformed header", malformedHeader, func(t *testing.T, c *Client) error {
			_, err := c.StartJob(t.Context(), JobQuery{Interval: "2024-01-01/2024-01-07"})
			return err
		}, "malformed MIME header line", 1},
		{"rows, malformed trailer", func(w http.ResponseWriter, r *http.Request) {
			tok, _, _ := echoed(r)
			// Longer than the decoder's buffer, so that the trailer
			// breaks the rows, not the look at their start.
			body := `{"results":[` + strings.Repeat(`{"requests":1},`, 10000) + `{"requests":1}],"queryStatus":"Complete"}`
			rawAnswer(w, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\nX-Echo: %s\x1b\r\n\r\n", len(body), body, tok))
		}, func(t *testing.T, c *Client) error {
			res, err := c.Wait(t.Context(), "exec-1")
			if err != nil {
				return err
			}
			_, err = res.All()
			return err
		}, "malformed MIME header line", 1},
		{"search cursor in the URL", func(w http.ResponseWriter, r *http.Request) {
			tok, _, _ := echoed(r)
			if r.URL.Query().Get("after") == "" {
				writeJSON(w, 200, `{"queryStatus":"Complete","results":[{"requests":1}],"cursors":{"after":"`+tok+`"}}`)
				return
			}
			rawAnswer(w, "HTTP/1.1 abc OK\r\n\r\n")
		}, func(t *testing.T, c *Client) error {
			res, err := c.SearchExecution("exec-1", 0).Wait(t.Context())
			if err != nil {
				return err
			}
			_, err = res.All()
			return err
		}, "malformed HTTP status code", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			srv, _ := hostile(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				mu.Lock()
				n++
				mu.Unlock()
				tc.api(w, r)
			})
			var o observed
			c := loopbackClient(t, srv.URL, "", append(o.options(), WithNow(func() time.Time { return testToday }))...)
			err := tc.call(t, c)
			if err == nil {
				t.Fatal("no error")
			}
			o.check(t, err, token)
			mustContain(t, err.Error(), tc.says, "REDACTED")
			if !strings.Contains(tc.name, "trailer") { // the body's error comes after the attempt's record
				mustContain(t, o.logs.String(), "REDACTED")
			}
			mu.Lock()
			defer mu.Unlock()
			if n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
		})
	}
}

func start(t *testing.T, c *Client) error {
	_, err := c.Start(t.Context(), anyQuery)
	return err
}

func poll(t *testing.T, c *Client) error {
	_, err := c.Execution("exec-1").Poll(t.Context())
	return err
}

// Audit item 1: the token endpoint's malformed answer quoted the client
// secret or the Basic value in the *AuthError and the log.
func TestTokenTransportErrorsShowNoSecret(t *testing.T) {
	const id = "id"
	for _, tc := range []struct {
		name   string
		answer func(basic, secret string) string
		says   string
		secret string // default SuperSecretValue99
	}{
		{"header echoing the secret", func(_, secret string) string {
			return "HTTP/1.1 500 Oops\r\nX-A: " + secret + "\x1b\r\n\r\n"
		}, "malformed MIME header line", ""},
		{"header echoing the Basic value", func(basic, _ string) string {
			return "HTTP/1.1 500 Oops\r\nX-A: Basic " + basic + "\x1b\r\n\r\n"
		}, "malformed MIME header line", ""},
		{"status line", func(_, secret string) string {
			return secret + " 200 OK\r\n\r\n"
		}, "malformed HTTP version", ""},
		{"reason phrase", func(_, secret string) string {
			return "HTTP/1.1 401 " + secret + "\r\nContent-Length: 0\r\n\r\n"
		}, "401 Unauthorized", ""},
		// net/http quotes the line it refuses: " and \ come escaped.
		{"status line, a secret with quotes", func(_, secret string) string {
			return secret + " 200 OK\r\n\r\n"
		}, "malformed HTTP version", `Super"Secret\Value99`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := cmp.Or(tc.secret, "SuperSecretValue99")
			srv, _ := hostile(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				_, basic, sent := echoed(r)
				rawAnswer(w, tc.answer(basic, sent))
			})
			var o observed
			c, err := New(append(o.options(), WithBaseURLs(srv.URL, srv.URL), WithClientCredentials(id, secret))...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Start(t.Context(), anyQuery)
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *AuthError", err)
			}
			o.check(t, err, secret)
			mustContain(t, err.Error(), tc.says)
		})
	}
}

// Audit item 2: the debug log showed the correlation id as the server sent
// it: the bearer token or the client secret when echoed there, a C1
// control character, and any length (up to net/http's 10 MB a header).
func TestLoggedCorrelationIDIsRedactedCutAndEscaped(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name string
		opts func(f *fake) []Option
	}{
		{"API", func(f *fake) []Option {
			f.api = func(w http.ResponseWriter, r *http.Request) {
				tok, _, _ := echoed(r)
				w.Header().Set("ININ-Correlation-Id", tok+"\u009b31m"+long)
				w.WriteHeader(400)
			}
			return []Option{WithBaseURLs(testAPI, ""), WithAccessToken(escapedToken)}
		}},
		{"token", func(f *fake) []Option {
			f.token = func(_ int, w http.ResponseWriter) {
				w.Header().Set("ININ-Correlation-Id", testSecret+"\u009b31m"+long)
				w.WriteHeader(401)
			}
			return []Option{WithBaseURLs(testAPI, testLogin), WithClientCredentials("id", testSecret)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{}
			var o observed
			opts := append(tc.opts(f), WithNow(func() time.Time { return testToday }), WithHTTPClient(&http.Client{Transport: f}))
			c, err := New(append(opts, o.options()...)...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Start(t.Context(), anyQuery)
			if err == nil {
				t.Fatal("no error")
			}
			o.check(t, err, escapedToken, testSecret)
			logs := o.logs.String()
			mustContain(t, logs, "correlation_id=", `REDACTED\u009b31mxxx`)
			if strings.Contains(logs, "\u009b") || len(logs) > 4<<10 {
				t.Errorf("the log holds the C1 byte or is %d bytes long: %.300q", len(logs), logs)
			}
		})
	}
}

// Audit item 1: after a 401 the request goes again with a fresh token; the
// server saw both, and may echo the first in its answer to the second.
func TestTransportErrorAfterA401ShowsNeitherToken(t *testing.T) {
	var mu sync.Mutex
	tokens, first := 0, ""
	srv, _ := hostile(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/oauth/token" {
			tokens++
			tokenOK(w, fmt.Sprintf("token-number-%d", tokens))
			return
		}
		tok, _, _ := echoed(r)
		if first == "" {
			first = tok
			writeJSON(w, 401, `{"code":"bad.credentials"}`)
			return
		}
		rawAnswer(w, "HTTP/1.1 500 Oops\r\nX-A: "+first+" "+tok+"\x1b\r\n\r\n")
	})
	var o observed
	c, err := New(append(o.options(), WithBaseURLs(srv.URL, srv.URL), WithClientCredentials("id", testSecret))...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Execution("exec-1").Poll(t.Context())
	if err == nil {
		t.Fatal("no error")
	}
	o.check(t, err, "token-number-1", "token-number-2")
	mustContain(t, err.Error(), "malformed MIME header line", "REDACTED REDACTED")
}
