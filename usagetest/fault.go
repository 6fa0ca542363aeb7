package usagetest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Route names one endpoint of the stub, so that a fault can target it.
type Route string

// The routes of the stub.
const (
	RouteToken   Route = "token"   // POST /oauth/token
	RouteQuery   Route = "query"   // POST /api/v2/usage/query
	RouteResults Route = "results" // GET /api/v2/usage/query/{executionId}/results

	RouteClientQuery   Route = "client-query"   // POST /api/v2/oauth/clients/{clientId}/usage/query
	RouteClientResults Route = "client-results" // GET /api/v2/oauth/clients/{clientId}/usage/query/results/{executionId}
	RouteSummary       Route = "summary"        // GET /api/v2/oauth/clients/{clientId}/usage/summary
	RouteSearch        Route = "search"         // POST /api/v2/usage/simplesearch
	RouteSearchResults Route = "search-results" // GET /api/v2/usage/simplesearch/{executionId}/results
)

// The routes that start executions, and those that poll them, for the
// faults that apply to one kind only.
var (
	startRoutes   = []Route{RouteQuery, RouteClientQuery, RouteSummary, RouteSearch}
	resultsRoutes = []Route{RouteResults, RouteClientResults, RouteSearchResults}
)

// Fault is a misbehaviour scripted for one request (or all requests) to a
// route; build one with the constructors below.
type Fault struct {
	kind  faultKind
	code  int
	text  string
	delay time.Duration
	gate  *barrier
}

type faultKind int

const (
	faultRateLimited faultKind = iota + 1
	faultHTML
	faultDrop
	faultSlow
	faultTruncated
	faultInvalidJSON
	faultUnknownStatus
	faultNonUTCDate
	faultRevoke
	faultForeignResults
	faultTokenRateLimited
	faultJobFailed
	faultJobCancelled
	faultMaxResponseSize
	faultBarrier
)

// RateLimited answers 429 too.many.requests.retry.after with the given
// Retry-After value: seconds ("3") or an HTTP-date. Its rate-limit headers
// say the limit is spent: inin-ratelimit-count 301 of 300, reset in the
// Retry-After seconds.
func RateLimited(retryAfter string) Fault {
	return Fault{kind: faultRateLimited, code: http.StatusTooManyRequests, text: retryAfter}
}

// HTMLError answers status (502, 503 or 504) with the HTML page a proxy in
// front of Genesys Cloud would send instead of an ErrorBody.
func HTMLError(status int) Fault { return Fault{kind: faultHTML, code: status} }

// DropConnection closes the connection without an answer; through
// Transport the round trip fails with an error instead.
func DropConnection() Fault { return Fault{kind: faultDrop} }

// Slow waits d before handling the request; the wait ends early when the
// client gives up. Inside a synctest bubble d passes in virtual time.
func Slow(d time.Duration) Fault { return Fault{kind: faultSlow, delay: d} }

// TruncatedJSON sends the normal body cut short: in the middle of its rows
// when it has some (so a results-first answer loses its queryStatus too),
// else at half its length.
func TruncatedJSON() Fault { return Fault{kind: faultTruncated} }

// InvalidJSON sends the normal body with its first ':' replaced by '=', so
// that a decoder fails near the start rather than at the end.
func InvalidJSON() Fault { return Fault{kind: faultInvalidJSON} }

// UnknownStatus answers a results poll with status, a value the spec does
// not know (such as "Queued"), where the status goes: {"queryStatus":
// status} for a query still running or failed, and after the rows of a
// complete one (before them WithStatusFirst). The execution does not
// advance: it is not counted as a poll.
func UnknownStatus(status string) Fault { return Fault{kind: faultUnknownStatus, text: status} }

// NonUTCDate renders the dates of the result rows at the given offset,
// such as "+02:00": the same instants, in another zone. Totals (a query
// without granularity) have no date to render.
func NonUTCDate(offset string) Fault { return Fault{kind: faultNonUTCDate, text: offset} }

// RevokeToken revokes the bearer token the request carries, so that it and
// every later request with that token are answered 401
// authentication.required. A new token from the token endpoint works.
func RevokeToken() Fault { return Fault{kind: faultRevoke} }

// ForeignResultsURI makes the POST answer a resultsUri on origin (such as
// "http://127.0.0.2:9"), which a careful client refuses to follow.
func ForeignResultsURI(origin string) Fault { return Fault{kind: faultForeignResults, text: origin} }

// Barrier holds each request it fires on until n of them are held at
// once, then lets those n go on together, and the next n after them: with
// WithFault(RouteQuery, 0, Barrier(3)) no query is started until three are
// being posted at the same time, which proves without any clock that three
// clients (the clients of three orgs, say) run at once. Where they do not,
// the requests wait for ever, or until their clients give up: a held
// request ends without an answer when its context does. One Barrier value
// counts the requests of every route and org it is scripted on.
func Barrier(n int) Fault { return Fault{kind: faultBarrier, code: n, gate: &barrier{n: n}} }

