package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
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
	os.Exit(code)
}

// serveStubs starts two stubs, one whose queries are complete at once and
// one whose queries answer Running to their first results GET, serves each
// through a replay on a listener of its own, prints their addresses as one
// JSON line and serves until its standard input closes.
func serveStubs(stdin io.Reader, stdout io.Writer) error {
	info := map[string]stubInfo{}
	for name, polls := range map[string]int{"done": 0, "running": 1} {
		s, err := usagetest.Start(stubOptions(usagetest.WithRunning(polls, 0))...)
		if err != nil {
			return err
		}
		defer s.Close()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: &replay{next: s.Handler(), bodies: map[string]replayed{}}}
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
// bytes the stub sent the first time. The stub generates and validates
// every row as it writes it (about 20 µs a row), ten times the time a
// client takes to decode it, so without a replay every client would be
// timed at the stub's pace.
type replay struct {
	next   http.Handler
	mu     sync.Mutex
	bodies map[string]replayed // by path
}

type replayed struct {
	auth string // the Authorization that got it: a replay asks no less
	body []byte
}

var complete = []byte(`{"queryStatus":"Complete"`)

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/results") {
		rp.next.ServeHTTP(w, r)
		return
	}
	rp.mu.Lock()
	got, ok := rp.bodies[r.URL.Path]
	rp.mu.Unlock()
	if ok && got.auth == r.Header.Get("Authorization") {
		w.Header().Set("Content-Type", "application/json")
		w.Write(got.body)
		return
	}
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	rp.next.ServeHTTP(rec, r)
	if rec.status == http.StatusOK && bytes.HasPrefix(rec.body.Bytes(), complete) {
		rp.mu.Lock()
		rp.bodies[r.URL.Path] = replayed{r.Header.Get("Authorization"), rec.body.Bytes()}
		rp.mu.Unlock()
	}
}

// recorder passes an answer through and keeps a copy of its body.
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

// childStubs starts the child process on first use.
func childStubs(b testing.TB) map[string]stubInfo {
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

// bearers caches one token per stub: fetched once, outside every timed loop,
// and the same for all peers.
var bearers sync.Map

func targetOf(b testing.TB, name string, pollEvery time.Duration) target {
	b.Helper()
	s := childStubs(b)[name]
	tok, ok := bearers.Load(name)
	if !ok {
		cc := clientcredentials.Config{ClientID: s.ClientID, ClientSecret: s.ClientSecret, TokenURL: s.LoginURL + "/oauth/token"}
		t, err := cc.Token(context.Background())
		if err != nil {
			b.Fatalf("token: %v", err)
		}
		tok, _ = bearers.LoadOrStore(name, t.AccessToken)
	}
	return target{apiURL: s.URL, loginURL: s.LoginURL, bearer: tok.(string), pollEvery: pollEvery}
}

func benchPeers(b *testing.B, stub string, pollEvery time.Duration, run func(b *testing.B, p peer)) {
	ps, err := peers(targetOf(b, stub, pollEvery))
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range peerNames {
		b.Run("client="+name, func(b *testing.B) { run(b, ps[name]) })
	}
}

// executions holds, per query, one complete execution that has been fetched
// once, so that the stub has generated its rows once and replays them from
// then on, for every peer (they send the same bearer) and every -count.
var executions sync.Map

func completeExecution(b *testing.B, p peer, q gen.APIUsageQuery) string {
	b.Helper()
	if id, ok := executions.Load(q.Interval); ok {
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
	executions.Store(q.Interval, id)
	return id
}

// measure runs op in the timed loop, and fails if an iteration decoded
// other than want rows. With perRow it reports allocs/row too.
func measure(b *testing.B, want int, perRow bool, op func() (tally, error)) {
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before, n := ms.Mallocs, 0
	for b.Loop() {
		got, err := op()
		if err != nil {
			b.Fatal(err)
		}
		if got.rows != want || got.dated != want {
			b.Fatalf("decoded %d rows (%d dated), want %d", got.rows, got.dated, want)
		}
		n++
	}
	runtime.ReadMemStats(&ms)
	if perRow {
		b.ReportMetric(float64(ms.Mallocs-before)/float64(n*want), "allocs/row")
	}
}

// BenchmarkPost times starting a query: validation, encoding, one POST.
func BenchmarkPost(b *testing.B) {
	ctx := context.Background()
	benchPeers(b, "done", 0, func(b *testing.B, p peer) {
		measure(b, 0, false, func() (tally, error) {
			_, err := p.start(ctx, smallQuery)
			return tally{}, err
		})
	})
}

// BenchmarkResults times fetching and decoding the rows of a complete
// execution, which is started once, outside the timed loop.
func BenchmarkResults(b *testing.B) {
	ctx := context.Background()
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			if testing.Short() && size.rows > 10_000 {
				b.Skip("short: 10k rows only")
			}
			benchPeers(b, "done", 0, func(b *testing.B, p peer) {
				id := completeExecution(b, p, size.query)
				measure(b, size.rows, true, func() (tally, error) { return p.fetch(ctx, id) })
			})
		})
	}
}

// BenchmarkCycle times a whole query with the token cached: POST, results
// GETs until Complete, decoding its one row. Decoding is BenchmarkResults'
// business, and a new execution is never replayed, so the stub would set
// the pace of a big one. With running=1 the first GET answers Running and
// every peer waits one poll interval of 1 ms (gcusage's is jittered) before
// the next.
func BenchmarkCycle(b *testing.B) {
	ctx := context.Background()
	for _, stub := range []string{"done", "running"} {
		b.Run("running="+map[string]string{"done": "0", "running": "1"}[stub], func(b *testing.B) {
			benchPeers(b, stub, time.Millisecond, func(b *testing.B, p peer) {
				measure(b, 1, false, func() (tally, error) { return p.cycle(ctx, smallQuery) })
			})
		})
	}
}
