package client

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gcusage/gcusage/gen"
)

// Sentinels that an *ExecutionError wraps, for errors.Is.
var (
	// ErrQueryFailed means the server reported queryStatus Failed.
	ErrQueryFailed = errors.New("query failed")
	// ErrUnknownStatus means the server reported a queryStatus this client
	// does not know; it is never taken for "still running".
	ErrUnknownStatus = errors.New("unknown queryStatus")
)

// APIError is an answer of the API outside 2xx. Its text is one line made
// from the Genesys error body, or from the start of a non-JSON body (such as
// a proxy's HTML page), so it is useful in a log without further digging.
type APIError struct {
	StatusCode    int
	Code          string // the Genesys code, such as invalid.value
	Message       string
	CorrelationID string // ININ-Correlation-Id; quote it to Genesys support
	Details       []gen.ErrorDetail
	// Body is the body as it came, at most 64 KiB, unless it echoed the
	// bearer token: it is then written anew without it, so that no
	// escaped form of the token is left (a JSON body from its decoded
	// values, any other with its HTML entities decoded).
	Body         []byte
	Method, Path string
}

// Error is one line: method, path, status, code, message, correlation id.
// Each part is cut to a few hundred bytes and its control characters are
// escaped, whatever the server sent.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gcusage: %s %s: %d %s", e.Method, oneLine(e.Path, maxQuoted), e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		b.WriteString(": " + oneLine(e.Code, maxQuoted))
	}
	if e.Message != "" {
		b.WriteString(": " + oneLine(e.Message, maxMessage))
	}
	if e.CorrelationID != "" {
		b.WriteString(" (correlation id " + oneLine(e.CorrelationID, maxQuoted) + ")")
	}
	return b.String()
}

// RateLimitError is a 429 answer that the retry policy did not (or could no
// longer) wait out. RetryAfter is the server's hint, zero when it gave none.
type RateLimitError struct {
	*APIError
	RetryAfter time.Duration
}

// Error adds the server's hint to the API error's line.
func (e *RateLimitError) Error() string {
	if e.RetryAfter <= 0 {
		return e.APIError.Error()
	}
	return fmt.Sprintf("%s; retry after %s", e.APIError.Error(), e.RetryAfter)
}

// Unwrap lets errors.As find the embedded *APIError.
func (e *RateLimitError) Unwrap() error { return e.APIError }

// ExecutionError is a wait or poll that ended without rows, or a stream of
// rows that broke off. ExecutionID is always set so that the caller can
// resume with Client.Wait. Err wraps ErrQueryFailed, ErrUnknownStatus, a
// context error, a *DecodeError, or the API error met on the way.
type ExecutionError struct {
	ExecutionID string
	// Kind is what ExecutionID names: "job" for a usage query job (resume
	// it with Client.Job), "" for an execution (a query, a summary or a
	// search).
	Kind   string
	Status string // the last queryStatus seen, if any
	Err    error
	// ErrorBody is what a Failed usage query job said of its failure,
	// when it said anything.
	ErrorBody *gen.ErrorBody
}

// Error names the execution or the job, then what ended the wait, then the
// job's own words of its failure.
func (e *ExecutionError) Error() string {
	s := "gcusage: " + cmp.Or(e.Kind, "execution") + " " + oneLine(e.ExecutionID, maxQuoted) + ": " + strings.TrimPrefix(e.Err.Error(), "gcusage: ")
	if b := e.ErrorBody; b != nil {
		for _, part := range []*string{b.Code, b.Message} {
			if deref(part) != "" {
				s += ": " + oneLine(*part, maxMessage)
			}
		}
	}
	return s
}

// Unwrap gives errors.Is and errors.As the cause.
func (e *ExecutionError) Unwrap() error { return e.Err }

// ValidationError is a bad query or argument of a call, found before
// anything is sent. A bad option of New is a *ConfigError.
type ValidationError struct {
	Field   string // such as interval or groupBy[1]
	Value   string
	Allowed []string // the accepted values, for enums
	Reason  string
}

