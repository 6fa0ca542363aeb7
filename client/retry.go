package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// RetryPolicy bounds the retries of one API call. A zero field takes its
// default.
type RetryPolicy struct {
	MaxAttempts int // attempts in all, first included; default 5
	// MaxElapsed bounds all attempts, waits and answers of a call, but the
	// rows of a query's answer, which stream for as long as the context
	// allows; each page of a job or a search is read within it too, not
	// counting the time the caller holds its rows. Default 3m.
	MaxElapsed time.Duration
	MinDelay   time.Duration // first backoff cap; default 500ms
	MaxDelay   time.Duration // largest backoff cap; default 20s
	// MaxRetryAfter is the longest server hint worth waiting for: past it
	// the call gives up at once with *RateLimitError. Default 180s, as the
	// official SDK.
	MaxRetryAfter time.Duration
	// OnRetry, when set, is called before each wait between two attempts,
	// of API calls and of token requests, so that a caller can show what
	// failed and what comes next. It may be called from several goroutines
	// at once, and must not block.
	OnRetry func(RetryEvent)
}

// RetryEvent is an attempt that failed and will be tried again.
type RetryEvent struct {
	Attempt      int           // the attempt that failed, 1-based
	Method, Path string        // the request, such as POST /oauth/token
	StatusCode   int           // the answer's status; 0 when none came
	Err          error         // why no answer came; for a token request, the *AuthError its answer made
	Delay        time.Duration // the wait before the next attempt
}

// quickAttempts is how many attempts a refused connection or an unknown
// host gets, with waits of at most quickDelay: neither heals in seconds, so
// the caller hears of it in about two seconds rather than minutes.
const (
	quickAttempts = 3
	quickDelay    = time.Second
)

// hopeless says whether a request that got no answer failed in a way that
// will not change in seconds: nothing listens at the port, or the host's
// name does not exist (errors.As finds the *net.DNSError).
func hopeless(err error) bool {
	var dns *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dns) && dns.IsNotFound
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	def(&p.MaxAttempts, 5)
	def(&p.MaxElapsed, 3*time.Minute)
	def(&p.MinDelay, 500*time.Millisecond)
	def(&p.MaxDelay, 20*time.Second)
	def(&p.MaxRetryAfter, 180*time.Second)
	return p
}

