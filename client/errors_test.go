package client

import (
	"errors"
	"fmt"
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