// Error names the field, the value, and what is wrong or allowed.
func (e *ValidationError) Error() string {
	s := fmt.Sprintf("gcusage: invalid query: %s %s", oneLine(e.Field, maxQuoted), quote(e.Value))
	if e.Reason != "" {
		s += ": " + oneLine(e.Reason, maxMessage) // it may quote the value's parts
	}
	if len(e.Allowed) > 0 {
		sep := ": "
		if e.Reason != "" {
			sep = "; "
		}
		s += sep + "allowed " + strings.Join(e.Allowed, ", ")
	}
	return s
}

// DecodeError is a success answer whose body could not be read: cut short,
// or not the JSON the spec promises. Wait polls past two in a row, since a
// poll costs nothing to repeat; a POST or a stream of rows is not repeated
// behind the caller's back. Inside an *ExecutionError, the rows can be read
// again with Client.Wait on the same id.
type DecodeError struct {
	Method, Path string // empty for DecodeRows, which has no request
	Row          int    // the 1-based row being read, 0 outside the rows
	Err          error
}

// Error names the request and says what went wrong in words, such as "the
// answer was cut short in row 47"; the decoder's own words stay in Err.
func (e *DecodeError) Error() string {
	s := "gcusage: "
	if e.Method != "" {
		s += e.Method + " " + oneLine(e.Path, maxQuoted) + ": "
	}
	what, in := "the answer", ""
	if e.Row > 0 {
		what, in = fmt.Sprintf("row %d", e.Row), fmt.Sprintf(" in row %d", e.Row)
	}
	var syntax *json.SyntaxError
	badByte := strings.HasPrefix(rootCause(e.Err).Error(), "unexpected byte")
	cause := " (" + oneLine(e.Err.Error(), maxQuoted) + ")"
	switch {
	case errors.Is(e.Err, errBudget):
		if in != "" {
			in = " (cut" + in + ")"
		}
		return s + "the answer did not end within RetryPolicy.MaxElapsed" + in
	case errors.Is(e.Err, errValueTooLarge):
		if e.Row == 0 {
			what = "a value in the answer"
		}
		return s + what + " is larger than 1 MiB, far beyond any real one: the answer is refused"
	case errors.Is(e.Err, io.ErrUnexpectedEOF) || errors.Is(e.Err, io.EOF):
		return s + "the answer was cut short" + in
	case e.Row == 0 && (badByte || errors.As(e.Err, &syntax)):
		return s + "the answer is not the JSON the API sends" + cause
	case errors.As(e.Err, &syntax):
		return s + what + " is not valid JSON" + cause
	case badByte:
		// The streaming decoder says so both of bad JSON and of a value
		// of the wrong type.
		return s + what + " is not valid JSON or not a usage row" + cause
	}
	return s + what + " could not be read: " + oneLine(e.Err.Error(), maxMessage)
}

// rootCause is the innermost error of a chain, where a decoder says what
// it met; the wrappers around it only name where.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// Unwrap gives the decoder's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// AuthError is a failed token request. It carries what the OAuth server
// said, never the credentials.
type AuthError struct {
	StatusCode  int    // 0 when the token endpoint was not reached
	Code        string // the OAuth error, such as invalid_client
	Description string
	Err         error
}

// Error holds the OAuth error and description only: never the body, which
// a careless server could fill with the credentials.
func (e *AuthError) Error() string {
	if e.StatusCode == 0 {
		return "gcusage: token request failed: " + oneLine(e.Err.Error(), maxMessage)
	}
	s := fmt.Sprintf("gcusage: token request failed: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		s += ": " + oneLine(e.Code, maxQuoted)
	}
	if e.Description != "" {
		s += ": " + oneLine(e.Description, maxQuoted)
	}
	return s
}

// Unwrap gives the token source's error, such as *oauth2.RetrieveError.
func (e *AuthError) Unwrap() error { return e.Err }

// maxErrorBody bounds what an error keeps of a body: an error page is small,
// and a misbehaving proxy must not make an error hold megabytes.
const maxErrorBody = 64 << 10

