package client

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// escapedToken is a bearer token with the characters JSON may escape.
const escapedToken = "tok/secret+123="

// jsonEscaped writes every byte of s as \u00XX and every / as \/, as a
// server may echo it: redaction of the raw body alone missed both.
func jsonEscaped(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			b.WriteString(`\/`)
			continue
		}
		fmt.Fprintf(&b, `\u%04x`, s[i])
	}
	return b.String()
}

// showsSecret says whether s holds secret in any form this test knows of:
// as is, JSON-escaped (decoded by a JSON reader), or URL-escaped.
func showsSecret(s, secret string) bool {
	var v any
	if json.Unmarshal([]byte(s), &v) == nil {
		if b, _ := json.Marshal(v); bytes.Contains(b, []byte(secret)) {
			return true
		}
		var str string
		if json.Unmarshal([]byte(s), &str) == nil && strings.Contains(str, secret) {
			return true
		}
	}
	return strings.Contains(s, secret) || strings.Contains(s, url.QueryEscape(secret)) ||
		strings.Contains(s, `\u0074ok`) || strings.Contains(s, `tok\/`)
}

func tokenClient(t *testing.T, api http.HandlerFunc, opts ...Option) *Client {
	t.Helper()
	c, err := New(append([]Option{WithBaseURLs(testAPI, ""), WithAccessToken(escapedToken), WithNow(func() time.Time { return testToday }),
		WithHTTPClient(&http.Client{Transport: &fake{api: api}})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Issue 16, item 4: an API error that echoes the token JSON-escaped
// (\u0074ok…, tok\/…) showed it, since redaction ran on the raw body only.
// The decoded text is redacted too, every field of it, and the body kept
// in the *APIError cannot show it in any escaped form.
func TestEscapedTokenEchoIsRedacted(t *testing.T) {
	esc := jsonEscaped(escapedToken)
	body := `{"code":"` + esc + `","message":"you sent ` + esc + `","contextId":"c-` + esc + `",` +
		`"details":[{"errorCode":"` + esc + `","fieldName":"f","entityId":"` + esc + `","entityName":"n"}],"` + esc + `":1}`
	c := tokenClient(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 400, body) })
	_, err := c.Start(t.Context(), anyQuery)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 {
		t.Fatalf("err = %v, want a 400 *APIError", err)
	}
	mustContain(t, err.Error(), "you sent REDACTED")
	shown := []string{err.Error(), ae.Code, ae.Message, ae.CorrelationID, string(ae.Body), fmt.Sprintf("%+v", ae.Details)}
	for _, s := range shown {
		if showsSecret(s, escapedToken) {
			t.Errorf("%q shows the token", s)
		}
	}
	if !json.Valid(ae.Body) {
		t.Errorf("the kept body %q is no longer JSON", ae.Body)
	}
}

// Issue 16, item 4: a body with no secret is kept exactly as it came.
func TestCleanErrorBodyIsKeptExactly(t *testing.T) {
	const body = `{"message":"x \u00e9 \/ y","code":"bad.request","b":1.50}`
	c := tokenClient(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 400, body) })
	_, err := c.Start(t.Context(), anyQuery)
	var ae *APIError
	if !errors.As(err, &ae) || string(ae.Body) != body {
		t.Fatalf("err = %v, body %q; want the body as sent", err, ae.Body)
	}
}

