package usagetest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

const weekQuery = `{"interval":"2024-01-01T00:00:00.000Z/2024-01-08T00:00:00.000Z","groupBy":["OAuthClientId"]}`

func TestToken(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithTokenLifetime(300*time.Second),
		usagetest.WithFault(usagetest.RouteToken, 2, usagetest.TokenRateLimited()))
	c := &client{t: t, s: s, http: &http.Client{}}
	form := "grant_type=client_credentials"

	res, a := c.tokenRequest(s.ClientID, s.ClientSecret, form)
	if res.StatusCode != 200 || a.TokenType != "bearer" || a.ExpiresIn != 300 || a.AccessToken == "" {
		t.Errorf("first token: %d %+v; want 200 bearer expiring in 300", res.StatusCode, a)
	}
	res, a = c.tokenRequest(s.ClientID, s.ClientSecret, form)
	if res.StatusCode != 400 || a.Error != "invalid_request" || !strings.Contains(a.Description, "rate limit exceeded") {
		t.Errorf("second token (rate limited): %d %+v", res.StatusCode, a)
	}
	res, a = c.tokenRequest(s.ClientID, s.ClientSecret, form)
	if res.StatusCode != 200 || a.AccessToken == "" {
		t.Errorf("third token: %d %+v; want 200 once the fault has passed", res.StatusCode, a)
	}
	res, a = c.tokenRequest(s.ClientID, "wrong", form)
	if res.StatusCode != 401 || a.Error == "" || a.Description == "" {
		t.Errorf("bad secret: %d %+v; want 401 with error and error_description", res.StatusCode, a)
	}
	res, a = c.tokenRequest(s.ClientID, s.ClientSecret, "grant_type=password")
	if res.StatusCode != 400 || a.Error != "unsupported_grant_type" {
		t.Errorf("password grant: %d %+v", res.StatusCode, a)
	}
	res, b := c.do(http.MethodPost, "/oauth/token", "application/json", `{"grant_type":"client_credentials"}`,
		func(r *http.Request) { r.SetBasicAuth(s.ClientID, s.ClientSecret) })
	if res.StatusCode != 400 || !strings.Contains(string(b), "invalid_request") {
		t.Errorf("JSON token request: %d %s; want 400 invalid_request", res.StatusCode, b)
	}
}

func TestTokenDefaultsAndCredentials(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithCredentials("id-1", "secret-1"))
	if s.ClientID != "id-1" || s.ClientSecret != "secret-1" {
		t.Fatalf("credentials %q/%q", s.ClientID, s.ClientSecret)
	}
	c := &client{t: t, s: s, http: &http.Client{}}
	if res, a := c.tokenRequest("id-1", "secret-1", "grant_type=client_credentials"); res.StatusCode != 200 || a.ExpiresIn != 86400 {
		t.Errorf("%d %+v: want 200 expiring in 86400", res.StatusCode, a)
	}
	if res, _ := c.tokenRequest(usagetest.DemoClientID, usagetest.DemoClientSecret, "grant_type=client_credentials"); res.StatusCode != 401 {
		t.Errorf("demo credentials on a server with others: %d, want 401", res.StatusCode)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []usagetest.Option{
		usagetest.WithAddr("0.0.0.0:0"),
		usagetest.WithCredentials("", "x"),
		usagetest.WithTokenLifetime(0),
		usagetest.WithPopulation(usagetest.Population{Methods: 10}),
		usagetest.WithRunning(-1, 0),
		usagetest.WithNow(nil),
		usagetest.WithFault(usagetest.RouteToken, 1, usagetest.UnknownStatus("Queued")),
		usagetest.WithFault(usagetest.RouteQuery, -1, usagetest.DropConnection()),
		usagetest.WithFault(usagetest.RouteQuery, 1, usagetest.HTMLError(500)),
		usagetest.WithFault(usagetest.RouteResults, 1, usagetest.NonUTCDate("CEST")),
		usagetest.WithFault("nowhere", 1, usagetest.DropConnection()),
	} {
		if s, err := usagetest.Start(o); err == nil {
			s.Close()
			t.Errorf("Start accepted a bad option")
		}
	}
	s := usagetest.NewServer(t)
	defer func() {
		if recover() == nil {
			t.Error("Inject of a fault that does not apply to the route did not panic")
		}
	}()
	s.Inject(usagetest.RouteQuery, 1, usagetest.NonUTCDate("+02:00"))
}

