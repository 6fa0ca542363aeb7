package usagetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gcusage/gcusage/gen"
)

// The demo credentials the token endpoint accepts unless WithCredentials
// says otherwise. They guard nothing: the stub only listens on loopback.
const (
	DemoClientID     = "gcusage-demo-client"
	DemoClientSecret = "gcusage-demo-secret"
)

// inMemoryBase is the base URL of a server started with InMemory: loopback,
// so that clients accepting http:// only for loopback take it, and port 0,
// so that a request sent past Transport by mistake cannot reach anything.
const inMemoryBase = "http://127.0.0.1:0"

// Server is a running stub of the Genesys Cloud usage API and its OAuth
// token endpoint.
type Server struct {
	URL          string // API base URL such as http://127.0.0.1:PORT, without a trailing slash
	LoginURL     string // login base URL: the token endpoint is LoginURL + "/oauth/token"
	ClientID     string // credentials the token endpoint accepts
	ClientSecret string

	cfg    config
	doc    *openapi3.T
	host   string
	srv    *http.Server
	ctx    context.Context // canceled by Close, ending slow handlers
	began  time.Time       // by time.Now, which synctest makes virtual
	cancel context.CancelFunc
	wg     sync.WaitGroup // handlers in flight, waited for by Close

	// Hooks for the package's own tests: tamper alters every JSON body
	// and row before it is validated; report receives spec violations.
	tamper func([]byte) []byte
	report func(error)

	orgs []*org // the organizations served, the first that of ClientID

	mu        sync.Mutex
	closed    bool
	requests  []Request
	counts    map[Route]int
	orgCounts map[orgRoute]int // the requests of each org to each route
	faults    []scripted
	tokens    map[string]token
	execs     map[string]*execution
	jobs      map[string]*stubJob
	nextExec  int
	windows   map[string]*window // rate-limit windows, by bearer token
}

// window counts the requests of one token in its current minute.
type window struct {
	start time.Time
	count int
}

// Request is one request the stub received.
type Request struct {
	Time   time.Time
	Method string
	Path   string
	Query  string // the raw query, such as days=30 or after=...&pageSize=1000
	// Header is a copy of the request's headers in which Authorization is
	// redacted to its scheme and a short hash, such as
	// "Bearer sha256:1a2b3c4d", so that tests can compare tokens without
	// ever holding one.
	Header http.Header
	// Body is the request body; a client_secret form field is redacted the
	// same way.
	Body []byte
}

type token struct {
	expires time.Time
	revoked bool
	org     *org // whose token it is
}

type execution struct {
	org      *org // that started it, the only one that may read it
	q        query
	route    Route  // where its results are read
	clientID string // of a per-client query or summary
	outcome  gen.QueryStatus
	created  time.Time
	polls    int // results answered Running so far
	done     bool
	measured bool // a search's records and size are known
	records  int  // of a search, up to the cap
	size     int  // of a search's records, as written
}

// Option configures a Server.
type Option func(*config)

type config struct {
	addr        string
	inMemory    bool
	id, secret  string
	credentials bool // WithCredentials was given
	orgs        []Org
	lifetime    time.Duration
	seed        int64
	seeded      bool // WithSeed was given: execution ids derive from the seed
	now         func() time.Time
	statusFirst bool
	pop         Population
	polls       int
	running     time.Duration
	outcome     func(gen.APIUsageQuery) gen.QueryStatus
	maxResponse int // bytes of a search's records
	faults      []scripted
	err         error
}

func (c *config) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// InMemory starts no listener: the server is reached only through
// Transport, which makes it usable inside a testing/synctest bubble. URL
// and LoginURL are then http://127.0.0.1:0.
func InMemory() Option { return func(c *config) { c.inMemory = true } }

// WithAddr sets the listening address, which must be on loopback
// (default 127.0.0.1:0, a free port).
func WithAddr(addr string) Option {
	return func(c *config) {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			c.fail(fmt.Errorf("usagetest: WithAddr(%q): want a loopback host:port such as 127.0.0.1:8765", addr))
		}
		c.addr = addr
	}
}

// WithCredentials sets the client id and secret the token endpoint accepts
// (default DemoClientID and DemoClientSecret).
func WithCredentials(id, secret string) Option {
	return func(c *config) {
		if id == "" || secret == "" {
			c.fail(errors.New("usagetest: WithCredentials: the client id and secret must not be empty"))
		}
		c.id, c.secret, c.credentials = id, secret, true
	}
}

