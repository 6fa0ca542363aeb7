package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenExpiryDelta is how long before expires_in a token is renewed, so a
// token never expires on its way to the server. A token that lives less
// than twice as long is renewed halfway through its life instead, but never
// sooner than minTokenReuse after it came: a server that issues tokens for
// a few seconds gets at most one token request per minTokenReuse, not one
// per API request.
const (
	tokenExpiryDelta = 60 * time.Second
	minTokenReuse    = 5 * time.Second
)

// renewTime is when a token fetched at fetched, expiring at expiry, is
// renewed.
func renewTime(fetched, expiry time.Time) time.Time {
	at := expiry.Add(-min(tokenExpiryDelta, expiry.Sub(fetched)/2))
	if at.Before(fetched.Add(minTokenReuse)) {
		return fetched.Add(minTokenReuse)
	}
	return at
}

// tokens is the token source shared by every request of a Client. renew,
// when set, builds a fresh source of ours: a 401 from the API then drops the
// cached token, which oauth2's reuse source cannot do by itself. Our own
// tokens are also kept in cur, so that a request with a valid one starts no
// fetch at all; a caller's TokenSource is asked for each request, but by one
// fetch at a time, which all the requests waiting meanwhile share.
type tokens struct {
	mu      sync.Mutex
	src     oauth2.TokenSource
	gen     uint64
	renew   func() oauth2.TokenSource
	cur     *oauth2.Token
	renewAt time.Time   // when cur is renewed, unless its Expiry is zero
	flight  *tokenFetch // the fetch under way, if any
}

// tokenFetch is one call of a token source, awaited by every request that
// needs a token meanwhile.
type tokenFetch struct {
	done chan struct{} // closed when tok and err are set
	gen  uint64
	src  oauth2.TokenSource
	tok  *oauth2.Token
	err  error
}

func newTokens(src oauth2.TokenSource, renew func() oauth2.TokenSource) *tokens {
	if renew != nil {
		src = renew()
	}
	return &tokens{src: src, renew: renew}
}

// token returns the current access token and the generation of the source
// it came from, for invalidate. An oauth2.TokenSource takes no context, so
// the fetch runs aside and a caller stops waiting when its ctx ends; the
// fetch goes on for the callers after it, and is never started twice at
// once, so a source that hangs holds one goroutine, not one per request.
func (t *tokens) token(ctx context.Context) (string, uint64, error) {
	t.mu.Lock()
	gen, cur, f := t.gen, t.cur, t.flight
	if cur != nil && (cur.Expiry.IsZero() || time.Now().Before(t.renewAt)) {
		t.mu.Unlock()
		return cur.AccessToken, gen, nil
	}
	if f == nil || f.gen != gen {
		f = &tokenFetch{done: make(chan struct{}), gen: gen, src: t.src}
		t.flight = f
		go t.fetch(f)
	}
	t.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			return "", gen, authError(f.err)
		}
		return f.tok.AccessToken, gen, nil
	case <-ctx.Done():
		// Keep what the token requests met so far: "deadline exceeded"
		// alone hides a login host that refuses every connection.
		if rf, ok := f.src.(*retryingFetch); ok {
			if last := rf.lastError(); last != nil {
				return "", gen, &lastCause{ctx.Err(), authError(last)}
			}
		}
		return "", gen, ctx.Err()
	}
}

func (t *tokens) fetch(f *tokenFetch) {
	f.tok, f.err = f.src.Token()
	switch {
	case f.err != nil:
	case f.tok == nil:
		f.err = errors.New("the token source returned no token")
	default:
		// A token that cannot go into a header would fail every request
		// in the transport, as if the network did.
		f.err = checkToken(f.tok.AccessToken)
	}
	t.mu.Lock()
	if t.flight == f {
		t.flight = nil
	}
	if f.err == nil && t.renew != nil && t.gen == f.gen {
		t.cur, t.renewAt = f.tok, renewTime(time.Now(), f.tok.Expiry)
	}
	t.mu.Unlock()
	close(f.done)
}

// invalidate drops the cached token if it is still the one of generation
// gen, so that many requests refused at once cause a single new fetch.
func (t *tokens) invalidate(gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.renew != nil && gen == t.gen {
		t.src, t.gen, t.cur, t.flight = t.renew(), t.gen+1, nil, nil
	}
}