// Issue 16, item 4: a queryStatus holding the token printed it in the
// unknown-status error, for queries and for jobs; an HTML page that spells
// it with entities, a nextUri or an id that carries it do the same.
func TestServerTextNeverShowsTheToken(t *testing.T) {
	esc := jsonEscaped(escapedToken)
	for _, tc := range []struct {
		name string
		api  http.HandlerFunc
		run  func(c *Client) error
	}{
		{"query status", started(`{"queryStatus":"` + esc + `"}`), func(c *Client) error {
			_, err := c.Run(t.Context(), anyQuery)
			return err
		}},
		{"query status after the rows", started(`{"results":[{"requests":1}],"queryStatus":"` + esc + `"}`), func(c *Client) error {
			res, err := c.Run(t.Context(), anyQuery)
			if err != nil {
				return err
			}
			_, err = res.All()
			return err
		}},
		{"job status", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, `{"queryStatus":"`+esc+`"}`)
		}, func(c *Client) error {
			_, err := c.Job("", "j1").Wait(t.Context())
			return err
		}},
		{"job errorBody", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, `{"queryStatus":"Failed","errorBody":{"code":"`+esc+`","message":"`+esc+`","messageWithParams":"`+esc+`","messageParams":{"k":"`+esc+`"},"errors":[{"message":"`+esc+`"}]}}`)
		}, func(c *Client) error {
			_, err := c.Job("", "j1").Wait(t.Context())
			var ee *ExecutionError
			if errors.As(err, &ee) && ee.ErrorBody != nil {
				b, _ := json.Marshal(ee.ErrorBody)
				return fmt.Errorf("%w %s", err, b)
			}
			return err
		}},
		{"job nextUri", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, `{"queryStatus":"Succeeded","entities":[{}],"nextUri":"http://evil.example/?t=`+escapedToken+`"}`)
		}, func(c *Client) error {
			_, err := c.Job("", "j1").Wait(t.Context())
			return err
		}},
		{"execution id", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 202, `{"executionId":"x`+esc+`"}`)
		}, func(c *Client) error {
			_, err := c.Start(t.Context(), anyQuery)
			return err
		}},
		{"job id", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 202, `{"id":"`+esc+`"}`)
		}, func(c *Client) error {
			_, err := c.StartJob(t.Context(), JobQuery{Interval: "2024-01-01/2024-01-07"})
			return err
		}},
		{"HTML entities", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			fmt.Fprintf(w, "<html><title>&#116;ok&#x2F;secret&#43;123&#61;</title><p>&#116;ok&#x2F;secret&#43;123&#61;</p></html>")
		}, func(c *Client) error {
			_, err := c.Start(t.Context(), anyQuery)
			var ae *APIError
			if errors.As(err, &ae) {
				return fmt.Errorf("%w %s", err, html.UnescapeString(string(ae.Body)))
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			c := tokenClient(t, tc.api, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			err := tc.run(c)
			if err == nil {
				t.Fatal("no error")
			}
			var ee *ExecutionError
			if errors.As(err, &ee) && showsSecret(ee.Status, escapedToken) {
				t.Errorf("Status %q shows the token", ee.Status)
			}
			if showsSecret(err.Error(), escapedToken) || showsSecret(logs.String(), escapedToken) {
				t.Errorf("%q (logs %q) shows the token", err, logs.String())
			}
			mustContain(t, err.Error(), "REDACTED")
		})
	}
}

// Issue 16, item 4: an odd date that echoes the token is logged redacted.
func TestOddDateLogShowsNoToken(t *testing.T) {
	var logs bytes.Buffer
	c := tokenClient(t, started(`{"queryStatus":"Complete","results":[{"date":"`+jsonEscaped(escapedToken)+`"},{"date":{"t":"`+escapedToken+`"}}]}`),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	res, err := c.Run(t.Context(), anyQuery)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := res.All(); err != nil {
		t.Fatal(err)
	}
	mustContain(t, logs.String(), "REDACTED")
	if showsSecret(logs.String(), escapedToken) {
		t.Errorf("the log shows the token: %s", logs.String())
	}
}

// Issue 16, item 4: the Basic value echoed without its = padding, or in
// base64url, was not redacted.
func TestEchoedBasicIsRedactedInEveryEncoding(t *testing.T) {
	const id, secret = "my id", "s3cr3t~~~???x" // base64 of id:secret has + and /, and padding
	basic := []byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret))
	forms := []string{base64.RawStdEncoding.EncodeToString(basic), base64.RawURLEncoding.EncodeToString(basic), base64.URLEncoding.EncodeToString(basic),
		base64.RawStdEncoding.EncodeToString([]byte(id + ":" + secret)), base64.RawURLEncoding.EncodeToString([]byte(id + ":" + secret))}
	if !strings.ContainsAny(forms[0]+forms[3], "+/") {
		t.Fatal("the secret does not exercise base64url")
	}
	for _, form := range forms {
		t.Run(form, func(t *testing.T) {
			f := &fake{api: started(`{}`), token: func(n int, w http.ResponseWriter) {
				writeJSON(w, 401, fmt.Sprintf(`{"error":"invalid_client","error_description":"you sent %s"}`, form))
			}}
			c, err := New(WithBaseURLs(testAPI, testLogin), WithClientCredentials(id, secret), WithNow(func() time.Time { return testToday }),
				WithHTTPClient(&http.Client{Transport: f}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Start(t.Context(), anyQuery)
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *AuthError", err)
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%v %+v", ae.Err, ae.Err), ae.Description} {
				if strings.Contains(s, form) || strings.Contains(s, strings.TrimRight(form, "=")) {
					t.Errorf("%q shows %q", s, form)
				}
			}
		})
	}
}

