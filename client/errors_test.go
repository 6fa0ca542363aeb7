package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAPIErrorFromAnswers(t *testing.T) {
	html := "<html>\n<head><title>502 Bad Gateway</title></head>\n<body><center><h1>502 Bad Gateway</h1></center></body></html>"
	for _, tc := range []struct {
		name, ctype, body, want string
		code, corr              string
	}{
		{"genesys json", "application/json",
			`{"message":"Invalid value for groupBy: 'OauthClientId'","code":"invalid.value","status":400,"contextId":"ctx-9","details":[{"errorCode":"invalid.value","fieldName":"groupBy"}]}`,
			"gcusage: POST /api/v2/usage/query: 400 Bad Request: invalid.value: Invalid value for groupBy: 'OauthClientId' (correlation id ctx-9)",
			"invalid.value", "ctx-9"},
		{"html proxy page", "text/html", html,
			"gcusage: POST /api/v2/usage/query: 400 Bad Request: 502 Bad Gateway", "", ""},
		{"no body", "", "", "gcusage: POST /api/v2/usage/query: 400 Bad Request", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{api: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(400)
				w.Write([]byte(tc.body))
			}}
			_, err := newTestClient(t, f).Start(t.Context(), anyQuery)
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if err.Error() != tc.want || strings.Contains(err.Error(), "\n") {
				t.Errorf("text = %q\nwant   %q", err.Error(), tc.want)
			}
			if ae.StatusCode != 400 || ae.Code != tc.code || ae.CorrelationID != tc.corr || string(ae.Body) != tc.body || ae.Method != "POST" {
				t.Errorf("fields = %+v", ae)
			}
			if tc.code != "" && (len(ae.Details) != 1 || *ae.Details[0].FieldName != "groupBy") {
				t.Errorf("details = %+v", ae.Details)
			}
		})
	}
}

func TestCorrelationHeaderWins(t *testing.T) {
	f := &fake{api: func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 403, `{"code":"missing.permissions","message":"Missing usage:organization:view","contextId":"from-body"}`)
	}}
	_, err := newTestClient(t, f).Start(t.Context(), anyQuery)
	var ae *APIError
	if !errors.As(err, &ae) || ae.CorrelationID != "corr-1" {
		t.Fatalf("err = %v, want correlation id from ININ-Correlation-Id", err)
	}
}

func TestLongBodyIsCutToOneLine(t *testing.T) {
	body := strings.Repeat("é oops\n", 200)
	f := &fake{api: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502); w.Write([]byte(body)) }}
	_, err := newTestClient(t, f, WithRetryPolicy(RetryPolicy{MaxAttempts: 1})).Start(t.Context(), anyQuery)
	if err == nil || len(err.Error()) > 250 || strings.Contains(err.Error(), "\n") || !strings.HasSuffix(err.Error(), "…") {
		t.Fatalf("err = %q", err)
	}
}

func TestAnswerWithoutRequestField(t *testing.T) {
	tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 404, Header: http.Header{}, Body: http.NoBody}, nil
	})
	c, _ := New(WithBaseURLs(testAPI, testLogin), WithAccessToken("t"), WithHTTPClient(&http.Client{Transport: tr}))
	_, err := c.Wait(t.Context(), "x")
	mustContain(t, fmt.Sprint(err), "GET /api/v2/usage/query/x/results: 404 Not Found")
}

// Issue 10, item 8: a 10 MB value makes no 20 MB error: every quoted value
// is cut, in every error type of the client, and no control character of a
// server's text reaches the error (ESC would drive a terminal).
func TestErrorsCutLongValues(t *testing.T) {
	huge := strings.Repeat("\x1b]0;x\a", 2<<20) // 10 MB
	_, cfgErr := New(WithRegion(huge), WithAccessToken("t"))
	for _, err := range []error{
		&ValidationError{Field: "interval", Value: huge, Reason: "not an interval"},
		&APIError{Method: "GET", Path: huge, StatusCode: 400, Code: huge, Message: huge, CorrelationID: huge},
		&RateLimitError{APIError: &APIError{Method: "GET", Path: huge, StatusCode: 429, Message: huge}},
		&ExecutionError{ExecutionID: huge, Err: errors.New("x")},
		&DecodeError{Method: "GET", Path: huge, Row: 3, Err: errors.New(huge)},
		&AuthError{StatusCode: 400, Code: huge, Description: huge},
		&AuthError{Err: errors.New(huge)},
		cfgErr,
	} {
		s := err.Error()
		if len(s) > 2000 || strings.ContainsAny(s, "\x1b\a") {
			t.Errorf("%T: %d bytes, control characters %v: %.80q", err, len(s), strings.ContainsAny(s, "\x1b\a"), s)
		}
	}
}

// Issue 11, item 6: a decode error reads like a person wrote it; the
// decoder's words stay reachable.
func TestDecodeErrorText(t *testing.T) {
	var syntax error = &json.SyntaxError{}
	for _, tc := range []struct {
		err  *DecodeError
		want string
	}{
		{&DecodeError{Method: "GET", Path: "/p", Row: 47, Err: fmt.Errorf("skip: object: str: %w", io.ErrUnexpectedEOF)},
			"gcusage: GET /p: the answer was cut short in row 47"},
		{&DecodeError{Method: "POST", Path: "/p", Err: io.EOF}, "gcusage: POST /p: the answer was cut short"},
		{&DecodeError{Row: 2, Err: fmt.Errorf("row: %w", syntax)}, "gcusage: row 2 is not valid JSON ("},
		{&DecodeError{Row: 2, Err: errors.New(`unexpected byte 34 '"' at 7`)}, "gcusage: row 2 is not valid JSON or not a usage row ("},
		{&DecodeError{Err: errors.New("no executionId")}, "gcusage: the answer could not be read: no executionId"},
	} {
		if s := tc.err.Error(); !strings.HasPrefix(s, tc.want) {
			t.Errorf("%q\nwant %q…", s, tc.want)
		}
		if errors.Unwrap(tc.err) != tc.err.Err {
			t.Errorf("%v: the decoder's error is not reachable", tc.err)
		}
	}
}

// Issue 11, item 7: a proxy's HTML page is summarised by its title, once.
func TestHTMLPageIsSummarisedOnce(t *testing.T) {
	page := "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	f := &fake{api: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(503)
		io.WriteString(w, page)
	}}
	_, err := newTestClient(t, f, WithRetryPolicy(RetryPolicy{MaxAttempts: 1})).Start(t.Context(), anyQuery)
	want := "gcusage: POST /api/v2/usage/query: 503 Service Unavailable: 503 Service Temporarily Unavailable"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
}