// clientCredentials builds the renewable source of the client credentials
// grant; tokens caches what it fetches. The token requests run on a
// long-lived context with their own timeout, never on a request's context,
// whose end would break every later refresh. They follow no redirect.
func clientCredentials(id, secret, tokenURL string, base http.RoundTripper, log *slog.Logger, onRetry func(RetryEvent)) func() oauth2.TokenSource {
	cfg := &clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader}
	secrets := basicSecrets(id, secret)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: tokenLog{base, log, secrets}, CheckRedirect: noRedirect}
	fetch := &retryingFetch{cfg: cfg, ctx: context.WithValue(context.Background(), oauth2.HTTPClient, hc), onRetry: onRetry,
		secrets: secrets}
	return func() oauth2.TokenSource { return fetch }
}

// basicSecrets are the forms of the client credentials that a token
// endpoint could echo: the secret in its forms (see forms), and the Basic
// value (base64 of id:secret, URL-escaped each as oauth2 sends them, or not) in
// standard and URL-safe base64, each without its = padding, which also
// finds the padded form.
func basicSecrets(id, secret string) redactor {
	r := forms(secret)
	for _, pair := range []string{url.QueryEscape(id) + ":" + url.QueryEscape(secret), id + ":" + secret} {
		r = append(r, base64.RawStdEncoding.EncodeToString([]byte(pair)), base64.RawURLEncoding.EncodeToString([]byte(pair)))
	}
	return r
}

// Token requests are tried up to tokenAttempts times, with full-jitter
// waits of at most 2, 4, 8, 15 and 15 s (44 s in all, about 22 s on
// average), or as long as a Retry-After says within tokenBudget. A refused
// connection or an unknown host gets quickAttempts only.
const (
	tokenAttempts = 6
	tokenBudget   = time.Minute
)

// retryingFetch fetches a new token each call, and waits out what passes:
// the token endpoint's own rate limit (429, or 400 invalid_request "rate
// limit exceeded"), a proxy's 502, 503 or 504, a dropped connection.
type retryingFetch struct {
	cfg     *clientcredentials.Config
	ctx     context.Context
	onRetry func(RetryEvent)
	secrets redactor // cut out of whatever the token endpoint sends back

	mu   sync.Mutex
	last error // the failure of the attempt before, while Token retries
}

// Token may sleep without a context (oauth2.TokenSource has none); the
// budget bounds the sleep.
func (f *retryingFetch) Token() (*oauth2.Token, error) {
	start := time.Now()
	defer f.setLast(nil)
	for attempt := 1; ; attempt++ {
		tok, err := f.cfg.Token(context.WithValue(f.ctx, attemptKey{}, attempt))
		// What the failure is, is read from net/http's and oauth2's own
		// errors, before the redaction hides them.
		retryable, quick := err != nil && tokenRetryable(err), err != nil && hopeless(err)
		err = f.redact(err)
		if !retryable || attempt == tokenAttempts || quick && attempt >= quickAttempts {
			return tok, err
		}
		wait := jitter(backoffCap(attempt, time.Second, 15*time.Second, 2))
		if quick {
			wait = jitter(quickDelay)
		}
		ev := RetryEvent{Attempt: attempt, Method: http.MethodPost, Err: authError(err)}
		if u, perr := url.Parse(f.cfg.TokenURL); perr == nil {
			ev.Path = u.Path
		}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			ev.StatusCode = re.Response.StatusCode
			if hint, ok := parseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now()); ok {
				wait = hint
			}
		}
		if time.Since(start)+wait > tokenBudget {
			return nil, err
		}
		f.setLast(err)
		if ev.Delay = wait; f.onRetry != nil {
			f.onRetry(ev)
		}
		time.Sleep(wait)
	}
}

func (f *retryingFetch) setLast(err error) {
	f.mu.Lock()
	f.last = err
	f.mu.Unlock()
}

func (f *retryingFetch) lastError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// redact cuts the credentials out of what the token endpoint sent back,
// should it echo the request's Authorization: the fields of the
// *oauth2.RetrieveError are what AuthError and oauth2's own text print
// (the status line's reason phrase too), and any other error is redacted
// as the API's transport errors are (see redactor.err).
func (f *retryingFetch) redact(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		re.ErrorCode = f.secrets.apply(re.ErrorCode)
		re.ErrorDescription = f.secrets.apply(re.ErrorDescription)
		re.ErrorURI = f.secrets.apply(re.ErrorURI)
		re.Body = f.secrets.body(re.Body)
		if re.Response != nil {
			re.Response.Status = f.secrets.text(re.Response.Status)
		}
	}
	return f.secrets.err(err)
}

