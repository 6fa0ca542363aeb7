package gcusage_test

// Contract tests: the client against the stub, with every request and
// response checked against api/usage.yaml on the way, so that the spec, the
// stub and the client cannot drift apart. Waiting and backoff run in virtual
// time (testing/synctest) over the stub's in-memory transport.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// week is the query most tests run: a week by day, per OAuth client.
var week = client.Query{
	Interval:    "2024-01-01T00:00:00.000Z/2024-01-08T00:00:00.000Z",
	Granularity: gen.GranularityDay,
	Metrics:     []gen.Metric{gen.MetricRequests, gen.MetricStatus429},
	GroupBy:     []gen.GroupBy{gen.GroupByOAuthClientID},
}

// specCheck is a RoundTripper that validates every exchange of the usage
// endpoints against api/usage.yaml, and records the hosts it is asked for.
// Answers are checked as the client reads them, not buffered first, so that
// the client streams as it does in production.
type specCheck struct {
	base   http.RoundTripper
	router routers.Router

	mu         sync.Mutex
	hosts      []string
	violations []violation
	answers    []string // the bodies of the results answers, as sent
	refused    int      // 401 answers
}

// violation is an exchange outside the spec.
type violation struct{ method, path, msg string }

func (v violation) String() string { return v.method + " " + v.path + ": " + v.msg }

func newSpecCheck(t testing.TB, base http.RoundTripper) *specCheck {
	t.Helper()
	doc, err := usagetest.Spec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil // the stub's origin, not Genesys'
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &specCheck{base: base, router: router}
}

func (s *specCheck) violate(req *http.Request, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, violation{req.Method, req.URL.Path, fmt.Sprintf(format, args...)})
}

func (s *specCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.hosts = append(s.hosts, req.URL.Host)
	s.mu.Unlock()
	if req.URL.Path == "/oauth/token" { // the login host is not part of usage.yaml
		return s.base.RoundTrip(req)
	}
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		s.violate(req, "%v", err)
		return s.base.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil {
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	check := req.Clone(req.Context())
	check.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerOnly, MultiError: true}}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		s.violate(req, "request: %v", err)
	}
	sent := req.Clone(req.Context())
	sent.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := s.base.RoundTrip(sent)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		s.mu.Lock()
		s.refused++
		s.mu.Unlock()
	}
	resp.Body = &checkedBody{ReadCloser: resp.Body, done: func(raw []byte) {
		if strings.HasSuffix(req.URL.Path, "/results") {
			s.mu.Lock()
			s.answers = append(s.answers, string(raw))
			s.mu.Unlock()
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
			Header: resp.Header, Body: io.NopCloser(bytes.NewReader(raw)),
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
		if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
			s.violate(req, "response %d: %v", resp.StatusCode, err)
		}
	}}
	return resp, nil
}

// checkedBody hands the client the answer as it arrives, keeps a copy, and
// has it checked once the client has read it to its end. It reads nothing
// on the client's behalf: a client that closed answers early would then
// lose its connections, and the tests that count them would see it.
type checkedBody struct {
	io.ReadCloser
	raw  []byte
	done func(raw []byte)
	once sync.Once
}

func (b *checkedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.raw = append(b.raw, p[:n]...)
	if err == io.EOF {
		b.once.Do(func() { b.done(b.raw) })
	}
	return n, err
}

func (b *checkedBody) Close() error {
	b.once.Do(func() {}) // whatever comes after this is not the client's
	return b.ReadCloser.Close()
}

// bearerOnly makes the spec's OAuth requirement mean something: a request
// without a bearer token is a violation.
func bearerOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
		return errors.New("no bearer token")
	}
	return nil
}

// harness is a stub and a client that talks to it through a specCheck.
type harness struct {
	srv   *usagetest.Server
	c     *client.Client
	check *specCheck
}