func TestRequestValidation(t *testing.T) {
	s := usagetest.NewServer(t)
	c := newClient(t, s, false)
	for _, tc := range []struct {
		name, contentType, body string
		code, field, inMessage  string
	}{
		{"groupBy case", "application/json", `{"interval":"2024-01-01/2024-01-02","groupBy":["OauthClientId"]}`, "invalid.value", "groupBy", "OauthClientId"},
		{"metric case", "application/json", `{"interval":"2024-01-01/2024-01-02","metrics":["requests"]}`, "invalid.value", "metrics", "requests"},
		{"granularity", "application/json", `{"interval":"2024-01-01/2024-01-02","granularity":"Year"}`, "invalid.value", "granularity", "Year"},
		{"no interval", "application/json", `{"granularity":"Day"}`, "invalid.date", "interval", "interval"},
		{"malformed interval", "application/json", `{"interval":"last week"}`, "invalid.date", "interval", "last week"},
		{"impossible date", "application/json", `{"interval":"2024-02-30/2024-03-02"}`, "invalid.date", "interval", "2024-02-30"},
		{"inverted interval", "application/json", `{"interval":"2024-01-08/2024-01-01"}`, "invalid.date", "interval", "after the start"},
		{"empty interval", "application/json", `{"interval":"2024-01-01T00:00:00Z/2024-01-01T00:00:00Z"}`, "invalid.date", "interval", "after the start"},
		{"no such month", "application/json", `{"interval":"2024-13/2025"}`, "invalid.date", "interval", "2024-13"},
		{"metrics not a list", "application/json", `{"interval":"2024-01-01/2024-01-02","metrics":"Requests"}`, "bad.request", "metrics", "metrics"},
		{"text body", "text/plain", `{"interval":"2024-01-01/2024-01-02"}`, "bad.request", "Content-Type", "text/plain"},
		{"malformed JSON", "application/json", `{"interval":`, "bad.request", "", "JSON"},
		{"no body", "application/json", ``, "bad.request", "body", "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, b := c.do(http.MethodPost, "/api/v2/usage/query", tc.contentType, tc.body, c.bearer)
			e := errorBody(t, res, b)
			if res.StatusCode != 400 || *e.Code != tc.code || fieldOf(e) != tc.field || e.Status == nil || *e.Status != 400 ||
				!strings.Contains(*e.Message, tc.inMessage) {
				t.Errorf("%d %s; want 400 %s on field %q, message naming %q", res.StatusCode, b, tc.code, tc.field, tc.inMessage)
			}
			// The real API's words first, for the codes whose message the
			// reference gives.
			if tc.code == "invalid.date" && tc.name != "no interval" && !strings.HasPrefix(*e.Message, "Dates must be specified as ISO-8601 strings. For example: yyyy-MM-ddTHH:mm:ss.SSSZ") {
				t.Errorf("message %q does not start with the API's own", *e.Message)
			}
		})
	}
	for _, ok := range []string{
		`{"interval":"2024-01-01T00:00:00Z/2024-01-02T00:00:00+02:00","granularity":"Month","metrics":["Status429"],"groupBy":["UserId","HttpMethod"]}`,
		`{"interval":"2024-01-01T10:00:00.5-05:00/2024-01-02T00:00"}`,
		`{"interval":"2020-01/2020-06"}`, `{"interval":"2020/2021"}`, `{"interval":"2020-02-01/2020-02-01"}`,
		`{"interval":"2024-01-01T10+0530/2024-01-02T00:00:00.123456789Z"}`,
	} {
		if status, _ := c.post(ok); status != http.StatusAccepted {
			t.Errorf("valid query %s: %d, want 202", ok, status)
		}
	}
}

