package usagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/gcusage/gcusage/gen"
)

const (
	queryPath   = "/api/v2/usage/query"
	resultsPath = "/api/v2/usage/query/{executionId}/results"
	maxBody     = 1 << 20
	jsonType    = "application/json"
	// rateLimitAllowed is what Genesys allows a token per minute.
	rateLimitAllowed = 300
)

// exchange is one request being answered.
type exchange struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	in     *openapi3filter.RequestValidationInput // nil off the spec: token endpoint, unknown paths
	corr   string
	faults []Fault
	org    *org // whose token the request carries, once authorized
}

func (x *exchange) fault(k faultKind) (Fault, bool) {
	for _, f := range x.faults {
		if f.kind == k {
			return f, true
		}
	}
	return Fault{}, false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "usagetest: server closed", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	r.Body = io.NopCloser(bytes.NewReader(body))
	route, id := match(r)
	params := map[string]string{"executionId": id}
	var job jobRoute
	if route == "" {
		route, params = matchMore(r)
	}
	if route == "" {
		route, job = matchJob(r)
	}
	x := &exchange{s: s, w: w, r: r, corr: newID()}
	x.faults = s.record(r, route, body)
	// Genesys sends these on every answer, errors and 429s included; the
	// token endpoint, on the login host, has limits of its own.
	h := w.Header()
	h.Set("ININ-Correlation-Id", x.corr)
	if route != RouteToken {
		count, reset := s.rateLimit(r)
		h.Set("inin-ratelimit-allowed", strconv.Itoa(rateLimitAllowed))
		h.Set("inin-ratelimit-count", strconv.Itoa(count))
		h.Set("inin-ratelimit-reset", strconv.Itoa(reset))
		h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	}
	switch route {
	case RouteQuery:
		x.in = s.validationInput(r, queryPath, nil)
	case RouteResults:
		x.in = s.validationInput(r, resultsPath, params)
	case RouteJobs, RouteJobResults:
		x.in = s.validationInput(r, job.spec, job.params())
	default:
		if path, ok := morePaths[route]; ok {
			x.in = s.validationInput(r, path, params)
		}
	}

	for _, f := range x.faults {
		if f.kind == faultSlow {
			t := time.NewTimer(f.delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
	}
	for _, f := range x.faults {
		if f.kind == faultBarrier && !f.gate.wait(r.Context()) {
			return
		}
	}
	if _, ok := x.fault(faultDrop); ok {
		panic(http.ErrAbortHandler) // net/http closes the connection without an answer
	}
	if f, ok := x.fault(faultRateLimited); ok {
		x.rateLimited(f.text)
		return
	}
	if f, ok := x.fault(faultHTML); ok {
		text := fmt.Sprintf("%d %s", f.code, http.StatusText(f.code))
		x.send(f.code, "text/html", []byte("<html>\r\n<head><title>"+text+"</title></head>\r\n<body>\r\n<center><h1>"+
			text+"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"))
		return
	}
	if len(body) > maxBody {
		x.error(http.StatusRequestEntityTooLarge, "request.entity.too.large", "", "The request body is larger than 1 MiB")
		return
	}
	switch route {
	case RouteToken:
		s.token(x, body)
	case RouteQuery:
		s.postQuery(x, body)
	case RouteResults:
		s.results(x, route, "", id)
	case RouteClientQuery:
		s.postClientQuery(x, params["clientId"], body)
	case RouteSummary:
		s.summary(x, params["clientId"])
	case RouteSearch:
		s.postSearch(x, body)
	case RouteClientResults, RouteSearchResults:
		s.results(x, route, params["clientId"], params["executionId"])
	case RouteJobs:
		s.postJob(x, body, job)
	case RouteJobResults:
		s.jobResults(x, job)
	default:
		x.error(http.StatusNotFound, "not.found", "", fmt.Sprintf("No resource at %s %s", r.Method, r.URL.Path))
	}
}

// match finds the route of r, and the execution id of a results path.
func match(r *http.Request) (Route, string) {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && p == "/oauth/token":
		return RouteToken, ""
	case r.Method == http.MethodPost && p == queryPath:
		return RouteQuery, ""
	case r.Method == http.MethodGet:
		rest, ok := strings.CutPrefix(p, queryPath+"/")
		id, ok2 := strings.CutSuffix(rest, "/results")
		if ok && ok2 && id != "" && !strings.Contains(id, "/") {
			return RouteResults, id
		}
	}
	return "", ""
}

func (s *Server) validationInput(r *http.Request, path string, params map[string]string) *openapi3filter.RequestValidationInput {
	item := s.doc.Paths.Value(path)
	return &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params,
		Route: &routers.Route{Spec: s.doc, Path: path, PathItem: item, Method: r.Method, Operation: item.GetOperation(r.Method)},
		// The stub checks bearer tokens itself, before validation, as
		// Genesys does: an unauthenticated request learns nothing.
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
}

func (s *Server) token(x *exchange, body []byte) {
	if _, ok := x.fault(faultTokenRateLimited); ok {
		x.oauthError(http.StatusBadRequest, "invalid_request",
			"Token request rate limit exceeded for this client (rate limit exceeded); retry later")
		return
	}
	if mt, _, _ := mime.ParseMediaType(x.r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		x.oauthError(http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		x.oauthError(http.StatusBadRequest, "invalid_request", "The form body is malformed")
		return
	}
	id, secret, ok := x.r.BasicAuth()
	o := s.login(id, secret)
	if !ok || o == nil {
		x.oauthError(http.StatusUnauthorized, "invalid_client", "Bad client credentials")
		return
	}
	if g := form.Get("grant_type"); g != "client_credentials" {
		x.oauthError(http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type is %q; want client_credentials", g))
		return
	}
	tok := s.issue(o)
	x.w.Header().Set("Cache-Control", "no-store")
	x.json(http.StatusOK, struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}{tok, "bearer", int64(s.cfg.lifetime / time.Second)})
}

// issue mints a random token of org o and remembers it until it expires.
func (s *Server) issue(o *org) string {
	tok := newToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = token{expires: time.Now().Add(s.cfg.lifetime), org: o}
	return tok
}

// authorized reports whether the request carries a live bearer token,
// revoking that token first when a RevokeToken fault fired.
func (s *Server) authorized(x *exchange) bool {
	scheme, tok, _ := strings.Cut(x.r.Header.Get("Authorization"), " ")
	_, revoke := x.fault(faultRevoke)
	s.mu.Lock()
	t, ok := s.tokens[tok]
	if ok && revoke {
		t.revoked = true
		s.tokens[tok] = t
	}
	s.mu.Unlock() // before answering: in memory, writing waits for the client, which may need the lock for a token
	if strings.EqualFold(scheme, "Bearer") && ok && !t.revoked && time.Now().Before(t.expires) {
		x.org = t.org
		return true
	}
	x.error(http.StatusUnauthorized, "authentication.required", "",
		"Authentication required: send a valid, unexpired bearer token from POST /oauth/token")
	return false
}

func (s *Server) postQuery(x *exchange, body []byte) {
	if !s.authorized(x) || !x.validRequest() {
		return
	}
	var q gen.APIUsageQuery
	if err := json.Unmarshal(body, &q); err != nil {
		x.error(http.StatusBadRequest, "bad.request", "", "The request body is not an ApiUsageQuery: "+err.Error())
		return
	}
	pq, err := parseQuery(q)
	if err != nil {
		x.error(http.StatusBadRequest, "invalid.date", "interval", datesMessage+" ("+err.Error()+")")
		return
	}
	s.start(x, q, &execution{org: x.org, q: pq, route: RouteResults}, func(id string) string { return queryPath + "/" + id + "/results" })
}

// finished reports whether e is done, counting one more Running answer
// when poll is set and it is not. The caller holds s.mu.
func (s *Server) finished(e *execution, poll bool) bool {
	if !e.done && e.polls >= s.cfg.polls && time.Since(e.created) >= s.running(e.org) {
		e.done = true
	}
	if !e.done && poll {
		e.polls++
	}
	return e.done
}

// results answers a poll of execution id on route (and, on a client's
// path, of that client): an execution is read on the path of its kind only.
func (s *Server) results(x *exchange, route Route, clientID, id string) {
	if !s.authorized(x) || !x.validRequest() {
		return
	}
	s.mu.Lock()
	e := s.execs[id]
	if e != nil && (e.org != x.org || e.route != route || e.clientID != clientID) {
		e = nil
	}
	f, unknown := x.fault(faultUnknownStatus)
	done := e != nil && s.finished(e, !unknown) // an unknown status is no poll
	s.mu.Unlock()
	status := func(st gen.QueryStatus) string {
		if unknown {
			return f.text // where the status would go
		}
		return string(st)
	}
	switch {
	case e == nil:
		x.error(http.StatusNotFound, "not.found", "executionId", fmt.Sprintf("No usage query execution with id '%s'", id))
	case !done:
		x.json(http.StatusOK, map[string]string{"queryStatus": status(gen.QueryStatusRunning)})
	case e.outcome == gen.QueryStatusFailed:
		x.json(http.StatusOK, map[string]string{"queryStatus": status(gen.QueryStatusFailed)})
	case route == RouteSearchResults:
		s.searchPage(x, e, status(gen.QueryStatusComplete))
	default:
		x.complete(e.q.rows(e.org.Seed, e.org.Population, s.Now()), x.envelope(status(gen.QueryStatusComplete), ""))
	}
}

// validRequest validates the request against the spec and answers 400 with
// a Genesys ErrorBody naming the field when it does not conform.
func (x *exchange) validRequest() bool {
	err := openapi3filter.ValidateRequest(x.r.Context(), x.in)
	if err == nil {
		return true
	}
	code, field, msg := "bad.request", "", err.Error()
	var se *openapi3.SchemaError
	var pe *openapi3filter.ParseError
	var re *openapi3filter.RequestError
	switch {
	case errors.As(err, &se):
		if p := se.JSONPointer(); len(p) > 0 {
			field = p[0]
		}
		value := fmt.Sprintf("'%v'", se.Value)
		if s, ok := se.Value.(string); ok {
			value = "'" + s + "'"
		}
		switch {
		case se.SchemaField == "required":
			field = strings.TrimSuffix(strings.TrimPrefix(se.Reason, `property "`), `" is missing`)
			msg = "Missing " + field
			if field == "interval" {
				code = "invalid.date"
				msg += ": " + intervalForms
			}
		case field == "interval":
			code = "invalid.date"
			msg = fmt.Sprintf("%s (interval %s: %s)", datesMessage, value, intervalForms)
		case se.SchemaField == "enum":
			allowed := make([]string, len(se.Schema.Enum))
			for i, v := range se.Schema.Enum {
				allowed[i] = fmt.Sprint(v)
			}
			code, msg = "invalid.value", fmt.Sprintf("Value [%s] is not valid for field type [%s]. Allowable values are: %s",
				strings.Trim(value, "'"), field, strings.Join(allowed, ", "))
		case field == "":
			msg = "The request body must be an ApiUsageQuery object: " + se.Reason
		default:
			msg = fmt.Sprintf("Invalid value for %s: %s", field, se.Reason)
		}
	case errors.As(err, &pe):
		msg = "The request body is not valid JSON: " + pe.Error()
	case errors.Is(err, openapi3filter.ErrInvalidRequired):
		field, msg = "body", "A request body is required: an ApiUsageQuery in JSON"
	case errors.As(err, &re) && strings.Contains(re.Reason, "Content-Type"):
		field = "Content-Type"
		msg = fmt.Sprintf("Invalid Content-Type '%s': want application/json", x.r.Header.Get("Content-Type"))
	}
	x.error(http.StatusBadRequest, code, field, msg)
	return false
}

func ptr[T any](v T) *T { return &v }

func (x *exchange) error(status int, code, field, msg string) {
	body := gen.ErrorBody{Message: &msg, Code: &code, Status: ptr(int32(status)), ContextID: &x.corr}
	if field != "" {
		body.Details = []gen.ErrorDetail{{ErrorCode: &code, FieldName: &field}}
	}
	x.json(status, body)
}

func (x *exchange) oauthError(status int, code, desc string) {
	x.json(status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
}

func (x *exchange) rateLimited(retryAfter string) {
	secs, err := strconv.Atoi(retryAfter)
	if err != nil {
		if t, err := http.ParseTime(retryAfter); err == nil {
			secs = max(0, int(time.Until(t).Seconds()+0.5))
		}
	}
	h := x.w.Header()
	h.Set("Retry-After", retryAfter)
	h.Set("inin-ratelimit-count", "301")
	h.Set("inin-ratelimit-allowed", "300")
	h.Set("inin-ratelimit-reset", strconv.Itoa(secs))
	code := "too.many.requests.retry.after"
	msg := fmt.Sprintf("Rate limit exceeded the maximum. Retry the request in [%d] seconds", secs)
	x.json(http.StatusTooManyRequests, gen.ErrorBody{Message: &msg, Code: &code, Status: ptr(int32(429)),
		ContextID: &x.corr, Limit: &gen.Limit{Key: ptr("requests.per.minute"), Namespace: ptr("platform.api"), Value: ptr(int64(300))}})
}

func (x *exchange) json(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only the stub's own types get here
	}
	x.send(status, jsonType, b)
}

// send writes a whole answer, first mangled by the body faults or else
// checked against the spec: a stub that drifts from the spec would make
// every test that trusts it worthless.
func (x *exchange) send(status int, contentType string, body []byte) {
	h := x.w.Header()
	h.Set("Content-Type", contentType)
	if contentType == jsonType && x.s.tamper != nil {
		body = x.s.tamper(body)
	}
	_, unknown := x.fault(faultUnknownStatus) // breaks the spec on purpose
	if mangled := x.mangle(&body); x.in != nil && !mangled && !unknown {
		if err := x.s.checkResponse(x.in, status, h, body); err != nil {
			x.s.report(fmt.Errorf("%s %s: the stub's answer does not conform to the spec: %w", x.r.Method, x.r.URL.Path, err))
			status = http.StatusInternalServerError
			h.Set("Content-Type", jsonType)
			body = []byte(fmt.Sprintf(`{"message":"usagetest: the stub's answer broke api/usage.yaml","code":"internal.server.error","status":500,"contextId":%q}`, x.corr))
		}
	}
	x.w.WriteHeader(status)
	x.w.Write(body)
}

// mangle applies TruncatedJSON and InvalidJSON to body. A body with rows
// is cut in the middle of them, so that a results-first answer loses its
// queryStatus as well as rows.
func (x *exchange) mangle(body *[]byte) bool {
	_, truncate := x.fault(faultTruncated)
	_, invalid := x.fault(faultInvalidJSON)
	if truncate {
		b := *body
		cut := len(b) / 2
		if i := bytes.Index(b, []byte(`"results":[`)); i >= 0 {
			from, to := i+len(`"results":[`), bytes.LastIndexByte(b, ']')
			if to > from {
				cut = (from + to) / 2
			}
		}
		*body = b[:cut]
	}
	if invalid {
		*body = bytes.Replace(*body, []byte(":"), []byte("="), 1)
	}
	return truncate || invalid
}

// The spec lets proxies answer text/html, which kin-openapi cannot decode
// out of the box; it is text, so the plain decoder fits. The registry is
// global: leave alone a decoder the program registered itself.
var htmlDecoder sync.Once

func (s *Server) checkResponse(in *openapi3filter.RequestValidationInput, status int, h http.Header, body []byte) error {
	htmlDecoder.Do(func() {
		if openapi3filter.RegisteredBodyDecoder("text/html") == nil {
			openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
		}
	})
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
}

// checkRow validates one encoded row against ApiUsageRow, so that results
// of any size are checked without holding them.
func (s *Server) checkRow(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return s.doc.Components.Schemas["ApiUsageRow"].Value.VisitJSON(v)
}

// complete answers a Complete execution (or one whose status an
// UnknownStatus fault replaced) with its rows, streamed into env, the
// answer without rows: it validates and writes one row at a time, results
// first unless WithStatusFirst.
func (x *exchange) complete(rows iter.Seq[gen.APIUsageRow], env []byte) {
	zone := time.UTC
	if f, ok := x.fault(faultNonUTCDate); ok {
		off, _ := parseOffset(f.text)
		zone = time.FixedZone(f.text, off)
	}
	_, truncate := x.fault(faultTruncated)
	_, invalid := x.fault(faultInvalidJSON)
	if truncate || invalid { // body faults need the whole body; tests keep it small
		var buf bytes.Buffer
		if x.writeRows(&buf, rows, zone, env) == nil {
			x.send(http.StatusOK, jsonType, buf.Bytes())
		}
		return
	}
	h := x.w.Header()
	h.Set("Content-Type", jsonType)
	if _, unknown := x.fault(faultUnknownStatus); !unknown { // breaks the spec on purpose
		if err := x.s.checkResponse(x.in, http.StatusOK, h, env); err != nil {
			x.s.report(err)
		}
	}
	x.w.WriteHeader(http.StatusOK)
	if err := x.writeRows(x.w, rows, zone, env); errors.Is(err, errBadRow) {
		panic(http.ErrAbortHandler) // the status is sent: cut the body short so the client cannot miss it
	}
}

var errBadRow = errors.New("row does not conform to ApiUsageRow")

// envelope is the results object with no rows: "results":[] marks where
// they go. tail, the JSON of the keys after queryStatus (a page's
// cursors), is empty or starts with a comma.
func (x *exchange) envelope(status, tail string) []byte {
	if x.s.cfg.statusFirst {
		b := appendString([]byte(`{"queryStatus":`), status)
		return append(append(b, tail...), `,"results":[]}`...)
	}
	b := appendString([]byte(`{"results":[],"queryStatus":`), status)
	return append(append(b, tail...), '}')
}

// writeRows writes the whole results object, env with the rows in it.
// Rows are encoded by hand, with every key in the API's order, into a
// buffer written out every 32 KiB: a million rows cost flat memory and no
// reflection.
func (x *exchange) writeRows(w io.Writer, rows iter.Seq[gen.APIUsageRow], zone *time.Location, env []byte) error {
	split := bytes.Index(env, []byte(`"results":[`)) + len(`"results":[`)
	buf := append(make([]byte, 0, 40<<10), env[:split]...)
	n := 0
	for row := range rows {
		if n > 0 {
			buf = append(buf, ',')
		}
		start := len(buf)
		buf = appendRow(buf, &row, zone)
		if x.s.tamper != nil {
			buf = append(buf[:start], x.s.tamper(buf[start:])...)
		}
		// Every row comes from the same code with the same keys, so a
		// sample finds any drift; checking all would make the stub, not the
		// client, the cost of a large result (about 17 µs a row).
		if n++; n <= 1000 || n%1000 == 0 {
			if err := x.s.checkRow(buf[start:]); err != nil {
				x.s.report(fmt.Errorf("%s %s: a result row does not conform to the spec: %w", x.r.Method, x.r.URL.Path, err))
				w.Write(buf[:start])
				return errBadRow
			}
		}
		if len(buf) >= 32<<10 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	buf = append(buf, env[split:]...)
	_, err := w.Write(buf)
	return err
}

// appendRow encodes row as the API does: every key, in its order, the
// dimensions not grouped by as "" and counters as numbers, and a date
// without a fraction, absent from totals.
func appendRow(b []byte, row *gen.APIUsageRow, zone *time.Location) []byte {
	for _, f := range [...]struct {
		key string
		v   string
	}{
		{`{"clientId":`, row.ClientID}, {`,"clientName":`, row.ClientName}, {`,"organizationId":`, row.OrganizationID},
		{`,"userId":`, row.UserID}, {`,"templateUri":`, row.TemplateURI}, {`,"httpMethod":`, row.HTTPMethod},
	} {
		b = appendString(append(b, f.key...), f.v)
	}
	for _, f := range [...]struct {
		key string
		v   int64
	}{
		{`,"status200":`, row.Status200}, {`,"status300":`, row.Status300}, {`,"status400":`, row.Status400},
		{`,"status500":`, row.Status500}, {`,"status429":`, row.Status429}, {`,"requests":`, row.Requests},
	} {
		b = strconv.AppendInt(append(b, f.key...), f.v, 10)
	}
	if !row.Date.IsZero() {
		b = append(row.Date.In(zone).AppendFormat(append(b, `,"date":"`...), time.RFC3339), '"')
	}
	return append(b, '}')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