// WithTokenLifetime sets the expires_in of issued tokens (default 24 h).
// Tokens stop working once it has passed.
func WithTokenLifetime(d time.Duration) Option {
	return func(c *config) {
		if d < time.Second {
			c.fail(fmt.Errorf("usagetest: WithTokenLifetime(%v): want at least 1s", d))
		}
		c.lifetime = d
	}
}

// WithSeed sets the seed of the synthetic population and counters
// (default 1); the same seed and query always give the same rows. It also
// makes execution ids derive from the seed, where by default they are
// random, so that two stubs never share one.
func WithSeed(seed int64) Option { return func(c *config) { c.seed, c.seeded = seed, true } }

// WithNow sets the clock that says which UTC day is today: the API counts
// usage per UTC day and has none for today or later. The default is
// time.Now, except inside a testing/synctest bubble, whose clock starts in
// 2000, before any data (2018): there the stub takes the wall clock of
// when the program started, advanced by the bubble's time since the
// server started. Token lifetimes and WithRunning use time.Now regardless.
func WithNow(now func() time.Time) Option {
	return func(c *config) {
		if now == nil {
			c.fail(errors.New("usagetest: WithNow(nil): want a clock"))
		}
		c.now = now
	}
}

// WithStatusFirst writes a Complete answer's queryStatus before its
// results, {"queryStatus":"Complete","results":[...]}, where the real API
// (and the stub by default) writes results first: for tests and benchmarks
// of clients that must read either order.
func WithStatusFirst() Option { return func(c *config) { c.statusFirst = true } }

// WithPopulation sizes the synthetic organization.
func WithPopulation(p Population) Option {
	return func(c *config) {
		var err error
		if c.pop, err = p.withDefaults(); err != nil {
			c.fail(err)
		}
	}
}

// WithRunning keeps each query Running until it has been answered Running
// to polls results requests and d has passed since the POST (time.Now,
// which synctest makes virtual). The default is one poll and no time;
// WithRunning(0, 0) makes the POST answer 200 with the query already done.
func WithRunning(polls int, d time.Duration) Option {
	return func(c *config) {
		if polls < 0 || d < 0 {
			c.fail(fmt.Errorf("usagetest: WithRunning(%d, %v): want no negative values", polls, d))
		}
		c.polls, c.running = polls, d
	}
}

// WithOutcome decides, when a query is posted, how it ends: Failed, or
// Complete (the default) for any other answer.
func WithOutcome(f func(gen.APIUsageQuery) gen.QueryStatus) Option {
	return func(c *config) { c.outcome = f }
}

// WithFault scripts f for the nth request to route, counted from 1 at the
// server's start; nth 0 means every request. Faults that meet on one
// request all apply.
func WithFault(route Route, nth int, f Fault) Option {
	return func(c *config) {
		if err := f.check(route, nth); err != nil {
			c.fail(err)
		}
		c.faults = append(c.faults, scripted{route: route, at: nth, fault: f})
	}
}

// Inject scripts f for the nth request to route counted from now: 1 is the
// next one; 0 means every request from now on. It panics on a fault that
// does not apply to route.
func (s *Server) Inject(route Route, nth int, f Fault) {
	if err := f.check(route, nth); err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at := 0
	if nth > 0 {
		at = s.counts[route] + nth
	}
	s.faults = append(s.faults, scripted{route: route, at: at, fault: f})
}

// NewServer starts a stub on 127.0.0.1 (a free port unless WithAddr) and
// closes it when the test ends. Spec violations of the stub's own answers
// fail the test.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := start(t.Errorf, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start is NewServer for programs such as a demo mode: the caller must
// Close the server. Spec violations of the stub's own answers are logged.
func Start(opts ...Option) (*Server, error) { return start(log.Printf, opts) }