// newHarness starts the stub in memory (so it runs inside a synctest
// bubble) and a client for it with the stub's demo credentials. Any
// exchange outside the spec fails the test, except on the route named by
// allow, where a fault breaks the spec on purpose ("*": anywhere).
func newHarness(t *testing.T, allow usagetest.Route, stubOpts []usagetest.Option, opts ...client.Option) *harness {
	t.Helper()
	srv := usagetest.NewServer(t, append([]usagetest.Option{usagetest.InMemory()}, stubOpts...)...)
	h := &harness{srv: srv, check: newSpecCheck(t, srv.Transport())}
	c, err := client.New(append([]client.Option{
		client.WithNow(srv.Now),
		client.WithBaseURLs(srv.URL, srv.LoginURL),
		client.WithClientCredentials(srv.ClientID, srv.ClientSecret),
		client.WithHTTPClient(&http.Client{Transport: h.check}),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	t.Cleanup(func() {
		for _, v := range h.check.violations {
			if !allowed(allow, v) {
				t.Errorf("outside api/usage.yaml: %s", v)
			}
		}
	})
	return h
}

func allowed(allow usagetest.Route, v violation) bool {
	switch allow {
	case "*":
		return true
	case usagetest.RouteQuery:
		return v.method == "POST" && v.path == "/api/v2/usage/query" && strings.HasPrefix(v.msg, "response")
	case usagetest.RouteResults:
		return v.method == "GET" && strings.HasSuffix(v.path, "/results") && strings.HasPrefix(v.msg, "response")
	}
	return false
}

// count says how many requests the stub received on a path suffix.
func (h *harness) count(method, suffix string) int {
	n := 0
	for _, r := range h.srv.Requests() {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// want returns the rows the stub serves for q, as JSON for comparison.
// apiQuery is the body the client sends for q.
func apiQuery(q client.Query) gen.APIUsageQuery {
	body := gen.APIUsageQuery{Interval: q.Interval, Metrics: q.Metrics, GroupBy: q.GroupBy}
	if q.Granularity != "" {
		body.Granularity = &q.Granularity
	}
	return body
}

func (h *harness) want(t *testing.T, q client.Query) []string {
	t.Helper()
	rows, err := h.srv.Rows(apiQuery(q))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for r := range rows {
		out = append(out, rowJSON(t, r))
	}
	return out
}

func rowJSON(t *testing.T, r gen.APIUsageRow) string {
	t.Helper()
	if !r.Date.IsZero() && r.Date.Location() != time.UTC {
		t.Errorf("row date %v is not in UTC", r.Date)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// collect runs q and returns its rows as JSON.
func (h *harness) collect(t *testing.T, ctx context.Context, q client.Query) ([]string, error) {
	t.Helper()
	res, err := h.c.Run(ctx, q)
	if err != nil {
		return nil, err
	}
	return readAll(t, res)
}

func TestRunReturnsTheStubsRows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{usagetest.WithRunning(3, 0)})
		got, err := h.collect(t, t.Context(), week)
		if err != nil {
			t.Fatal(err)
		}
		want := h.want(t, week)
		if len(want) < 7*3*5/7 || len(want) > 7*3 { // 7 days × the default 3 clients, a few days without traffic
			t.Fatalf("stub serves %d rows, want about 21", len(want))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("rows differ from the stub's\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if n := h.count("GET", "/results"); n != 4 { // 3 × Running, then Complete with the rows
			t.Errorf("%d results GETs, want 4", n)
		}
		if n := h.count("POST", "/oauth/token"); n != 1 {
			t.Errorf("%d token requests, want 1", n)
		}
	})
}

// Over a loopback socket, sequential queries share one token and one
// connection: nothing in the client closes connections behind its back.
func TestLoopbackReusesTokenAndConnection(t *testing.T) {
	// 300 clients × 7 days: answers of about 200 KB, more than any buffer,
	// so that reuse needs each answer read to its end.
	srv := usagetest.NewServer(t, usagetest.WithRunning(0, 0), usagetest.WithPopulation(usagetest.Population{Clients: 300}))
	all, err := srv.Rows(apiQuery(week))
	if err != nil {
		t.Fatal(err)
	}
	wantRows := 0
	for range all {
		wantRows++
	}
	reuse := newReuseWatch()
	defer reuse.tr.CloseIdleConnections()
	check := newSpecCheck(t, reuse)
	c, err := client.New(client.WithBaseURLs(srv.URL, srv.LoginURL),
		client.WithClientCredentials(srv.ClientID, srv.ClientSecret),
		client.WithHTTPClient(&http.Client{Transport: check}))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		res, err := c.Run(t.Context(), week)
		if err != nil {
			t.Fatal(err)
		}
		if rows, err := res.All(); err != nil || len(rows) != wantRows {
			t.Fatalf("got %d rows, %v; want %d", len(rows), err, wantRows)
		}
	}
	reuse.check(t)
	tokens := 0
	for _, r := range srv.Requests() {
		if r.Path == "/oauth/token" {
			tokens++
		}
	}
	if tokens != 1 {
		t.Errorf("%d token requests, want 1", tokens)
	}
	for _, v := range check.violations {
		t.Errorf("outside api/usage.yaml: %s", v)
	}
}

// reuseWatch is a transport that counts its dials, and tells why each
// connection after the first was needed. The client owes every answer
// read to its end before it is closed, and no request that asks to close
// its connection: then the transport pools the connection, unless it
// declines on its own, as net/http does when its write loop reports a
// request written later than 50 ms after the answer was read (a thread
// descheduled under load: once 2 connections in a loaded make test).
// Every dial after the first must follow such an exchange.
type reuseWatch struct {
	tr *http.Transport

	mu                      sync.Mutex
	dials, declined, unread int
	closing                 []string
}

func newReuseWatch() *reuseWatch {
	w := &reuseWatch{tr: http.DefaultTransport.(*http.Transport).Clone()}
	dial := w.tr.DialContext
	w.tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		w.mu.Lock()
		w.dials++
		w.mu.Unlock()
		return dial(ctx, network, addr)
	}
	return w
}

func (w *reuseWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Close || strings.EqualFold(req.Header.Get("Connection"), "close") {
		w.mu.Lock()
		w.closing = append(w.closing, req.Method+" "+req.URL.Path)
		w.mu.Unlock()
	}
	var pooled atomic.Bool
	// net/http calls PutIdleConn before the read that meets the end of
	// the answer returns, and never for a connection it does not pool.
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		PutIdleConn: func(err error) { pooled.Store(err == nil) },
	}))
	resp, err := w.tr.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &watchedBody{ReadCloser: resp.Body, closed: func(atEOF bool) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch {
		case !atEOF:
			w.unread++
		case !pooled.Load():
			w.declined++
		}
	}}
	return resp, nil
}