// responseError turns a non-2xx answer into *APIError, or *RateLimitError
// for 429. It consumes and closes the body, whose read the retry layer
// bounds by the call's time budget. The bearer token the request carried is
// cut out of what the server sent back, should it echo it, in any form
// (see redactor.body).
func responseError(resp *http.Response) error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	secrets := secretsOf(resp.Request)
	body = secrets.body(body)
	e := &APIError{
		StatusCode:    resp.StatusCode,
		CorrelationID: secrets.text(resp.Header.Get("ININ-Correlation-Id")),
		Body:          body,
		Method:        resp.Request.Method,
		Path:          resp.Request.URL.Path,
	}
	var eb gen.ErrorBody
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		e.Message = secrets.text(redirectMessage(resp))
	case json.Unmarshal(body, &eb) == nil:
		e.Code, e.Message, e.Details = deref(eb.Code), oneLine(deref(eb.Message), maxMessage), eb.Details
		if e.CorrelationID == "" {
			e.CorrelationID = deref(eb.ContextID)
		}
	default:
		e.Message = pageSummary(string(body))
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		d, _ := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return &RateLimitError{APIError: e, RetryAfter: d}
	}
	return e
}

var (
	tags  = regexp.MustCompile(`<[^>]*>`)
	title = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
)

// pageSummary is what an error says of a body that is not Genesys JSON:
// the title of an HTML page (a proxy's 503 repeats it in an <h1>), else the
// start of the text.
func pageSummary(body string) string {
	if m := title.FindStringSubmatch(body); m != nil && strings.TrimSpace(m[1]) != "" {
		return oneLine(m[1], maxQuoted)
	}
	return oneLine(tags.ReplaceAllString(body, " "), 120)
}

// redirectMessage names where a 3xx pointed, by origin only: its path,
// query or userinfo may carry what is not ours to print.
func redirectMessage(resp *http.Response) string {
	const why = " (redirects are not followed: point the base URL at the final host)"
	loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	switch {
	case resp.Header.Get("Location") == "":
		return "redirect without a Location, not followed"
	case err != nil || loc.Host == "":
		return "redirect to an unreadable Location, not followed"
	}
	return "redirect to " + oneLine(loc.Scheme+"://"+loc.Host, maxQuoted) + why
}

const (
	// maxQuoted bounds each value an error quotes (a field, a code, a
	// Location), so that a 10 MB value does not make a 20 MB error.
	maxQuoted = 200
	// maxMessage bounds a message a server sends back.
	maxMessage = 300
)