// tokenLog logs the token requests as the retry layer logs the API's; the
// attempt number comes from retryingFetch through the request's context.
type tokenLog struct {
	base    http.RoundTripper
	log     *slog.Logger
	secrets redactor // the client credentials, cut out of what is logged
}

type attemptKey struct{}

// RoundTrip implements http.RoundTripper.
func (t tokenLog) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	attempt, _ := req.Context().Value(attemptKey{}).(int)
	logAttempt(t.log, req, resp, err, t.secrets, attempt, time.Since(start))
	return resp, err
}

func tokenRetryable(err error) bool {
	var re *oauth2.RetrieveError
	var ue *url.Error
	switch {
	case errors.As(err, &ue) && !errors.As(err, &re):
		return transientError(err) // no answer: the connection failed
	case !errors.As(err, &re) || re.Response == nil:
		return false // an answer that could not be read will not change
	}
	return transientStatus(re.Response.StatusCode) || re.Response.StatusCode == http.StatusBadRequest &&
		re.ErrorCode == "invalid_request" && strings.Contains(strings.ToLower(re.ErrorDescription), "rate limit exceeded")
}

// authError rewrites an error of a token source so that its text holds the
// OAuth error and description only: oauth2's own text may quote the body.
func authError(err error) error {
	var ae *AuthError
	if errors.As(err, &ae) {
		return err
	}
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re) && re.Response != nil && re.Response.StatusCode/100 == 3 && re.Response.Request != nil:
		return &AuthError{StatusCode: re.Response.StatusCode, Description: redirectMessage(re.Response), Err: err}
	case errors.As(err, &re) && re.Response != nil:
		return &AuthError{StatusCode: re.Response.StatusCode, Code: re.ErrorCode, Description: re.ErrorDescription, Err: err}
	}
	return &AuthError{Err: err}
}

// authTransport adds the bearer token, and only to requests for the API's
// origin: a redirect or a resultsUri elsewhere never receives the token. It
// retries once, with a fresh token, a request the API refused with 401.
type authTransport struct {
	base   http.RoundTripper
	origin *url.URL
	tokens *tokens
	ua     string
}

// RoundTrip implements http.RoundTripper.
func (a *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !sameOrigin(req.URL, a.origin) {
		return a.send(req, "")
	}
	tok, gen, err := a.tokens.token(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := a.send(req, tok)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
		return resp, err
	}
	// Read the 401 before fetching anew: a server that streams its answer
	// may hold what the token fetch needs until it is read.
	refused, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(refused))
	a.tokens.invalidate(gen)
	fresh, _, err := a.tokens.token(req.Context())
	if err != nil {
		return nil, err // the renewal's failure says more than the 401
	}
	if fresh == tok {
		return resp, nil // nothing better to try: report the 401 itself
	}
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = body
	}
	return a.send(req, fresh)
}

func (a *authTransport) send(req *http.Request, token string) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Del("Authorization")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
		noteSent(r)
	}
	r.Header.Set("User-Agent", a.ua)
	if r.Header.Get("Accept") == "" {
		r.Header.Set("Accept", "application/json")
	}
	resp, err := a.base.RoundTrip(r)
	if resp != nil && resp.Request == nil {
		resp.Request = r // in-memory transports may omit it; errors need it
	}
	return resp, err
}

// checkToken refuses an access token that is not printable ASCII without
// spaces (RFC 6750), such as one with a line break: it could not go into a
// header. The error does not quote the token.
func checkToken(token string) error {
	for i := 0; i < len(token); i++ {
		if b := token[i]; b <= ' ' || b >= 0x7f {
			return fmt.Errorf("the access token has byte %#02x at offset %d: a token is printable ASCII without spaces or line breaks", b, i)
		}
	}
	return nil
}

func sameOrigin(u, origin *url.URL) bool {
	return strings.EqualFold(u.Scheme, origin.Scheme) && strings.EqualFold(u.Host, origin.Host)
}