func (w *reuseWatch) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unread > 0 || len(w.closing) > 0 {
		t.Errorf("%d answers closed before their end, and requests asking to close their connection: %q", w.unread, w.closing)
	}
	if w.dials > 1+w.declined {
		t.Errorf("%d connections, want 1, or one more for each of the %d exchanges net/http declined to pool", w.dials, w.declined)
	}
	t.Logf("%d TCP connection(s); %d exchange(s) that net/http declined to pool", w.dials, w.declined)
}

// watchedBody tells, when closed, whether it was read to its end.
type watchedBody struct {
	io.ReadCloser
	eof    atomic.Bool
	once   sync.Once
	closed func(atEOF bool)
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.once.Do(func() { b.closed(b.eof.Load()) })
	return b.ReadCloser.Close()
}

func TestHundredConcurrentQueriesFetchOneToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{usagetest.WithRunning(2, 0)})
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for range 100 {
			wg.Go(func() {
				res, err := h.c.Run(t.Context(), week)
				if err == nil {
					_, err = res.All()
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := h.count("POST", "/oauth/token"); n != 1 {
			t.Errorf("%d token requests for 100 concurrent queries, want 1", n)
		}
		if n := h.count("POST", "/api/v2/usage/query"); n != 100 {
			t.Errorf("%d queries started, want 100", n)
		}
	})
}

func TestInvalidQuerySendsNothing(t *testing.T) {
	for name, q := range map[string]client.Query{
		"no interval":    {GroupBy: week.GroupBy},
		"inverted":       {Interval: "2024-01-08/2024-01-01"},
		"lower-case a":   {Interval: week.Interval, GroupBy: []gen.GroupBy{"OauthClientId"}},
		"bad metric":     {Interval: week.Interval, Metrics: []gen.Metric{"Status418"}},
		"duplicate":      {Interval: week.Interval, Metrics: []gen.Metric{gen.MetricRequests, gen.MetricRequests}},
		"bad bucket":     {Interval: week.Interval, Granularity: "Hour"},
		"malformed date": {Interval: "2024-13-01/2024-12-01"},
		"comma fraction": {Interval: "2024-01-01T00:00:00,5Z/2024-01-02T00:00:00Z"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, "", nil)
			_, err := h.c.Run(t.Context(), q)
			var ve *client.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a *client.ValidationError, got %v", err)
			}
			if n := len(h.srv.Requests()); n != 0 {
				t.Errorf("an invalid query sent %d requests", n)
			}
		})
	}
}

