package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

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
	Body          []byte // the raw body, at most maxErrorBody bytes
	Method, Path  string
}

// Error is one line: method, path, status, code, message, correlation id.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gcusage: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.CorrelationID != "" {
		b.WriteString(" (correlation id " + e.CorrelationID + ")")
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
	Status      string // the last queryStatus seen, if any
	Err         error
}

// Error names the execution, then what ended the wait.
func (e *ExecutionError) Error() string {
	return "gcusage: execution " + e.ExecutionID + ": " + strings.TrimPrefix(e.Err.Error(), "gcusage: ")
}

// Unwrap gives errors.Is and errors.As the cause.
func (e *ExecutionError) Unwrap() error { return e.Err }

// ValidationError is a bad query or argument, found before anything is sent.
type ValidationError struct {
	Field   string // such as interval or groupBy[1]
	Value   string
	Allowed []string // the accepted values, for enums
	Reason  string
}

// Error names the field, the value, and what is wrong or allowed.
func (e *ValidationError) Error() string {
	s := fmt.Sprintf("gcusage: invalid query: %s %q", e.Field, e.Value)
	if e.Reason != "" {
		s += ": " + e.Reason
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

// Error names the request and, inside the rows, the row.
func (e *DecodeError) Error() string {
	s := "gcusage: "
	if e.Method != "" {
		s += e.Method + " " + e.Path + ": "
	}
	s += "decoding the answer"
	if e.Row > 0 {
		s += fmt.Sprintf(": row %d", e.Row)
	}
	return s + ": " + e.Err.Error()
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
		return "gcusage: token request failed: " + e.Err.Error()
	}
	s := fmt.Sprintf("gcusage: token request failed: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Description != "" {
		s += ": " + oneLine(e.Description, 200)
	}
	return s
}

// Unwrap gives the token source's error, such as *oauth2.RetrieveError.
func (e *AuthError) Unwrap() error { return e.Err }

// maxErrorBody bounds what an error keeps of a body: an error page is small,
// and a misbehaving proxy must not make an error hold megabytes.
const maxErrorBody = 64 << 10

// responseError turns a non-2xx answer into *APIError, or *RateLimitError
// for 429. It consumes and closes the body.
func responseError(resp *http.Response) error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &APIError{
		StatusCode:    resp.StatusCode,
		CorrelationID: resp.Header.Get("ININ-Correlation-Id"),
		Body:          body,
		Method:        resp.Request.Method,
		Path:          resp.Request.URL.Path,
	}
	var eb gen.ErrorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Code, e.Message, e.Details = deref(eb.Code), oneLine(deref(eb.Message), 300), eb.Details
		if e.CorrelationID == "" {
			e.CorrelationID = deref(eb.ContextID)
		}
	} else {
		e.Message = oneLine(tags.ReplaceAllString(string(body), " "), 120)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		d, _ := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return &RateLimitError{APIError: e, RetryAfter: d}
	}
	return e
}

var tags = regexp.MustCompile(`<[^>]*>`)

// oneLine collapses white space and cuts s to about n bytes, so that any body
// can go into a one-line error.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