func TestUnauthorizedAndNotFound(t *testing.T) {
	s := usagetest.NewServer(t)
	c := newClient(t, s, false)
	for name, auth := range map[string]func(*http.Request){
		"none":    nil,
		"unknown": func(r *http.Request) { r.Header.Set("Authorization", "Bearer not-a-token") },
		"basic":   func(r *http.Request) { r.SetBasicAuth(s.ClientID, s.ClientSecret) },
	} {
		res, b := c.do(http.MethodPost, "/api/v2/usage/query", "application/json", weekQuery, auth)
		if e := errorBody(t, res, b); res.StatusCode != 401 || *e.Code != "authentication.required" {
			t.Errorf("%s: %d %s; want 401 authentication.required", name, res.StatusCode, b)
		}
	}
	res, b := c.poll("no-such-execution")
	if e := errorBody(t, res, b); res.StatusCode != 404 || *e.Code != "not.found" || !strings.Contains(*e.Message, "no-such-execution") {
		t.Errorf("unknown execution: %d %s; want 404 not.found naming the id", res.StatusCode, b)
	}
	res, b = c.do(http.MethodGet, "/api/v2/usage/nothing", "", "", c.bearer)
	if e := errorBody(t, res, b); res.StatusCode != 404 || *e.Code != "not.found" {
		t.Errorf("unknown path: %d %s", res.StatusCode, b)
	}
}

func TestTokenExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithTokenLifetime(time.Minute))
		c := newClient(t, s, true)
		if status, _ := c.post(weekQuery); status != http.StatusAccepted {
			t.Fatalf("fresh token: %d", status)
		}
		time.Sleep(time.Minute)
		if status, _ := c.post(weekQuery); status != http.StatusUnauthorized {
			t.Errorf("token past expires_in: %d, want 401", status)
		}
	})
}

func TestLifecyclePolls(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithRunning(2, 0))
	c := newClient(t, s, false)
	status, e := c.post(weekQuery)
	if status != http.StatusAccepted || *e.ResultsURI != "/api/v2/usage/query/"+*e.ExecutionID+"/results" {
		t.Fatalf("POST: %d %s; want 202 with the results path", status, *e.ResultsURI)
	}
	for i, want := range []gen.QueryStatus{gen.QueryStatusRunning, gen.QueryStatusRunning, gen.QueryStatusComplete, gen.QueryStatusComplete} {
		r := c.pollResult(*e.ExecutionID)
		if *r.QueryStatus != want || (want == gen.QueryStatusRunning) != (r.Results == nil) {
			t.Errorf("poll %d: %s with %d rows; want %s", i+1, *r.QueryStatus, len(r.Results), want)
		}
	}
}

func TestLifecycleAlreadyDone(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithRunning(0, 0))
	c := newClient(t, s, false)
	status, e := c.post(weekQuery)
	if r := c.pollResult(*e.ExecutionID); status != http.StatusOK || *r.QueryStatus != gen.QueryStatusComplete {
		t.Errorf("POST %d then %s; want 200 then Complete", status, *r.QueryStatus)
	}
}

func TestLifecycleTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 30*time.Second))
		c := newClient(t, s, true)
		status, e := c.post(weekQuery)
		if status != http.StatusAccepted {
			t.Fatalf("POST: %d, want 202", status)
		}
		for _, step := range []struct {
			wait time.Duration
			want gen.QueryStatus
		}{{0, gen.QueryStatusRunning}, {29 * time.Second, gen.QueryStatusRunning}, {time.Second, gen.QueryStatusComplete}} {
			time.Sleep(step.wait)
			if r := c.pollResult(*e.ExecutionID); *r.QueryStatus != step.want {
				t.Errorf("after %v more: %s, want %s", step.wait, *r.QueryStatus, step.want)
			}
		}
	})
}