func TestFailedQueryCarriesTheExecutionID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{
			usagetest.WithRunning(1, 0),
			usagetest.WithOutcome(func(gen.APIUsageQuery) gen.QueryStatus { return gen.QueryStatusFailed }),
		})
		e, err := h.c.Start(t.Context(), week)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Wait(t.Context())
		var ee *client.ExecutionError
		if !errors.As(err, &ee) || !errors.Is(err, client.ErrQueryFailed) || ee.ExecutionID != e.ID {
			t.Fatalf("want an ExecutionError for %s wrapping ErrQueryFailed, got %v", e.ID, err)
		}
		if !strings.Contains(err.Error(), e.ID) {
			t.Errorf("error %q does not name the execution", err)
		}
	})
}

// A wait that times out names the execution, and waiting again on that id
// later picks the same execution up where it was.
func TestTimeoutThenResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{usagetest.WithRunning(0, 10*time.Minute)})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		_, err := h.c.Run(ctx, week)
		var ee *client.ExecutionError
		if !errors.As(err, &ee) || !errors.Is(err, context.DeadlineExceeded) || ee.ExecutionID == "" {
			t.Fatalf("want an ExecutionError with an id wrapping DeadlineExceeded, got %v", err)
		}
		if !strings.Contains(err.Error(), ee.ExecutionID) {
			t.Errorf("error %q does not name the execution", err)
		}
		started := time.Now()
		res, err := h.c.Wait(t.Context(), ee.ExecutionID)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := res.All()
		if want := h.want(t, week); err != nil || len(rows) != len(want) {
			t.Fatalf("got %d rows, %v; want %d", len(rows), err, len(want))
		}
		if d := time.Since(started); d < 8*time.Minute {
			t.Errorf("resumed wait returned after %v, before the query could finish", d)
		}
		if n := h.count("POST", "/api/v2/usage/query"); n != 1 {
			t.Errorf("%d queries started; resuming must not start another", n)
		}
	})
}

// The poll schedule in virtual time: a query that runs for a minute is
// seen soon after it ends, without hammering the API.
func TestPollingBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{usagetest.WithRunning(0, time.Minute)})
		start := time.Now()
		if _, err := h.collect(t, t.Context(), week); err != nil {
			t.Fatal(err)
		}
		over := time.Since(start) - time.Minute
		gets := h.count("GET", "/results")
		if over < 0 || over > 12*time.Second { // at most 20% late
			t.Errorf("returned %v after the query completed", over)
		}
		if gets < 3 || gets > 30 {
			t.Errorf("%d results GETs for a one-minute query", gets)
		}
	})
}