// barrier is the state of a Barrier: the requests held in the current
// round, released together by closing release.
type barrier struct {
	n       int
	mu      sync.Mutex
	held    int
	release chan struct{}
}

// wait holds until the round of this request is full, and reports false
// when ctx ended first.
func (b *barrier) wait(ctx context.Context) bool {
	b.mu.Lock()
	if b.release == nil {
		b.release = make(chan struct{})
	}
	round := b.release
	if b.held++; b.held == b.n {
		close(round)
		b.release, b.held = nil, 0
	}
	b.mu.Unlock()
	select {
	case <-round:
		return true
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.release == round { // the round is still filling: leave it
			b.held--
		}
		return false
	}
}

// TokenRateLimited makes the token endpoint answer 400 invalid_request
// "rate limit exceeded", as Genesys Cloud does under load.
func TokenRateLimited() Fault { return Fault{kind: faultTokenRateLimited} }

var faultNames = [...]string{faultRateLimited: "RateLimited", faultHTML: "HTMLError", faultDrop: "DropConnection",
	faultSlow: "Slow", faultTruncated: "TruncatedJSON", faultInvalidJSON: "InvalidJSON",
	faultUnknownStatus: "UnknownStatus", faultNonUTCDate: "NonUTCDate", faultRevoke: "RevokeToken",
	faultForeignResults: "ForeignResultsURI", faultTokenRateLimited: "TokenRateLimited",
	faultJobFailed: "JobFailed", faultJobCancelled: "JobCancelled", faultMaxResponseSize: "MaxResponseSize",
	faultBarrier: "Barrier"}

// String names the fault as the call that builds it, for messages.
func (f Fault) String() string {
	arg := ""
	switch {
	case f.kind == 0:
		return "Fault{}"
	case f.kind == faultHTML || f.kind == faultMaxResponseSize || f.kind == faultBarrier:
		arg = strconv.Itoa(f.code)
	case f.kind == faultSlow:
		arg = f.delay.String()
	case f.text != "":
		arg = strconv.Quote(f.text)
	}
	return faultNames[f.kind] + "(" + arg + ")"
}

// check says why f cannot be scripted on route, so that a test that asks
// for a meaningless fault fails at once instead of silently passing.
func (f Fault) check(route Route, nth int) error {
	only := map[faultKind][]Route{
		faultUnknownStatus:    append(slices.Clone(resultsRoutes), RouteJobResults),
		faultJobFailed:        {RouteJobs},
		faultJobCancelled:     {RouteJobs},
		faultMaxResponseSize:  {RouteJobResults},
		faultNonUTCDate:       resultsRoutes,
		faultForeignResults:   startRoutes,
		faultRevoke:           append(slices.Concat(startRoutes, resultsRoutes), RouteJobs, RouteJobResults),
		faultTokenRateLimited: {RouteToken},
	}
	switch {
	case route != RouteToken && route != RouteJobs && route != RouteJobResults && !slices.Contains(startRoutes, route) && !slices.Contains(resultsRoutes, route):
		return fmt.Errorf("usagetest: unknown route %q (want RouteToken, RouteQuery, RouteResults, RouteClientQuery, RouteClientResults, RouteSummary, RouteSearch, RouteSearchResults, RouteJobs or RouteJobResults)", route)
	case f.kind == 0:
		return fmt.Errorf("usagetest: zero Fault: build one with a constructor such as RateLimited")
	case nth < 0:
		return fmt.Errorf("usagetest: fault %v on %s: nth is %d, want 0 (every request) or more", f, route, nth)
	case f.kind == faultHTML && (f.code < 502 || f.code > 504):
		return fmt.Errorf("usagetest: HTMLError(%d): the status must be 502, 503 or 504", f.code)
	case f.kind == faultBarrier && f.code < 1:
		return fmt.Errorf("usagetest: Barrier(%d): want at least 1 request to hold", f.code)
	case f.kind == faultRateLimited && f.text == "":
		return fmt.Errorf("usagetest: RateLimited: Retry-After is empty, want seconds or an HTTP-date")
	case f.kind == faultNonUTCDate:
		if _, err := parseOffset(f.text); err != nil {
			return err
		}
	}
	if routes, ok := only[f.kind]; ok {
		for _, r := range routes {
			if r == route {
				return nil
			}
		}
		return fmt.Errorf("usagetest: fault %v does not apply to route %s (only %v)", f, route, routes)
	}
	return nil
}

// parseOffset reads "+02:00" or "-05:30" as seconds east of UTC.
func parseOffset(s string) (int, error) {
	t, err := time.Parse("-07:00", s)
	if err != nil {
		return 0, fmt.Errorf("usagetest: NonUTCDate(%q): want an offset such as +02:00", s)
	}
	_, off := t.Zone()
	return off, nil
}

// scripted is a fault waiting for the request it targets.
type scripted struct {
	route Route
	at    int // the route's request count that fires it; 0 = every request
	fault Fault
	org   *org // when set, it fires on this org's requests only, counted among them
}