// A secret under 8 bytes is never redacted, as docs/security.md says:
// cutting a one-letter test token out of every word would garble the
// message, and so short a secret guards nothing.
func TestShortSecretsAreNotRedacted(t *testing.T) {
	c, err := New(WithBaseURLs(testAPI, ""), WithAccessToken("t"), WithNow(func() time.Time { return testToday }),
		WithHTTPClient(&http.Client{Transport: &fake{api: func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 400, `{"code":"bad.request","message":"the interval is not valid"}`)
		}}}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Start(t.Context(), anyQuery)
	mustContain(t, fmt.Sprint(err), "bad.request: the interval is not valid")
}

// Audit item 10: a row whose clientName (or any string) was the bearer
// token handed it to the caller as is, who prints rows. Every string of a
// row or a job's entity is redacted, JSON-escaped forms and strings that
// repeat (shared through the decoder's cache) or are too long to share
// included.
func TestRowsCarryNoToken(t *testing.T) {
	esc := jsonEscaped(escapedToken)
	long := strings.Repeat("x", 300) + esc // longer than what the cache keeps
	row := `{"clientId":"` + esc + `","clientName":"` + escapedToken + `","userId":"u-` + esc + `","templateUri":"` + long + `","httpMethod":"` + esc + `","organizationId":"` + esc + `","requests":1}`
	var shown []string
	c := tokenClient(t, started(`{"queryStatus":"Complete","results":[`+row+`,`+row+`]}`))
	res, err := c.Run(t.Context(), anyQuery)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := res.All()
	if err != nil || len(rows) != 2 {
		t.Fatalf("%d rows, %v; want 2", len(rows), err)
	}
	for _, r := range rows {
		shown = append(shown, r.ClientID, r.ClientName, r.UserID, r.TemplateURI, r.HTTPMethod, r.OrganizationID)
	}
	entity := `{"oauthClient":{"id":"` + esc + `","name":"` + escapedToken + `","selfUri":"/x/` + esc + `"},"user":{"id":"` + esc + `","selfUri":"` + long + `"},` +
		`"templateUri":"` + esc + `","httpMethod":"` + esc + `","platform":"` + esc + `","organizationId":"` + esc + `","requestCount":1}`
	c = tokenClient(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"queryStatus":"Succeeded","entities":[`+entity+`,`+entity+`]}`)
	})
	jr, err := c.Job("", "j1").Wait(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for e, err := range jr.Rows() {
		if err != nil {
			t.Fatal(err)
		}
		n++
		shown = append(shown, e.OauthClient.ID, e.OauthClient.Name, e.OauthClient.SelfURI, e.User.ID, e.User.SelfURI,
			e.TemplateURI, e.HTTPMethod, e.Platform, e.OrganizationID)
	}
	if n != 2 {
		t.Fatalf("%d entities, want 2", n)
	}
	for _, s := range shown {
		if strings.Contains(s, escapedToken) || !strings.Contains(s, "REDACTED") {
			t.Errorf("%q: want the token redacted", s)
		}
	}
}