// The fault matrix: each fault the stub offers ends in success after a
// retry or in the right typed error, and none leaves a goroutine behind
// (synctest.Test fails on a goroutine still blocked when the test ends).
func TestFaultMatrix(t *testing.T) {
	httpDate := time.Date(2000, 1, 1, 0, 0, 5, 0, time.UTC).Format(http.TimeFormat) // synctest's epoch + 5 s
	type outcome func(t *testing.T, h *harness, rows []string, err error)
	ok := func(requests map[string]int) outcome {
		return func(t *testing.T, h *harness, rows []string, err error) {
			if err != nil {
				t.Fatalf("want success after retry, got %v", err)
			}
			if want := h.want(t, week); strings.Join(rows, "\n") != strings.Join(want, "\n") {
				t.Errorf("rows differ from the stub's:\n%s", strings.Join(rows, "\n"))
			}
			for path, n := range requests {
				method, suffix, _ := strings.Cut(path, " ")
				if got := h.count(method, suffix); got != n {
					t.Errorf("%d requests %s, want %d", got, path, n)
				}
			}
		}
	}
	is := func(target any, also ...error) outcome {
		return func(t *testing.T, h *harness, _ []string, err error) {
			if !errors.As(err, target) {
				t.Fatalf("want %T, got %v", target, err)
			}
			for _, e := range also {
				if !errors.Is(err, e) {
					t.Errorf("want errors.Is(%v), got %v", e, err)
				}
			}
			var ee *client.ExecutionError
			if errors.As(err, &ee) && ee.ExecutionID == "" {
				t.Errorf("an ExecutionError without the id: %v", err)
			}
		}
	}
	both := func(outcomes ...outcome) outcome {
		return func(t *testing.T, h *harness, rows []string, err error) {
			for _, o := range outcomes {
				o(t, h, rows, err)
			}
		}
	}
	requests := func(path string, n int) outcome {
		return func(t *testing.T, h *harness, _ []string, _ error) {
			method, suffix, _ := strings.Cut(path, " ")
			if got := h.count(method, suffix); got != n {
				t.Errorf("%d requests %s, want %d", got, path, n)
			}
		}
	}
	const foreign = "http://127.0.0.2:9"
	const token, query, results = "POST /oauth/token", "POST /api/v2/usage/query", "GET /results"
	for _, tc := range []struct {
		route   usagetest.Route
		fault   usagetest.Fault
		every   bool          // on every request of the route, not only the first
		bad     bool          // the fault breaks the spec on purpose
		atLeast time.Duration // the run cannot be shorter
		wire    string        // what a results answer must show on the wire
		want    outcome
	}{
		{route: usagetest.RouteToken, fault: usagetest.TokenRateLimited(), want: ok(map[string]int{token: 2})},
		{route: usagetest.RouteToken, fault: usagetest.RateLimited("2"), atLeast: 2 * time.Second, want: ok(map[string]int{token: 2})},
		{route: usagetest.RouteToken, fault: usagetest.RateLimited(httpDate), atLeast: 5 * time.Second, want: ok(map[string]int{token: 2})},
		{route: usagetest.RouteToken, fault: usagetest.HTMLError(502), want: ok(map[string]int{token: 2})},
		{route: usagetest.RouteToken, fault: usagetest.HTMLError(503), want: ok(map[string]int{token: 2})},
		{route: usagetest.RouteToken, fault: usagetest.HTMLError(504), want: ok(map[string]int{token: 2})},
		{route: usagetest.RouteToken, fault: usagetest.DropConnection(), want: ok(map[string]int{token: 2})},
		{route: usagetest.RouteToken, fault: usagetest.Slow(5 * time.Second), atLeast: 5 * time.Second, want: ok(map[string]int{token: 1})},
		{route: usagetest.RouteToken, fault: usagetest.TruncatedJSON(), want: both(is(new(*client.AuthError)), requests(token, 1), requests(query, 0))},
		{route: usagetest.RouteToken, fault: usagetest.InvalidJSON(), want: both(is(new(*client.AuthError)), requests(token, 1), requests(query, 0))},
		{route: usagetest.RouteToken, fault: usagetest.TokenRateLimited(), every: true, want: both(is(new(*client.AuthError)), requests(token, 6))},

		{route: usagetest.RouteQuery, fault: usagetest.RateLimited("2"), atLeast: 2 * time.Second, want: ok(map[string]int{query: 2})},
		{route: usagetest.RouteQuery, fault: usagetest.RateLimited(httpDate), atLeast: 5 * time.Second, want: ok(map[string]int{query: 2})},
		{route: usagetest.RouteQuery, fault: usagetest.RateLimited("600"), want: func(t *testing.T, h *harness, _ []string, err error) {
			var rl *client.RateLimitError
			if !errors.As(err, &rl) || rl.RetryAfter != 10*time.Minute {
				t.Fatalf("want a *client.RateLimitError with RetryAfter 10m at once, got %v", err)
			}
			requests(query, 1)(t, h, nil, err)
		}},
		{route: usagetest.RouteQuery, fault: usagetest.RateLimited("1"), every: true, want: both(is(new(*client.RateLimitError)), requests(query, 5))},
		// A proxy's 502, 503 (without Retry-After) or 504, or a dropped
		// connection, may hide a query that started: the POST is not
		// sent again (issue 16).
		{route: usagetest.RouteQuery, fault: usagetest.HTMLError(502), want: both(is(new(*client.APIError)), requests(query, 1))},
		{route: usagetest.RouteQuery, fault: usagetest.HTMLError(503), want: both(is(new(*client.APIError)), requests(query, 1))},
		{route: usagetest.RouteQuery, fault: usagetest.HTMLError(504), want: both(is(new(*client.APIError)), requests(query, 1))},
		{route: usagetest.RouteQuery, fault: usagetest.DropConnection(), want: both(is(new(error), client.ErrMaybeStarted), requests(query, 1))},
		{route: usagetest.RouteQuery, fault: usagetest.Slow(30 * time.Second), atLeast: 30 * time.Second, want: ok(map[string]int{query: 1})},
		{route: usagetest.RouteQuery, fault: usagetest.TruncatedJSON(), bad: true, want: is(new(*client.DecodeError))},
		{route: usagetest.RouteQuery, fault: usagetest.InvalidJSON(), bad: true, want: is(new(*client.DecodeError))},
		{route: usagetest.RouteQuery, fault: usagetest.RevokeToken(), want: ok(map[string]int{token: 2, query: 2})},
		{route: usagetest.RouteQuery, fault: usagetest.ForeignResultsURI(foreign), want: ok(nil)},

		{route: usagetest.RouteResults, fault: usagetest.RateLimited("3"), atLeast: 3 * time.Second, want: ok(map[string]int{results: 3})},
		{route: usagetest.RouteResults, fault: usagetest.RateLimited(httpDate), atLeast: 5 * time.Second, want: ok(map[string]int{results: 3})},
		{route: usagetest.RouteResults, fault: usagetest.HTMLError(502), want: ok(map[string]int{results: 3})},
		{route: usagetest.RouteResults, fault: usagetest.HTMLError(503), want: ok(map[string]int{results: 3})},
		{route: usagetest.RouteResults, fault: usagetest.HTMLError(504), want: ok(map[string]int{results: 3})},
		{route: usagetest.RouteResults, fault: usagetest.HTMLError(502), every: true, want: both(is(new(*client.ExecutionError)), is(new(*client.APIError)), requests(results, 5))},
		{route: usagetest.RouteResults, fault: usagetest.DropConnection(), want: ok(map[string]int{results: 3})},
		{route: usagetest.RouteResults, fault: usagetest.Slow(time.Minute), atLeast: time.Minute, want: ok(map[string]int{results: 2})},
		{route: usagetest.RouteResults, fault: usagetest.TruncatedJSON(), bad: true, want: ok(map[string]int{results: 2})},
		{route: usagetest.RouteResults, fault: usagetest.InvalidJSON(), bad: true, want: ok(map[string]int{results: 2})},
		{route: usagetest.RouteResults, fault: usagetest.TruncatedJSON(), every: true, bad: true, want: is(new(*client.DecodeError))},
		{route: usagetest.RouteResults, fault: usagetest.InvalidJSON(), every: true, bad: true, want: both(is(new(*client.ExecutionError)), is(new(*client.DecodeError)), requests(results, 3))},
		{route: usagetest.RouteResults, fault: usagetest.UnknownStatus("Queued"), bad: true, want: is(new(*client.ExecutionError), client.ErrUnknownStatus)},
		{route: usagetest.RouteResults, fault: usagetest.NonUTCDate("+02:00"), every: true, wire: `"2024-01-01T02:00:00+02:00"`, want: ok(nil)},
		{route: usagetest.RouteResults, fault: usagetest.RevokeToken(), want: ok(map[string]int{token: 2, results: 3})},
	} {
		name, nth := string(tc.route)+"/"+tc.fault.String(), 1
		if tc.every {
			name, nth = name+"/every", 0
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				allow := usagetest.Route("")
				if tc.bad {
					allow = tc.route
				}
				h := newHarness(t, allow, []usagetest.Option{
					usagetest.WithRunning(1, 0), usagetest.WithFault(tc.route, nth, tc.fault)})
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
				defer cancel()
				start := time.Now()
				rows, err := h.collect(t, ctx, week)
				if d := time.Since(start); d < tc.atLeast {
					t.Errorf("done after %v: the fault cannot have been waited out", d)
				}
				tc.want(t, h, rows, err)
				if tc.wire != "" && !strings.Contains(strings.Join(h.check.answers, ""), tc.wire) {
					t.Errorf("no results answer shows %s", tc.wire)
				}
				for _, host := range h.check.hosts {
					if "http://"+host == foreign {
						t.Errorf("a request went to the foreign resultsUri origin %s", foreign)
					}
				}
				if err != nil && (strings.Contains(err.Error(), h.srv.ClientSecret) || strings.Contains(err.Error(), "Bearer")) {
					t.Errorf("error leaks a credential: %v", err)
				}
			})
		})
	}
}