func start(errorf func(string, ...any), opts []Option) (*Server, error) {
	cfg := config{addr: "127.0.0.1:0", id: DemoClientID, secret: DemoClientSecret, lifetime: 24 * time.Hour,
		seed: 1, polls: 1, maxResponse: defaultMaxResponse}
	cfg.pop, _ = Population{}.withDefaults()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	orgs, err := newOrgs(&cfg)
	if err != nil {
		return nil, err
	}
	doc, err := Spec(context.Background())
	if err != nil {
		return nil, err
	}
	s := &Server{ClientID: orgs[0].ClientID, ClientSecret: orgs[0].ClientSecret, cfg: cfg, doc: doc, orgs: orgs,
		report: func(err error) { errorf("usagetest: %v", err) },
		counts: map[Route]int{}, orgCounts: map[orgRoute]int{}, faults: cfg.faults, tokens: map[string]token{},
		execs: map[string]*execution{}, windows: map[string]*window{}, began: time.Now()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.URL = inMemoryBase
	if !cfg.inMemory {
		l, err := net.Listen("tcp", cfg.addr)
		if err != nil {
			return nil, fmt.Errorf("usagetest: listen: %w", err)
		}
		s.URL = "http://" + l.Addr().String()
		s.srv = &http.Server{Handler: s.Handler(), BaseContext: func(net.Listener) context.Context { return s.ctx },
			ReadHeaderTimeout: 10 * time.Second}
		go s.srv.Serve(l) // ends with ErrServerClosed when Close is called
	}
	s.LoginURL = s.URL
	s.host = strings.TrimPrefix(s.URL, "http://")
	return s, nil
}

// Close stops the server and waits for the requests in flight, which end
// at once: slow answers are cut short.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	if s.srv != nil {
		s.srv.Close()
	}
	s.wg.Wait()
}

// Requests returns every request received so far, in order of arrival,
// token requests included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// Rows returns the rows the stub answers for q once it is Complete, in the
// order it writes them, generated as they are read. Which day is today is
// read from the server's clock (WithNow) when iteration starts. With
// WithOrgs, they are the first org's (see Server.Org).
func (s *Server) Rows(q gen.APIUsageQuery) (iter.Seq[gen.APIUsageRow], error) {
	return s.view(s.orgs[0]).Rows(q)
}

// wallAtInit is the wall clock when the package was loaded, which is
// outside any testing/synctest bubble.
var wallAtInit = time.Now()

// Now is the clock that says which day is today (see WithNow). Give it to
// client.WithNow, so that a client in a testing/synctest bubble, whose own
// clock starts in 2000, agrees with the stub on today and does not refuse
// an interval as ending in the future.
func (s *Server) Now() time.Time {
	if s.cfg.now != nil {
		return s.cfg.now()
	}
	t := time.Now()
	if t.Before(firstDay) { // a synctest bubble, whose clock starts on 2000-01-01
		t = wallAtInit.Add(t.Sub(s.began))
	}
	return t
}

// rateLimit counts a request against its bearer token's minute, as
// Genesys counts against the token's limit, and returns the count and the
// whole seconds until the window resets. The stub never enforces the
// limit: RateLimited does that on purpose.
func (s *Server) rateLimit(r *http.Request) (count, reset int) {
	_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.windows[tok]
	if w == nil || now.Sub(w.start) >= time.Minute {
		w = &window{start: now}
		s.windows[tok] = w
	}
	w.count++
	left := w.start.Add(time.Minute).Sub(now)
	return w.count, int((left + time.Second - 1) / time.Second)
}

// Handler returns the handler that serves both the API and the token
// endpoint, for mounting the stub in a server of one's own.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// redact replaces a credential by the start of its SHA-256, which tells
// credentials apart without revealing them.
func redact(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:4])
}

func redactAuthorization(v string) string {
	scheme, cred, ok := strings.Cut(v, " ")
	if !ok {
		return redact(v)
	}
	return scheme + " " + redact(cred)
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// record keeps r (redacted) and returns the faults its route fires now.
func (s *Server) record(r *http.Request, route Route, body []byte) []Fault {
	h := r.Header.Clone()
	if v := h.Get("Authorization"); v != "" {
		h.Set("Authorization", redactAuthorization(v))
	}
	if form, err := url.ParseQuery(string(body)); err == nil && form.Has("client_secret") {
		form.Set("client_secret", redact(form.Get("client_secret")))
		body = []byte(form.Encode())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Time: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: h, Body: body})
	if route == "" {
		return nil
	}
	s.counts[route]++
	o := s.orgOf(r, route)
	if o != nil {
		s.orgCounts[orgRoute{o, route}]++
	}
	var fired []Fault
	for _, f := range s.faults {
		n := s.counts[route]
		if f.org != nil {
			n = s.orgCounts[orgRoute{f.org, route}]
		}
		if f.route == route && (f.org == nil || f.org == o) && (f.at == 0 || f.at == n) {
			fired = append(fired, f.fault)
		}
	}
	return fired
}
