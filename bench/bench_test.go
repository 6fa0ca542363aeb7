package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
	"golang.org/x/oauth2/clientcredentials"
)

// The stub of the side-by-side benchmarks runs in a child process (this test
// binary, re-executed), so that its CPU and allocations never count against
// the clients measured here: allocs/op is process-wide.
const stubEnv = "GCUSAGE_BENCH_STUB"

// stubInfo is what the child process tells its parent about each stub.
type stubInfo struct {
	URL, LoginURL, ClientID, ClientSecret string
}

func TestMain(m *testing.M) {
	if os.Getenv(stubEnv) != "" {
		if err := serveStubs(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench stub:", err)
			os.Exit(1)
		}
		return
	}
	code := m.Run()
	stopChild()
	if commandDir != "" {
		os.RemoveAll(commandDir)
	}
	os.Exit(code)
}

// childStubs are the stubs of the child process, by name: "done" answers
// results first, as the real API does, "status-first" writes queryStatus
// first, and both complete a query at once; "running" answers Running to a
// query's first results GET.
var childStubs = map[string][]usagetest.Option{
	"done":         append(orders[0].opts, usagetest.WithRunning(0, 0)),
	"status-first": append(orders[1].opts, usagetest.WithRunning(0, 0)),
	"running":      {usagetest.WithRunning(1, 0)},
}

// serveStubs starts the child stubs, each behind a replay on a listener of
// its own, prints their addresses as one JSON line and serves until its
// standard input closes.
func serveStubs(stdin io.Reader, stdout io.Writer) error {
	info := map[string]stubInfo{}
	for name, opts := range childStubs {
		s, err := usagetest.Start(stubOptions(opts...)...)
		if err != nil {
			return err
		}
		defer s.Close()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: &replay{next: s.Handler(), saved: map[string]replayed{}}}
		go srv.Serve(l)
		defer srv.Close()
		url := "http://" + l.Addr().String()
		info[name] = stubInfo{url, url, s.ClientID, s.ClientSecret}
	}
	if err := json.NewEncoder(stdout).Encode(info); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, stdin)
	return err
}

// replay answers a repeated results GET of a Complete execution with the
// headers and bytes the stub sent the first time. The stub generates every
// row as it writes it and checks a sample against the spec, on the same
// two cores: without a replay, every client would be timed with the
// stub's work, not only its own.
type replay struct {
	next  http.Handler
	mu    sync.Mutex
	saved map[string]replayed // by path
}

type replayed struct {
	auth   string // the Authorization that got it: a replay asks no less
	header http.Header
	body   []byte
}

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/results") {
		rp.next.ServeHTTP(w, r)
		return
	}
	auth := r.Header.Get("Authorization")
	rp.mu.Lock()
	got, ok := rp.saved[r.URL.Path]
	rp.mu.Unlock()
	if ok && got.auth == auth {
		maps.Copy(w.Header(), got.header)
		w.Write(got.body)
		return
	}
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	rp.next.ServeHTTP(rec, r)
	if rec.status == http.StatusOK && completed(rec.body.Bytes()) {
		rp.mu.Lock()
		rp.saved[r.URL.Path] = replayed{auth, w.Header().Clone(), rec.body.Bytes()}
		rp.mu.Unlock()
	}
}

// completed tells a Complete answer, in either order of its keys.
func completed(body []byte) bool {
	return bytes.HasPrefix(body, []byte(`{"queryStatus":"Complete"`)) ||
		bytes.HasSuffix(body, []byte(`"queryStatus":"Complete"}`))
}

// recorder keeps a copy of an answer's body as it passes it through.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the connection, to flush.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Write(p []byte) (int, error) {
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

var child struct {
	once  sync.Once
	cmd   *exec.Cmd
	stdin io.WriteCloser
	info  map[string]stubInfo
	err   error
}

// startChild starts the child process on first use.
func startChild(b testing.TB) map[string]stubInfo {
	b.Helper()
	child.once.Do(func() {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), stubEnv+"=1")
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			child.err = err
			return
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			child.err = err
			return
		}
		if child.err = cmd.Start(); child.err != nil {
			return
		}
		child.cmd, child.stdin = cmd, stdin
		line, err := bufio.NewReader(stdout).ReadBytes('\n')
		if err == nil {
			err = json.Unmarshal(line, &child.info)
		}
		child.err = err
	})
	if child.err != nil {
		b.Fatalf("starting the stub process: %v", child.err)
	}
	return child.info
}

func stopChild() {
	if child.cmd != nil {
		child.stdin.Close()
		child.cmd.Wait()
	}
}

// bearers caches one token per stub, by login URL: fetched once, outside
// every timed loop, and the same for all peers.
var bearers sync.Map

func targetOf(b testing.TB, name string, pollEvery time.Duration) target {
	b.Helper()
	s := startChild(b)[name]
	tok, ok := bearers.Load(s.LoginURL)
	if !ok {
		cc := clientcredentials.Config{ClientID: s.ClientID, ClientSecret: s.ClientSecret, TokenURL: s.LoginURL + "/oauth/token"}
		t, err := cc.Token(context.Background())
		if err != nil {
			b.Fatalf("token: %v", err)
		}
		tok, _ = bearers.LoadOrStore(s.LoginURL, t.AccessToken)
	}
	return target{apiURL: s.URL, loginURL: s.LoginURL, bearer: tok.(string), pollEvery: pollEvery}
}