// An error answer is an *APIError with Genesys' code and the correlation
// id, which the stub also put in contextId.
func TestAPIErrorCarriesCodeAndCorrelationID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", nil)
		_, err := h.c.Wait(t.Context(), "no-such-execution")
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Code != "not.found" || ae.CorrelationID == "" {
			t.Fatalf("want a 404 not.found *APIError with a correlation id, got %v", err)
		}
		var body gen.ErrorBody
		if err := json.Unmarshal(ae.Body, &body); err != nil || body.ContextID == nil || *body.ContextID != ae.CorrelationID {
			t.Errorf("correlation id %q does not match the body's contextId (%v)", ae.CorrelationID, err)
		}
		var ee *client.ExecutionError
		if !errors.As(err, &ee) || ee.ExecutionID != "no-such-execution" {
			t.Errorf("want the execution id kept, got %v", err)
		}
	})
}

func TestBadCredentialsGiveAnAuthErrorWithoutTheSecret(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := usagetest.NewServer(t, usagetest.InMemory())
		const secret = "wrong-secret-do-not-print"
		c, err := client.New(client.WithNow(srv.Now), client.WithBaseURLs(srv.URL, srv.LoginURL),
			client.WithClientCredentials(srv.ClientID, secret),
			client.WithHTTPClient(&http.Client{Transport: srv.Transport()}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Run(t.Context(), week)
		var ae *client.AuthError
		if !errors.As(err, &ae) || ae.StatusCode != 401 {
			t.Fatalf("want a 401 *client.AuthError, got %v", err)
		}
		if s := fmt.Sprintf("%v %+v %#v", err, err, c); strings.Contains(s, secret) {
			t.Errorf("the secret leaks: %s", s)
		}
	})
}

