package usagetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

func TestRateLimited(t *testing.T) {
	date := time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
	s := usagetest.NewServer(t,
		usagetest.WithFault(usagetest.RouteQuery, 1, usagetest.RateLimited("3")),
		usagetest.WithFault(usagetest.RouteQuery, 2, usagetest.RateLimited(date)))
	c := newClient(t, s, false)
	for _, want := range []struct{ retryAfter, inMessage string }{{"3", "[3] seconds"}, {date, "seconds"}} {
		res, b := c.do(http.MethodPost, "/api/v2/usage/query", "application/json", weekQuery, c.bearer)
		e := errorBody(t, res, b)
		if res.StatusCode != 429 || res.Header.Get("Retry-After") != want.retryAfter ||
			*e.Code != "too.many.requests.retry.after" || !strings.Contains(*e.Message, want.inMessage) {
			t.Errorf("%d Retry-After %q %s; want 429 Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"), b, want.retryAfter)
		}
	}
	if status, _ := c.post(weekQuery); status != http.StatusAccepted {
		t.Errorf("third POST: %d, want 202 once the faults have passed", status)
	}
	if n := len(s.Requests()); n != 4 {
		t.Errorf("%d requests recorded, want 4 (faulted ones included)", n)
	}
}

func TestHTMLError(t *testing.T) {
	for _, status := range []int{502, 503, 504} {
		s := usagetest.NewServer(t, usagetest.WithFault(usagetest.RouteResults, 1, usagetest.HTMLError(status)))
		c := newClient(t, s, false)
		_, e := c.post(weekQuery)
		res, b := c.poll(*e.ExecutionID)
		if res.StatusCode != status || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "<html>") {
			t.Errorf("HTMLError(%d): %d %s %q", status, res.StatusCode, res.Header.Get("Content-Type"), b)
		}
		if r := c.pollResult(*e.ExecutionID); *r.QueryStatus != gen.QueryStatusRunning {
			t.Errorf("HTMLError(%d): the faulted poll counted as a poll: next is %s", status, *r.QueryStatus)
		}
	}
}

func TestDropConnection(t *testing.T) {
	for _, inMemory := range []bool{false, true} {
		opts := []usagetest.Option{usagetest.WithFault(usagetest.RouteQuery, 1, usagetest.DropConnection())}
		if inMemory {
			opts = append(opts, usagetest.InMemory())
		}
		s := usagetest.NewServer(t, opts...)
		c := newClient(t, s, inMemory)
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v2/usage/query", strings.NewReader(weekQuery))
		req.Header.Set("Content-Type", "application/json")
		c.bearer(req)
		if res, err := c.http.Do(req); err == nil {
			res.Body.Close()
			t.Errorf("in memory %v: the dropped request was answered %d", inMemory, res.StatusCode)
		}
		if status, _ := c.post(weekQuery); status != http.StatusAccepted {
			t.Errorf("in memory %v: the next POST got %d", inMemory, status)
		}
	}
}

func TestSlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := usagetest.NewServer(t, usagetest.InMemory(),
			usagetest.WithFault(usagetest.RouteQuery, 1, usagetest.Slow(time.Minute)),
			usagetest.WithFault(usagetest.RouteQuery, 2, usagetest.Slow(time.Hour)))
		c := newClient(t, s, true)
		start := time.Now()
		if status, _ := c.post(weekQuery); status != http.StatusAccepted || time.Since(start) != time.Minute {
			t.Errorf("Slow(1m): %d after %v", status, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/v2/usage/query", strings.NewReader(weekQuery))
		req.Header.Set("Content-Type", "application/json")
		c.bearer(req)
		start = time.Now()
		if _, err := c.http.Do(req); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Errorf("Slow(1h) with a 1s deadline: %v after %v", err, time.Since(start))
		}
	})
}