func def[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// backoffCap is min(maxDelay, minDelay·growth^n), the bound of the n-th
// exponential backoff delay.
func backoffCap(n int, minDelay, maxDelay time.Duration, growth float64) time.Duration {
	c := float64(minDelay)
	for i := 0; i < n && c < float64(maxDelay); i++ {
		c *= growth
	}
	return time.Duration(min(c, float64(maxDelay)))
}

// jitter draws a delay in [0, c): "full jitter", so that clients that
// failed together do not retry together.
func jitter(c time.Duration) time.Duration {
	if c <= 0 {
		return 0
	}
	return rand.N(c)
}

// ErrMaybeStarted is what errors.Is finds in the error of a call that
// starts work (Start, StartClient, StartSearch, StartJob, Summary) when the
// request was sent and then the connection failed: the query, search or job
// may have started on the server, where each one counts against the
// organization's rate limit. Such a request is not sent again by the retry
// policy, which sends one again only when it provably never left (the
// connection could not be made) or when the server declined it (429, or 503
// with Retry-After); starting it again is the caller's choice.
var ErrMaybeStarted = errors.New("the request was sent and its answer lost, so the work may have started; it was not sent again")

// maybeStarted is the error of a start whose answer was lost. Its text
// names the request once, though its cause may name it too.
type maybeStarted struct {
	method, path string
	err          error
}

func (e *maybeStarted) Error() string {
	cause := strings.TrimPrefix(strings.TrimPrefix(e.err.Error(), "gcusage: "), e.method+" "+e.path+": ")
	return "gcusage: " + e.method + " " + e.path + ": " + ErrMaybeStarted.Error() + ": " + cause
}

// Unwrap gives errors.Is ErrMaybeStarted, and errors.As the cause.
func (e *maybeStarted) Unwrap() []error { return []error{ErrMaybeStarted, e.err} }

// kind says, through a request's context, what the retry layer must know
// of a request that its method does not tell.
type kind int

const (
	// startsWork: the request is not idempotent, as a POST: a summary's
	// GET starts one too.
	startsWork kind = 1 << iota
	// readWhole: the answer is read whole before it is used, as a POST's,
	// so its body must end within MaxElapsed too: a jobs page.
	readWhole
)

type kindKey struct{}

func withKind(ctx context.Context, k kind) context.Context {
	return context.WithValue(ctx, kindKey{}, k|kindOf(ctx))
}

func kindOf(ctx context.Context) kind {
	k, _ := ctx.Value(kindKey{}).(kind)
	return k
}

// reqKind is the kind of req: every method but GET starts work.
func reqKind(req *http.Request) kind {
	k := kindOf(req.Context())
	if req.Method != http.MethodGet {
		k |= startsWork | readWhole
	}
	return k
}

// retryDoer is the HttpRequestDoer given to the generated client. It sits
// outside the auth transport, so that every attempt gets a valid token.
type retryDoer struct {
	hc  *http.Client
	p   RetryPolicy
	log *slog.Logger
}

// Do sends req until it succeeds, fails for good, or a budget runs out.
// An answer it gives up on is returned as is, for the caller to turn into
// a typed error.
func (r *retryDoer) Do(req *http.Request) (*http.Response, error) {
	ctx, start, k := req.Context(), time.Now(), reqKind(req)
	var last error // the cause of the attempt before, for a context error
	for attempt := 1; ; attempt++ {
		t0, carried := time.Now(), &sent{}
		resp, unsent, err := r.attempt(req, k, start.Add(r.p.MaxElapsed), carried)
		wait, retry := r.decide(resp, err, attempt, k&startsWork != 0 && !unsent)
		// The one step that redacts the transport's errors: after decide,
		// which reads net/http's own error types, and before anything else
		// sees them, the log and the retry event first.
		secrets := carried.secrets()
		err = secrets.err(err)
		logAttempt(r.log, req, resp, err, secrets, attempt, time.Since(t0))
		if !retry || ctx.Err() != nil || (req.Body != nil && req.GetBody == nil) ||
			time.Since(start)+wait > r.p.MaxElapsed {
			if err != nil && (ctx.Err() != nil || errors.Is(err, errBudget)) && last != nil {
				err = &lastCause{err, last}
			}
			if err != nil && k&startsWork != 0 && !unsent && ctx.Err() == nil {
				err = &maybeStarted{method: req.Method, path: req.URL.Path, err: err}
			}
			return resp, r.giveUp(err, attempt)
		}
		last = err
		ev := RetryEvent{Attempt: attempt, Method: req.Method, Path: req.URL.Path, Err: err, Delay: wait}
		if resp != nil {
			ev.StatusCode = resp.StatusCode
			last = fmt.Errorf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
			drain(resp.Body)
		}
		if r.p.OnRetry != nil {
			r.p.OnRetry(ev)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("gcusage: %s %s: %w", req.Method, req.URL.Path, &lastCause{err, last})
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(ctx)
			req.Body = body
		}
	}
}

// errBudget ends an attempt still without an answer, or still sending a
// body that must end, when the call's time budget runs out.
var errBudget = errors.New("the retry policy's MaxElapsed ran out")

// lastCause is a context error met while retrying, with the failure that
// made the retry: "context deadline exceeded" alone would hide that the
// server refused every connection. errors.Is finds the context error.
type lastCause struct{ err, last error }

// Error is the context error, then the last cause.
func (e *lastCause) Error() string {
	return e.err.Error() + "; last error: " + strings.TrimPrefix(e.last.Error(), "gcusage: ")
}

// Unwrap gives the context error only: the last cause is history, and an
// *AuthError in it must not make the whole look like a refused login.
func (e *lastCause) Unwrap() error { return e.err }

// attempt sends req once. Its answer must begin by deadline, the end of the
// call's budget. The body of a successful GET (the rows) then streams for as
// long as the caller's context allows, so that a long result is not cut by
// the budget; every other body (an error page, the answer to a POST, a page
// read whole) must end by the deadline too, so that a server trickling it
// cannot hold the caller past MaxElapsed. When no answer came, unsent says
// whether the request provably never left: no connection was made for it.
// What the auth transport puts in the request is noted in s, and cut out
// of the errors of reading the body.
func (r *retryDoer) attempt(req *http.Request, k kind, deadline time.Time, s *sent) (resp *http.Response, unsent bool, err error) {
	ctx, cancel := context.WithCancelCause(context.WithValue(req.Context(), sentKey{}, s))
	timer := time.AfterFunc(time.Until(deadline), func() { cancel(errBudget) })
	var conn, handshake atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { conn.Store(true) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err != nil {
				handshake.Store(true)
			}
		}})
	resp, err = r.hc.Do(req.WithContext(ctx))
	if err == nil {
		resp.Body = redactedBody{resp.Body, s}
	}
	if err == nil && (k&readWhole != 0 || resp.StatusCode/100 != 2) {
		resp.Body = cancelOnClose{resp.Body, func(cause error) { timer.Stop(); cancel(cause) }}
		return resp, false, nil
	}
	if !timer.Stop() {
		if err == nil {
			resp.Body.Close()
		}
		// The timer has fired, though its cancel may not have run yet:
		// whatever came back is cut off by now.
		return nil, false, fmt.Errorf("gcusage: %s %s: no answer within %s: %w",
			req.Method, req.URL.Path, r.p.MaxElapsed, errBudget)
	}
	if err != nil {
		cancel(nil)
		var ae *AuthError // no token, so nothing was sent
		return nil, !conn.Load() && (dialFailed(err) || handshake.Load() || errors.As(err, &ae)), err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, false, nil
}

// dialFailed says whether err is the failure to open a connection (to
// reach the host, or to resolve its name), which comes before any byte of
// a request is written.
func dialFailed(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) && op.Op == "dial" || errors.As(err, &dns)
}