// oneLine collapses white space, escapes the other control characters (C0,
// DEL, C1: ESC would drive a terminal) and cuts s to about n bytes, so that
// any server text can go into a one-line error.
func oneLine(s string, n int) string {
	if len(s) > 4*n+64 {
		s = s[:4*n+64] // enough for n bytes after collapsing and escaping
	}
	s = strings.Join(strings.Fields(s), " ")
	if strings.ContainsFunc(s, unicode.IsControl) {
		var b strings.Builder
		for _, r := range s {
			if unicode.IsControl(r) {
				q := strconv.QuoteRune(r)
				b.WriteString(q[1 : len(q)-1])
			} else {
				b.WriteRune(r)
			}
		}
		s = b.String()
	}
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

// quote is %q of s cut to maxQuoted bytes: control characters escaped, and
// an ellipsis inside the quotes when cut.
func quote(s string) string {
	if len(s) > maxQuoted {
		s = strings.ToValidUTF8(s[:maxQuoted], "") + "…"
	}
	return strconv.Quote(s)
}

// redactor holds secret values (a client secret, a Basic value, a bearer
// token) to cut out of server text, whatever shape the server echoes them
// in: redaction by value, since no pattern can tell a secret apart. Values
// shorter than minRedacted are left alone: cutting a test token such as
// "t" out of every word would garble the message, and so short a secret
// guards nothing.
type redactor []string

const minRedacted = 8

func (r redactor) apply(s string) string {
	for _, v := range r {
		if len(v) >= minRedacted {
			s = strings.ReplaceAll(s, v, "REDACTED")
		}
	}
	return s
}

// text redacts server text that is not JSON, such as an HTML page, also
// where HTML entities (&#116;ok…) spell a secret: the text is then given
// with its entities decoded.
func (r redactor) text(s string) string {
	s = r.apply(s)
	if u := html.UnescapeString(s); u != s {
		if red := r.apply(u); red != u {
			return red
		}
	}
	return s
}

// body redacts a body a server sent. A JSON body is redacted in every
// string and key once decoded, so that an escaped echo (\u0074ok…, tok\/…)
// is caught too, and is then written anew from the redacted values, in
// which no escaped form of a secret is left; a JSON body without secrets is
// kept as it came. Any other body is redacted as text.
func (r redactor) body(b []byte) []byte {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil || d.Decode(new(any)) != io.EOF {
		return []byte(r.text(string(b)))
	}
	v, changed := r.value(v)
	if !changed {
		return b
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return []byte("REDACTED") // cannot happen: v was decoded from JSON
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

// value redacts the strings and keys of a decoded JSON value, and says
// whether any changed.
func (r redactor) value(v any) (any, bool) {
	changed := false
	switch v := v.(type) {
	case string:
		s := r.apply(v)
		return s, s != v
	case []any:
		for i := range v {
			var c bool
			v[i], c = r.value(v[i])
			changed = changed || c
		}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			x, c := r.value(x)
			rk := r.apply(k)
			out[rk] = x
			changed = changed || c || rk != k
		}
		return out, changed
	}
	return v, changed
}

// forms is a secret as is, and in the forms a server's echo of it may take
// in our errors: URL-escaped, and as strconv.Quote writes it (net/http
// quotes a line it refuses), each when it differs.
func forms(v string) redactor {
	r := redactor{v}
	if esc := url.QueryEscape(v); esc != v {
		r = append(r, esc)
	}
	if strings.ContainsFunc(v, func(c rune) bool { return c == '"' || c == '\\' || !strconv.IsPrint(c) }) {
		q := strconv.Quote(v)
		r = append(r, q[1:len(q)-1])
	}
	return r
}

// secretsOf is what a request carried that no text of its answer may show:
// its bearer token, in its forms.
func secretsOf(req *http.Request) redactor {
	if req == nil {
		return nil
	}
	return forms(bearer(req.Header.Get("Authorization")))
}

// maxErrorText bounds the text of an error of the transport, which may
// quote a header line as long as net/http takes (10 MB).
const maxErrorText = 1 << 10

// err is err with r cut out of its text, which may quote what a server
// sent: a header, status or trailer line that net/http refused, or a URL
// whose cursor the server chose. The text is also cut to maxErrorText. An
// error that shows no secret and is short enough is returned as it is.
func (r redactor) err(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	red := r.text(s)
	if red == s && len(s) <= maxErrorText {
		return err
	}
	return &redactedError{text: oneLine(red, maxErrorText), err: err, secrets: r}
}

// redactedError is an error as the caller sees it once redacted: errors.Is
// sees the error beneath, but errors.As finds there only what shows no
// secret, since what it finds prints itself.
type redactedError struct {
	text    string
	err     error
	secrets redactor
}

func (e *redactedError) Error() string { return e.text }

// Is reports whether the error beneath matches target.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

// As finds target in the error beneath, unless its text shows a secret.
func (e *redactedError) As(target any) bool {
	if !errors.As(e.err, target) {
		return false
	}
	found := reflect.ValueOf(target).Elem()
	if err, ok := found.Interface().(error); ok && e.secrets.text(err.Error()) == err.Error() {
		return true
	}
	found.SetZero()
	return false
}

// bearer is the token of an Authorization header value, or "".
func bearer(auth string) string {
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return auth[7:]
	}
	return ""
}

// ConfigError is a bad option or environment variable of New (a region, a
// base URL, credentials), found before anything is sent.
type ConfigError struct {
	Field  string // the option or variable, such as WithRegion or GENESYSCLOUD_REGION
	Value  string // what was given, with userinfo cut out; never a secret
	Reason string // what is wrong and what is allowed
}

// Error is the field and the reason; the reason quotes the value, cut to a
// few hundred bytes.
func (e *ConfigError) Error() string {
	return "gcusage: " + e.Field + ": " + e.Reason
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