// benchPeers runs one benchmark per peer, each peer with a transport of
// its own that counts its results GETs and the bytes it reads of them.
func benchPeers(b *testing.B, stub string, pollEvery time.Duration, run func(b *testing.B, p peer, c *counter)) {
	counters := map[string]*counter{}
	ps, err := peers(targetOf(b, stub, pollEvery), func(name string) http.RoundTripper {
		counters[name] = new(counter)
		return counting{newTransport(), counters[name]}
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range peerNames {
		b.Run("client="+name, func(b *testing.B) { run(b, ps[name], counters[name]) })
	}
}

// executions holds, per stub and query, one complete execution that has
// been fetched once, so that the stub has generated its rows once and
// replays them from then on, for every peer (they send the same bearer)
// and every -count.
var executions sync.Map

func completeExecution(b testing.TB, stub string, p peer, q gen.APIUsageQuery) string {
	b.Helper()
	key := stub + " " + q.Interval
	if id, ok := executions.Load(key); ok {
		return id.(string)
	}
	ctx := context.Background()
	id, err := p.start(ctx, q)
	if err == nil {
		_, err = p.fetch(ctx, id)
	}
	if err != nil {
		b.Fatal(err)
	}
	executions.Store(key, id)
	return id
}

// measure runs op in the timed loop, and fails if an iteration decoded
// other than want. It reports the allocations a row when perRow, and the
// results GETs and the bytes read of them an iteration when c is not nil.
func measure(b *testing.B, want tally, c *counter, perRow bool, op func() (tally, error)) {
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before, n := ms.Mallocs, 0
	var gets, read int64
	if c != nil {
		gets, read = c.gets.Load(), c.read.Load()
	}
	for b.Loop() {
		got, err := op()
		if err != nil {
			b.Fatal(err)
		}
		if got != want {
			b.Fatalf("decoded %+v, want %+v", got, want)
		}
		n++
	}
	runtime.ReadMemStats(&ms)
	if perRow {
		b.ReportMetric(float64(ms.Mallocs-before)/float64(n*want.rows), "allocs/row")
	}
	if c != nil {
		b.ReportMetric(float64(c.gets.Load()-gets)/float64(n), "GETs/op")
		b.ReportMetric(float64(c.read.Load()-read)/float64(n), "read-B/op")
	}
}

// BenchmarkPost times starting a query: validation, encoding, one POST.
func BenchmarkPost(b *testing.B) {
	ctx := context.Background()
	benchPeers(b, "done", 0, func(b *testing.B, p peer, _ *counter) {
		measure(b, tally{}, nil, false, func() (tally, error) {
			_, err := p.start(ctx, smallQuery.query)
			return tally{}, err
		})
	})
}

// BenchmarkResults times fetching and decoding the rows of a complete
// execution, which is started once, outside the timed loop, in both orders
// of the answer's keys.
func BenchmarkResults(b *testing.B) {
	ctx := context.Background()
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			if testing.Short() && size.name != sizes[0].name {
				b.Skip("short: the smallest size only")
			}
			want := size.want(b)
			for _, o := range orders {
				b.Run("order="+o.name, func(b *testing.B) {
					benchPeers(b, o.stub, 0, func(b *testing.B, p peer, c *counter) {
						id := completeExecution(b, o.stub, p, size.query)
						measure(b, want, c, true, func() (tally, error) { return p.fetch(ctx, id) })
					})
				})
			}
		})
	}
}

// BenchmarkCycle times a whole query with the token cached: POST, results
// GETs until Complete, decoding its rows: the API's totals per client over
// one day, a few dozen rows at most. Decoding is BenchmarkResults'
// business, and a new execution is never replayed, so the stub would set
// the pace of a big one. With running=1 the first GET answers Running and
// every peer waits one poll interval of 1 ms (gcusage's is jittered) before
// the next.
func BenchmarkCycle(b *testing.B) {
	ctx := context.Background()
	want := smallQuery.want(b)
	for _, stub := range []string{"done", "running"} {
		b.Run("running="+map[string]string{"done": "0", "running": "1"}[stub], func(b *testing.B) {
			benchPeers(b, stub, time.Millisecond, func(b *testing.B, p peer, c *counter) {
				measure(b, want, c, false, func() (tally, error) { return p.cycle(ctx, smallQuery.query) })
			})
		})
	}
}

// counter counts the results GETs a peer sends and the bytes of their
// answers' bodies that it reads.
type counter struct{ gets, read atomic.Int64 }

// counting is the transport that keeps a counter.
type counting struct {
	next http.RoundTripper
	c    *counter
}

func (t counting) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/results") {
		t.c.gets.Add(1)
		if err == nil {
			resp.Body = countingBody{resp.Body, &t.c.read}
		}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