func TestBodyFaults(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithRunning(0, 0),
		usagetest.WithFault(usagetest.RouteResults, 1, usagetest.TruncatedJSON()),
		usagetest.WithFault(usagetest.RouteResults, 2, usagetest.InvalidJSON()),
		usagetest.WithFault(usagetest.RouteResults, 3, usagetest.UnknownStatus("Queued")),
		usagetest.WithFault(usagetest.RouteResults, 4, usagetest.NonUTCDate("+02:00")),
		usagetest.WithFault(usagetest.RouteToken, 2, usagetest.TruncatedJSON()))
	c := newClient(t, s, false)
	_, e := c.post(`{"interval":"2024-01-01/2024-01-07","granularity":"Day"}`)
	id := *e.ExecutionID
	_, truncated := c.poll(id)
	_, invalid := c.poll(id)
	_, unknown := c.poll(id)
	_, shifted := c.poll(id)
	_, full := c.poll(id)
	rowsFrom, rowsTo := len(`{"results":[`), strings.LastIndex(string(full), "]")
	if !strings.HasPrefix(string(full), string(truncated)) || len(truncated) != (rowsFrom+rowsTo)/2 || json.Valid(truncated) ||
		strings.Contains(string(truncated), "queryStatus") {
		t.Errorf("TruncatedJSON: %d of %d bytes, valid %v; want the body cut in the middle of its rows", len(truncated), len(full), json.Valid(truncated))
	}
	if json.Valid(invalid) || len(invalid) != len(full) {
		t.Errorf("InvalidJSON: %.60s", invalid)
	}
	if want := strings.TrimSuffix(string(full), `"Complete"}`) + `"Queued"}`; string(unknown) != want {
		t.Errorf("UnknownStatus on a finished query: %s; want its rows, then the status", unknown)
	}
	var a, b gen.APIUsageQueryResult
	if err := json.Unmarshal(shifted, &a); err != nil || json.Unmarshal(full, &b) != nil || len(a.Results) != len(b.Results) {
		t.Fatalf("NonUTCDate: %v %.80s", err, shifted)
	}
	for i := range a.Results {
		if _, off := a.Results[i].Date.Zone(); off != 2*3600 || !a.Results[i].Date.Equal(b.Results[i].Date) {
			t.Errorf("row %d: %v; want %v at +02:00", i, a.Results[i].Date, b.Results[i].Date)
		}
	}
	if !strings.Contains(string(shifted), `T02:00:00+02:00"`) {
		t.Errorf("NonUTCDate: %.120s", shifted)
	}
	res, tok := c.do(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials",
		func(r *http.Request) { r.SetBasicAuth(s.ClientID, s.ClientSecret) })
	if res.StatusCode != 200 || json.Valid(tok) {
		t.Errorf("TruncatedJSON on the token: %d %s", res.StatusCode, tok)
	}
}

func TestUnknownStatusIsNoPoll(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithFault(usagetest.RouteResults, 1, usagetest.UnknownStatus("Queued")))
	c := newClient(t, s, false)
	_, e := c.post(weekQuery)
	var got []string
	for range 3 {
		_, b := c.poll(*e.ExecutionID)
		var r struct{ QueryStatus string }
		json.Unmarshal(b, &r)
		got = append(got, r.QueryStatus)
	}
	if strings.Join(got, ",") != "Queued,Running,Complete" {
		t.Errorf("statuses %v, want Queued,Running,Complete", got)
	}
}

func TestRevokeToken(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithFault(usagetest.RouteResults, 2, usagetest.RevokeToken()))
	c := newClient(t, s, false)
	_, e := c.post(weekQuery)
	if res, _ := c.poll(*e.ExecutionID); res.StatusCode != 200 {
		t.Fatalf("first poll: %d", res.StatusCode)
	}
	for i := range 2 {
		res, b := c.poll(*e.ExecutionID)
		if e := errorBody(t, res, b); res.StatusCode != 401 || *e.Code != "authentication.required" {
			t.Errorf("poll %d after revocation: %d %s", i+2, res.StatusCode, b)
		}
	}
	c.token = c.fetchToken()
	if r := c.pollResult(*e.ExecutionID); *r.QueryStatus != gen.QueryStatusComplete {
		t.Errorf("with a new token: %s", *r.QueryStatus)
	}
}

func TestForeignResultsURI(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithFault(usagetest.RouteQuery, 1, usagetest.ForeignResultsURI("http://127.0.0.2:9/")))
	c := newClient(t, s, false)
	_, e := c.post(weekQuery)
	if want := "http://127.0.0.2:9/api/v2/usage/query/" + *e.ExecutionID + "/results"; *e.ResultsURI != want {
		t.Errorf("resultsUri %q, want %q", *e.ResultsURI, want)
	}
}

func TestFaultEveryAndInject(t *testing.T) {
	s := usagetest.NewServer(t)
	c := newClient(t, s, false)
	c.post(weekQuery)
	c.post(weekQuery)
	s.Inject(usagetest.RouteQuery, 2, usagetest.HTMLError(503)) // the second POST from now, not the second ever
	var got []int
	for range 3 {
		status, _ := c.post(weekQuery)
		got = append(got, status)
	}
	s.Inject(usagetest.RouteQuery, 0, usagetest.RateLimited("1"))
	for range 2 {
		status, _ := c.post(weekQuery)
		got = append(got, status)
	}
	if want := []int{202, 503, 202, 429, 429}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if _, err := s.Rows(gen.APIUsageQuery{Interval: "yesterday"}); err == nil || !strings.Contains(err.Error(), "interval") {
		t.Errorf("Rows of a bad interval: %v", err)
	}
}