// The validating transport must itself be able to fail: a request and an
// answer outside the spec are both reported.
func TestSpecCheckCatchesDrift(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "*", []usagetest.Option{usagetest.WithFault(usagetest.RouteResults, 1, usagetest.UnknownStatus("Queued"))})
		post, _ := http.NewRequest("POST", h.srv.URL+"/api/v2/usage/query", strings.NewReader(`{"interval":"2024-01-01/2024-01-08","groupBy":["OauthClientId"]}`))
		post.Header.Set("Content-Type", "application/json")
		if resp, err := h.check.RoundTrip(post); err == nil {
			resp.Body.Close()
		}
		_, err := h.c.Run(t.Context(), week)
		if !errors.Is(err, client.ErrUnknownStatus) {
			t.Fatalf("want ErrUnknownStatus, got %v", err)
		}
		var got string
		for _, v := range h.check.violations {
			got += v.String() + "\n"
		}
		for _, want := range []string{"POST /api/v2/usage/query: request:", "no bearer token", "OauthClientId", "/results: response 200:", "Queued"} {
			if !strings.Contains(got, want) {
				t.Errorf("violations do not mention %q:\n%s", want, got)
			}
		}
	})
}

// A token endpoint that does not answer cannot hold the caller past its
// context: oauth2.TokenSource has none, so the client must not wait on it.
func TestTokenFetchEndsWithTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{usagetest.WithFault(usagetest.RouteToken, 1, usagetest.Slow(time.Hour))})
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := h.c.Start(ctx, week)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want DeadlineExceeded, got %v", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("Start returned after %v, want the context's 1s", d)
		}
		// The fetch goes on aside for the next caller, within its own
		// bounds; the bubble ends only once it has, which proves them.
		time.Sleep(2 * time.Minute)
	})
}

// A poll waiting for another poll of the same handle still ends with its
// own context.
func TestConcurrentPollsKeepTheirOwnDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{usagetest.WithRunning(5, 0),
			usagetest.WithFault(usagetest.RouteResults, 1, usagetest.Slow(time.Minute))})
		e, err := h.c.Start(t.Context(), week)
		if err != nil {
			t.Fatal(err)
		}
		go e.Poll(t.Context()) // stuck for a minute in the slow answer
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, err = e.Poll(ctx)
		var ee *client.ExecutionError
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ee) || ee.ExecutionID != e.ID {
			t.Fatalf("want an ExecutionError for %s wrapping DeadlineExceeded, got %v", e.ID, err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("the second poll returned after %v, want its own 1s", d)
		}
		time.Sleep(time.Minute) // let the first poll end inside the bubble
	})
}

// A query that ends a little before the caller's deadline is seen: the
// last delay is cut short instead of sleeping past the deadline.
func TestWaitLooksOnceMoreBeforeItsDeadline(t *testing.T) {
	for trial := range 20 {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, "", []usagetest.Option{usagetest.WithRunning(0, 55*time.Second)})
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if _, err := h.collect(t, ctx, week); err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
		})
	}
}

// The retry policy's MaxElapsed bounds the attempts themselves, not only
// the waits between them: a server that never begins its answer cannot
// hold a call past the budget.
func TestRetryBudgetBoundsASilentServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{usagetest.WithFault(usagetest.RouteQuery, 0, usagetest.Slow(time.Hour))},
			client.WithRetryPolicy(client.RetryPolicy{MaxElapsed: time.Minute}))
		start := time.Now()
		_, err := h.c.Start(t.Context(), week)
		if err == nil || !strings.Contains(err.Error(), "MaxElapsed") || strings.Contains(err.Error(), "%!") {
			t.Fatalf("want the budget named in the error, got %v", err)
		}
		if d := time.Since(start); d != time.Minute {
			t.Errorf("Start returned after %v, want the 1m budget", d)
		}
	})
}