func TestOutcome(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithOutcome(func(q gen.APIUsageQuery) gen.QueryStatus {
		if q.Granularity != nil && *q.Granularity == gen.GranularityMonth {
			return gen.QueryStatusFailed
		}
		return gen.QueryStatusComplete
	}))
	c := newClient(t, s, false)
	if r := c.run(`{"interval":"2024-01-01/2024-03-01","granularity":"Month"}`); *r.QueryStatus != gen.QueryStatusFailed || r.Results != nil {
		t.Errorf("Month query: %s with %d rows; want Failed without rows", *r.QueryStatus, len(r.Results))
	}
	if r := c.run(`{"interval":"2024-01-01/2024-03-01","granularity":"Week"}`); *r.QueryStatus != gen.QueryStatusComplete || len(r.Results) == 0 {
		t.Errorf("Week query: %s with %d rows; want Complete with rows", *r.QueryStatus, len(r.Results))
	}
}

func TestInMemoryTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := usagetest.NewServer(t, usagetest.InMemory())
		if s.URL != "http://127.0.0.1:0" || s.LoginURL != s.URL {
			t.Errorf("URL %q, LoginURL %q", s.URL, s.LoginURL)
		}
		c := newClient(t, s, true)
		if r, want := c.run(weekQuery), rowsOf(t, s, weekQuery); *r.QueryStatus != gen.QueryStatusComplete || len(r.Results) != len(want) {
			t.Errorf("%s with %d rows; want Complete with %d", *r.QueryStatus, len(r.Results), len(want))
		}
		for _, u := range []string{"http://127.0.0.2:9/api/v2/usage/query", "https://127.0.0.1:0/oauth/token", "http://example.com/"} {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			if res, err := c.http.Do(req); err == nil {
				res.Body.Close()
				t.Errorf("%s: the in-memory transport answered %d; want an error", u, res.StatusCode)
			}
		}
	})
}

func TestTransportOfListeningServer(t *testing.T) {
	s := usagetest.NewServer(t)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || strings.HasSuffix(s.URL, ":0") {
		t.Fatalf("URL %q: want a listening loopback address", s.URL)
	}
	c := newClient(t, s, true)
	if r := c.run(weekQuery); *r.QueryStatus != gen.QueryStatusComplete {
		t.Errorf("through Transport: %s", *r.QueryStatus)
	}
	s.Close()
	if _, err := c.http.Get(s.URL + "/oauth/token"); err == nil {
		t.Error("Transport of a closed server answered")
	}
}

func TestRecording(t *testing.T) {
	s := usagetest.NewServer(t)
	c := newClient(t, s, false)
	c.run(weekQuery)
	// A client that sends its secret in the form must not leak it either.
	c.do(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded",
		"grant_type=client_credentials&client_id="+s.ClientID+"&client_secret="+s.ClientSecret, nil)

	reqs := s.Requests()
	var got []string
	for _, r := range reqs {
		got = append(got, r.Method+" "+strings.Split(r.Path, "/query/")[0])
		if r.Time.IsZero() {
			t.Errorf("%s %s: no time", r.Method, r.Path)
		}
		all := string(r.Body)
		for _, v := range r.Header {
			all += strings.Join(v, " ")
		}
		if strings.Contains(all, c.token) || strings.Contains(all, s.ClientSecret) {
			t.Errorf("%s %s: the record holds a raw token or secret: %v %s", r.Method, r.Path, r.Header, r.Body)
		}
	}
	want := "POST /oauth/token|POST /api/v2/usage/query|GET /api/v2/usage|GET /api/v2/usage|POST /oauth/token"
	if strings.Join(got, "|") != want {
		t.Fatalf("requests %q, want %q", strings.Join(got, "|"), want)
	}
	if a := reqs[0].Header.Get("Authorization"); !strings.HasPrefix(a, "Basic sha256:") || len(a) != len("Basic sha256:")+8 {
		t.Errorf("token request Authorization recorded as %q", a)
	}
	bearer := reqs[1].Header.Get("Authorization")
	if !strings.HasPrefix(bearer, "Bearer sha256:") || reqs[2].Header.Get("Authorization") != bearer {
		t.Errorf("Authorization recorded as %q then %q; want one redacted Bearer value", bearer, reqs[2].Header.Get("Authorization"))
	}
	if string(reqs[1].Body) != weekQuery || reqs[1].Header.Get("Content-Type") != "application/json" {
		t.Errorf("POST recorded with body %q and headers %v", reqs[1].Body, reqs[1].Header)
	}
	if !strings.Contains(string(reqs[4].Body), "client_secret=sha256%3A") {
		t.Errorf("form secret recorded as %q", reqs[4].Body)
	}
	reqs[0].Header.Set("Authorization", "changed")
	if s.Requests()[0].Header.Get("Authorization") == "changed" {
		t.Error("Requests returns the stub's own headers, not a copy")
	}
}

