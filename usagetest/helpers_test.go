package usagetest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// client speaks raw HTTP to a stub, so that the tests see the wire format.
type client struct {
	t     testing.TB
	s     *usagetest.Server
	http  *http.Client
	token string
}

func newClient(t testing.TB, s *usagetest.Server, inMemory bool) *client {
	c := &client{t: t, s: s, http: &http.Client{}}
	if inMemory {
		c.http.Transport = s.Transport()
	}
	c.token = c.fetchToken()
	return c
}

// do sends a request and returns the answer with its body read.
func (c *client) do(method, path, contentType, body string, auth func(*http.Request)) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.s.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != nil {
		auth(req)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return res, b
}

func (c *client) bearer(r *http.Request) { r.Header.Set("Authorization", "Bearer "+c.token) }

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func (c *client) tokenRequest(id, secret, form string) (*http.Response, tokenAnswer) {
	c.t.Helper()
	res, b := c.do(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded", form,
		func(r *http.Request) { r.SetBasicAuth(id, secret) })
	var a tokenAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		c.t.Fatalf("token answer %q: %v", b, err)
	}
	return res, a
}

func (c *client) fetchToken() string {
	c.t.Helper()
	res, a := c.tokenRequest(c.s.ClientID, c.s.ClientSecret, url.Values{"grant_type": {"client_credentials"}}.Encode())
	if res.StatusCode != http.StatusOK || a.AccessToken == "" {
		c.t.Fatalf("token: %d %+v", res.StatusCode, a)
	}
	return a.AccessToken
}

// post posts a query and returns the status and execution.
func (c *client) post(query string) (int, gen.UsageExecutionResult) {
	c.t.Helper()
	res, b := c.do(http.MethodPost, "/api/v2/usage/query", "application/json", query, c.bearer)
	var e gen.UsageExecutionResult
	if res.StatusCode == http.StatusOK || res.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal(b, &e); err != nil || e.ExecutionID == nil || e.ResultsURI == nil {
			c.t.Fatalf("POST answer %q: %v", b, err)
		}
	}
	return res.StatusCode, e
}

// poll gets the results of an execution once.
func (c *client) poll(id string) (*http.Response, []byte) {
	c.t.Helper()
	return c.do(http.MethodGet, "/api/v2/usage/query/"+id+"/results", "", "", c.bearer)
}

func (c *client) pollResult(id string) gen.APIUsageQueryResult {
	c.t.Helper()
	res, b := c.poll(id)
	var r gen.APIUsageQueryResult
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("GET results: %d %s", res.StatusCode, b)
	}
	if err := json.Unmarshal(b, &r); err != nil || r.QueryStatus == nil {
		c.t.Fatalf("results answer %q: %v", b, err)
	}
	return r
}

// run posts a query and polls it to its end, returning the last answer.
func (c *client) run(query string) gen.APIUsageQueryResult {
	c.t.Helper()
	status, e := c.post(query)
	if status != http.StatusOK && status != http.StatusAccepted {
		c.t.Fatalf("POST %s: %d", query, status)
	}
	for range 100 {
		if r := c.pollResult(*e.ExecutionID); *r.QueryStatus != gen.QueryStatusRunning {
			return r
		}
	}
	c.t.Fatal("still Running after 100 polls")
	return gen.APIUsageQueryResult{}
}

func errorBody(t testing.TB, res *http.Response, b []byte) gen.ErrorBody {
	t.Helper()
	var e gen.ErrorBody
	if err := json.Unmarshal(b, &e); err != nil || e.Code == nil {
		t.Fatalf("%d answer %q is no ErrorBody: %v", res.StatusCode, b, err)
	}
	if corr := res.Header.Get("ININ-Correlation-Id"); corr == "" || e.ContextID == nil || *e.ContextID != corr {
		t.Errorf("contextId %v, ININ-Correlation-Id %q: want equal and set", e.ContextID, corr)
	}
	return e
}

func fieldOf(e gen.ErrorBody) string {
	if len(e.Details) == 0 || e.Details[0].FieldName == nil {
		return ""
	}
	return *e.Details[0].FieldName
}