// A token is renewed a minute before it expires, so that a long wait never
// sends an expired one: no request is refused.
func TestTokenRenewedBeforeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, "", []usagetest.Option{usagetest.WithTokenLifetime(2 * time.Minute), usagetest.WithRunning(0, 5*time.Minute)})
		if _, err := h.collect(t, t.Context(), week); err != nil {
			t.Fatal(err)
		}
		if n := h.count("POST", "/oauth/token"); n < 4 {
			t.Errorf("%d token requests in a 5-minute wait with 2-minute tokens, want one a minute or so", n)
		}
		if h.check.refused != 0 {
			t.Errorf("%d requests were refused with 401: a token expired on its way", h.check.refused)
		}
	})
}

// TestRealAnswerShape replays answers in the shape of the real API's
// captured exchange (202 with a relative resultsUri, exactly
// {"queryStatus":"Running"} while running, then results before
// queryStatus, every key in every row, "" for the dimensions not grouped
// by, dates without a fraction, no date without granularity), validated
// against the spec, and gets every row with one GET of the complete answer.
func TestRealAnswerShape(t *testing.T) {
	row := func(id, name, date string, s400, s429 int) string {
		r := fmt.Sprintf(`{"clientId":%q,"clientName":%q,"organizationId":"","userId":"","templateUri":"api/v2/users/{userId}/presences/{sourceId}","httpMethod":"",`+
			`"status200":0,"status300":0,"status400":%d,"status500":0,"status429":%d,"requests":%d`, id, name, s400, s429, s400)
		if date != "" {
			r += `,"date":"` + date + `"`
		}
		return r + "}"
	}
	for _, tc := range []struct {
		name string
		q    client.Query
		rows []string
	}{
		{"totals", client.Query{Interval: "2020-02-01/2020-02-28", GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID, gen.GroupByTemplateURI}},
			[]string{row("c1", "Nightly export", "", 8, 8), row("c2", "CRM sync", "", 3, 0)}},
		{"daily", client.Query{Interval: "2020-01/2020-06", Granularity: gen.GranularityDay, GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID, gen.GroupByTemplateURI}},
			[]string{row("c1", "Nightly export", "2020-02-02T00:00:00Z", 8, 8), row("c1", "Nightly export", "2020-02-28T00:00:00Z", 1, 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var gets atomic.Int32
				api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.Header().Set("inin-correlation-id", "corr")
					if r.Method == http.MethodPost {
						w.WriteHeader(http.StatusAccepted)
						io.WriteString(w, `{"executionId":"af056f0c","resultsUri":"/api/v2/usage/query/af056f0c/results"}`)
						return
					}
					if gets.Add(1) == 1 {
						io.WriteString(w, `{"queryStatus":"Running"}`)
						return
					}
					io.WriteString(w, `{"results":[`+strings.Join(tc.rows, ",")+`],"queryStatus":"Complete"}`)
				})
				check := newSpecCheck(t, inMemory(api))
				c, err := client.New(client.WithBaseURLs("http://127.0.0.1:9", ""), client.WithAccessToken("tok"),
					client.WithHTTPClient(&http.Client{Transport: check}), client.WithNow(func() time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) }))
				if err != nil {
					t.Fatal(err)
				}
				res, err := c.Run(t.Context(), tc.q)
				if err != nil {
					t.Fatal(err)
				}
				rows, err := res.All()
				if err != nil || len(rows) != len(tc.rows) {
					t.Fatalf("%d rows, %v; want %d", len(rows), err, len(tc.rows))
				}
				for i, r := range rows {
					var want gen.APIUsageRow
					if err := json.Unmarshal([]byte(tc.rows[i]), &want); err != nil {
						t.Fatal(err)
					}
					if r != want || r.UserID != "" || r.Date.IsZero() != (tc.q.Granularity == "") {
						t.Errorf("row %d = %+v\nwant    %+v", i, r, want)
					}
				}
				if n := gets.Load(); n != 2 {
					t.Errorf("%d results GETs, want 2: one Running, one Complete that the rows stream from", n)
				}
				for _, v := range check.violations {
					t.Error(v)
				}
			})
		})
	}
}

// inMemory serves h without a socket, which would hang a synctest bubble.
type inMemory http.HandlerFunc

func (h inMemory) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	h(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