func TestConcurrentClients(t *testing.T) {
	s := usagetest.NewServer(t)
	c := newClient(t, s, false)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if r := c.run(weekQuery); *r.QueryStatus != gen.QueryStatusComplete {
				t.Errorf("concurrent query: %s", *r.QueryStatus)
			}
		})
	}
	wg.Wait()
	tokens := 0
	for _, r := range s.Requests() {
		if r.Path == "/oauth/token" {
			tokens++
		}
	}
	if n := len(s.Requests()); tokens != 1 || n != 1+20*3 {
		t.Errorf("%d requests with %d token fetches; want 61 with 1", n, tokens)
	}
}

// TestTransportLetsGoAtEOF reads an answer to the end without closing it:
// the exchange must then let go of the request's context, as a socket's
// body does, rather than stay registered with it until it ends.
func TestTransportLetsGoAtEOF(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.InMemory())
	ctx := &watchedContext{Context: context.Background(), done: make(chan struct{})}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.LoginURL+"/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.ClientID, s.ClientSecret)
	res, err := s.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if n := ctx.attached.Load(); n == 0 {
		t.Fatal("nothing attached to the request's context while the answer is unread; the test no longer sees the transport")
	}
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK || !strings.Contains(string(b), "access_token") {
		t.Fatalf("%d %q, %v", res.StatusCode, b, err)
	}
	if n := ctx.attached.Load(); n != 0 {
		t.Errorf("%d functions still attached to the request's context after EOF; want none", n)
	}
	if n, err := res.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("a read after EOF got %d, %v; want EOF again", n, err)
	}
	res.Body.Close()
}

// watchedContext is a context that never ends and counts what is attached
// to it: as it is not one of package context's own, a child context or
// context.AfterFunc attaches through its AfterFunc method.
type watchedContext struct {
	context.Context // Background
	done            chan struct{}
	attached        atomic.Int32
}

func (c *watchedContext) Done() <-chan struct{} { return c.done }

func (c *watchedContext) AfterFunc(func()) func() bool {
	c.attached.Add(1)
	var once sync.Once
	return func() (stopped bool) {
		once.Do(func() { c.attached.Add(-1); stopped = true })
		return stopped
	}
}