// sent is what the auth transport put in the requests of one attempt (the
// bearer token, and the old one too after a 401), which the retry layer
// cuts out of whatever comes back (see redactor.err).
type sent struct {
	mu sync.Mutex
	r  redactor
}

type sentKey struct{}

// noteSent notes what req carries, for the attempt it belongs to.
func noteSent(req *http.Request) {
	if s, ok := req.Context().Value(sentKey{}).(*sent); ok {
		s.mu.Lock()
		s.r = append(s.r, secretsOf(req)...)
		s.mu.Unlock()
	}
}

func (s *sent) secrets() redactor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r
}

// redactedBody cuts what its request carried out of its read errors:
// net/http quotes a trailer line it refuses.
type redactedBody struct {
	io.ReadCloser
	sent *sent
}

func (b redactedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = b.sent.secrets().err(err)
	}
	return n, err
}

// cancelOnClose ends an attempt's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

// Close closes the body, then releases the attempt's context.
func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// decide says whether an outcome is worth another attempt, and after how
// long. Only transient faults are: 429, 502, 503, 504 and connection errors.
// Work that may have started (started) is retried only when the server
// declined it: a 429, or a 503 with Retry-After. A 502, 504 or 503 without
// a hint may come from a proxy that passed the request on.
func (r *retryDoer) decide(resp *http.Response, err error, attempt int, started bool) (time.Duration, bool) {
	if attempt >= r.p.MaxAttempts {
		return 0, false
	}
	backoff := jitter(backoffCap(attempt-1, r.p.MinDelay, r.p.MaxDelay, 2))
	if err != nil {
		if hopeless(err) {
			return jitter(min(backoff, quickDelay)), attempt < quickAttempts && transientError(err) && !started
		}
		return backoff, transientError(err) && !started
	}
	if !transientStatus(resp.StatusCode) {
		return 0, false
	}
	hint, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	switch {
	case started && resp.StatusCode != http.StatusTooManyRequests && (resp.StatusCode != http.StatusServiceUnavailable || !ok):
		return 0, false
	case !ok:
		return backoff, true
	}
	return hint, hint <= r.p.MaxRetryAfter
}

// transientStatus says whether an answer may change if asked again: a rate
// limit, or a gateway that could not reach the service.
func transientStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// transientError says whether a request that got no answer may get one if
// sent again: a refused or dropped connection may; a bad certificate, a
// failed token fetch, an answer that breaks HTTP (a control byte in a
// header) or the caller's own deadline will not.
func transientError(err error) bool {
	var ae *AuthError
	var ce *tls.CertificateVerificationError
	var pe textproto.ProtocolError
	return !errors.As(err, &ae) && !errors.As(err, &ce) && !errors.As(err, &pe) &&
		!strings.Contains(err.Error(), "malformed HTTP ") && // net/http's own, untyped
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

func (r *retryDoer) giveUp(err error, attempt int) error {
	if err == nil || attempt == 1 {
		return err
	}
	return fmt.Errorf("gcusage: gave up after %d attempts: %w", attempt, err)
}

// logAttempt logs one HTTP attempt at debug level: method, path, status or
// error, duration, attempt and correlation id. Never a header value else:
// they hold the token. What the server sent (the correlation id, an error
// that quotes it) is logged without the secrets, cut and escaped, as
// errors quote it.
func logAttempt(log *slog.Logger, req *http.Request, resp *http.Response, err error, secrets redactor, attempt int, d time.Duration) {
	if !log.Enabled(req.Context(), slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", req.Method), slog.String("path", req.URL.Path),
		slog.Int("attempt", attempt), slog.Duration("duration", d),
	}
	if resp != nil {
		attrs = append(attrs, slog.Int("status", resp.StatusCode),
			slog.String("correlation_id", oneLine(secrets.text(resp.Header.Get("ININ-Correlation-Id")), maxQuoted)))
	} else {
		attrs = append(attrs, slog.String("error", secrets.err(err).Error()))
	}
	log.LogAttrs(req.Context(), slog.LevelDebug, "gcusage: http attempt", attrs...)
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP-date
// (RFC 9110, 10.2.3). A date in the past means no wait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return time.Duration(1<<63 - 1), true
			}
			return 0, false
		}
		return time.Duration(min(n, uint64(1<<63-1)/uint64(time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Draining a body lets its connection be reused, but is only worth it when
// the rest is small and at hand: a body still arriving after drainTime, or
// longer than drainBytes, is closed instead, as a connection costs less than
// the caller's wait on a server that trickles.
const (
	drainBytes = 4 << 10
	drainTime  = 20 * time.Millisecond
)

// drain reads at most drainBytes of a body for at most drainTime, then
// closes it. The timer closes the body under a read that hangs, which ends
// that read (net/http and our own bodies allow Close during Read).
func drain(body io.ReadCloser) {
	t := time.AfterFunc(drainTime, func() { _ = body.Close() })
	_, _ = io.CopyN(io.Discard, body, drainBytes)
	t.Stop()
	_ = body.Close()
}