// TestHeaders: every API answer, errors and 429s included, carries the
// correlation id, the rate-limit headers counted per token per minute, and
// cache-control, as Genesys sends them; the token endpoint the id only.
func TestHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(5, 0),
			usagetest.WithFault(usagetest.RouteResults, 3, usagetest.RateLimited("7")))
		c := &client{t: t, s: s, http: &http.Client{Transport: s.Transport()}}
		res, _ := c.tokenRequest(s.ClientID, s.ClientSecret, "grant_type=client_credentials")
		if res.Header.Get("ININ-Correlation-Id") == "" || res.Header.Get("inin-ratelimit-count") != "" {
			t.Errorf("token answer headers %v; want a correlation id and no API rate limit", res.Header)
		}
		c.token = c.fetchToken()
		check := func(name string, res *http.Response, count, reset string) {
			t.Helper()
			h := res.Header
			if h.Get("ININ-Correlation-Id") == "" || h.Get("inin-ratelimit-allowed") != "300" || h.Get("inin-ratelimit-count") != count ||
				h.Get("inin-ratelimit-reset") != reset || h.Get("Cache-Control") != "no-cache, no-store, must-revalidate" {
				t.Errorf("%s: %d with headers %v; want count %s, reset %s", name, res.StatusCode, h, count, reset)
			}
		}
		res, b := c.do(http.MethodPost, "/api/v2/usage/query", "application/json", weekQuery, c.bearer)
		check("POST", res, "1", "60")
		var e gen.UsageExecutionResult
		json.Unmarshal(b, &e)
		time.Sleep(30 * time.Second)
		res, _ = c.poll(*e.ExecutionID)
		check("results", res, "2", "30")
		res, _ = c.poll("no-such-execution")
		check("404", res, "3", "30")
		res, _ = c.poll(*e.ExecutionID)
		check("429", res, "301", "7") // RateLimited speaks for a spent limit
		res, _ = c.do(http.MethodPost, "/api/v2/usage/query", "application/json", `{"interval":"x"}`, c.bearer)
		check("400", res, "5", "30")
		res, _ = c.do(http.MethodPost, "/api/v2/usage/query", "application/json", weekQuery,
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer not-a-token") })
		check("401 of another token", res, "1", "60")
		time.Sleep(30 * time.Second)
		res, _ = c.poll(*e.ExecutionID)
		check("results a minute later", res, "1", "60")
		first := res.Header.Get("ININ-Correlation-Id")
		res, _ = c.poll(*e.ExecutionID)
		if res.Header.Get("ININ-Correlation-Id") == first {
			t.Error("two answers share a correlation id")
		}
	})
}

// TestStatusFirst: WithStatusFirst writes queryStatus before the rows;
// Running and Failed answers are the status alone either way.
func TestStatusFirst(t *testing.T) {
	for _, statusFirst := range []bool{false, true} {
		opts := []usagetest.Option{usagetest.WithOutcome(func(q gen.APIUsageQuery) gen.QueryStatus {
			if q.Granularity == nil {
				return gen.QueryStatusFailed
			}
			return gen.QueryStatusComplete
		})}
		if statusFirst {
			opts = append(opts, usagetest.WithStatusFirst())
		}
		s := usagetest.NewServer(t, opts...)
		c := newClient(t, s, false)
		_, e := c.post(`{"interval":"2024-01-01/2024-01-07","granularity":"Week"}`)
		var got []string
		for range 2 {
			_, b := c.poll(*e.ExecutionID)
			got = append(got, string(b))
		}
		_, e = c.post(weekQuery)
		c.poll(*e.ExecutionID)
		_, failed := c.poll(*e.ExecutionID)
		prefix, suffix := `{"results":[{"clientId":`, `}],"queryStatus":"Complete"}`
		if statusFirst {
			prefix, suffix = `{"queryStatus":"Complete","results":[{"clientId":`, `}]}`
		}
		if got[0] != `{"queryStatus":"Running"}` || !strings.HasPrefix(got[1], prefix) || !strings.HasSuffix(got[1], suffix) ||
			string(failed) != `{"queryStatus":"Failed"}` {
			t.Errorf("status first %v: answers %.60q, %.60q...%q, %q", statusFirst, got[0], got[1], got[1][max(0, len(got[1])-40):], failed)
		}
	}
}

// TestTodayInABubble: a synctest bubble's clock reads 2000, before any
// data; the stub then counts today by the wall clock of the program's start.
func TestTodayInABubble(t *testing.T) {
	wallDay := wallAtStart.UTC().Truncate(24 * time.Hour)
	q := `{"interval":"` + wallDay.AddDate(0, 0, -3).Format(time.DateOnly) + "/" + wallDay.AddDate(0, 0, 2).Format(time.DateOnly) +
		`","granularity":"Day"}`
	synctest.Test(t, func(t *testing.T) {
		s := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithPopulation(usagetest.Population{Clients: 20}))
		last := ""
		for _, r := range rowsOf(t, s, q) {
			last = max(last, r.Date.Format(time.DateOnly))
		}
		if want := wallDay.AddDate(0, 0, -1).Format(time.DateOnly); last != want {
			t.Errorf("last day with rows %q; want %s, the day before the wall clock's today", last, want)
		}
	})
}

var wallAtStart = time.Now() // before any bubble
