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
	"slices"
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
// through a replay on a listener of its own, and the first once more with
// results before queryStatus. It prints their addresses as one JSON line
// and serves until its standard input closes.
func serveStubs(stdin io.Reader, stdout io.Writer) error {
	info := map[string]stubInfo{}
	var servers []*http.Server
	defer func() {
		for _, srv := range servers {
			srv.Close()
		}
	}()
	serve := func(h http.Handler) (string, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(l)
		servers = append(servers, srv)
		return "http://" + l.Addr().String(), nil
	}
	for name, polls := range map[string]int{"done": 0, "running": 1} {
		s, err := usagetest.Start(stubOptions(usagetest.WithRunning(polls, 0))...)
		if err != nil {
			return err
		}
		defer s.Close()
		saved := &replays{bodies: map[string]replayed{}}
		url, err := serve(&replay{next: s.Handler(), saved: saved})
		if err != nil {
			return err
		}
		info[name] = stubInfo{url, url, s.ClientID, s.ClientSecret}
		if name != "done" {
			continue
		}
		// The same stub and replays: the same executions and rows, and the
		// same bearer, which targetOf fetches once per login URL.
		url2, err := serve(&replay{next: s.Handler(), saved: saved, resultsFirst: true})
		if err != nil {
			return err
		}
		info["results-first"] = stubInfo{url2, url, s.ClientID, s.ClientSecret}
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
//
// With resultsFirst it sends every Complete answer, the first one too, with
// the results array before queryStatus: the order of the real API is not
// known, and a streaming client cannot learn the status before the rows.
type replay struct {
	next         http.Handler
	saved        *replays
	resultsFirst bool
}

// replays are the answers saved, shared by the replays of one stub.
type replays struct {
	mu     sync.Mutex
	bodies map[string]replayed // by path
}

type replayed struct {
	auth         string // the Authorization that got it: a replay asks no less
	body         []byte
	resultsFirst []byte // body with its fields swapped, nil if it has no results
}

var complete = []byte(`{"queryStatus":"Complete"`)

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/results") {
		rp.next.ServeHTTP(w, r)
		return
	}
	rp.saved.mu.Lock()
	got, ok := rp.saved.bodies[r.URL.Path]
	rp.saved.mu.Unlock()
	if !ok || got.auth != r.Header.Get("Authorization") {
		// Held back when it has to be reordered, passed through otherwise.
		rec := &recorder{ResponseWriter: w, status: http.StatusOK, hold: rp.resultsFirst}
		rp.next.ServeHTTP(rec, r)
		if rec.status != http.StatusOK || !bytes.HasPrefix(rec.body.Bytes(), complete) {
			if rec.hold {
				w.WriteHeader(rec.status)
				w.Write(rec.body.Bytes())
			}
			return
		}
		got = replayed{r.Header.Get("Authorization"), rec.body.Bytes(), resultsFirst(rec.body.Bytes())}
		rp.saved.mu.Lock()
		rp.saved.bodies[r.URL.Path] = got
		rp.saved.mu.Unlock()
		if !rec.hold {
			return
		}
	}
	body := got.body
	if rp.resultsFirst {
		if body = got.resultsFirst; body == nil {
			http.Error(w, "bench replay: a Complete answer without results cannot be reordered", http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// resultsFirst turns the stub's {"queryStatus":"Complete","results":[...]}
// into {"results":[...],"queryStatus":"Complete"}: the same bytes, the same
// rows, the fields swapped. It returns nil for any other answer.
func resultsFirst(body []byte) []byte {
	rest, ok := bytes.CutPrefix(body, []byte(`{"queryStatus":"Complete","results":`))
	rows, ok2 := bytes.CutSuffix(rest, []byte("}"))
	if !ok || !ok2 {
		return nil
	}
	return slices.Concat([]byte(`{"results":`), rows, []byte(`,"queryStatus":"Complete"}`))
}

// recorder keeps a copy of an answer's body, and passes the answer through
// unless it holds it back.
type recorder struct {
	http.ResponseWriter
	hold   bool
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	if !r.hold {
		r.ResponseWriter.WriteHeader(status)
	}
}

// Unwrap lets http.ResponseController reach the connection, to flush.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Write(p []byte) (int, error) {
	r.body.Write(p)
	if r.hold {
		return len(p), nil
	}
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

// bearers caches one token per stub, by login URL: fetched once, outside
// every timed loop, and the same for all peers and all of a stub's replays.
var bearers sync.Map

func targetOf(b testing.TB, name string, pollEvery time.Duration) target {
	b.Helper()
	s := childStubs(b)[name]
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

func benchPeers(b *testing.B, stub string, pollEvery time.Duration, run func(b *testing.B, p peer)) {
	ps, err := peers(targetOf(b, stub, pollEvery), func(string) http.RoundTripper { return newTransport() })
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

func completeExecution(b testing.TB, p peer, q gen.APIUsageQuery) string {
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
// other than want. With perRow it reports allocs/row too.
func measure(b *testing.B, want tally, perRow bool, op func() (tally, error)) {
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before, n := ms.Mallocs, 0
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
}

// BenchmarkPost times starting a query: validation, encoding, one POST.
func BenchmarkPost(b *testing.B) {
	ctx := context.Background()
	benchPeers(b, "done", 0, func(b *testing.B, p peer) {
		measure(b, tally{}, false, func() (tally, error) {
			_, err := p.start(ctx, smallQuery)
			return tally{}, err
		})
	})
}

// BenchmarkResults times fetching and decoding the rows of a complete
// execution, which is started once, outside the timed loop, in both orders
// of the answer's fields.
func BenchmarkResults(b *testing.B) {
	ctx := context.Background()
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			if testing.Short() && size.rows > 10_000 {
				b.Skip("short: 10k rows only")
			}
			for _, o := range orders {
				b.Run("order="+o.name, func(b *testing.B) {
					benchPeers(b, o.stub, 0, func(b *testing.B, p peer) {
						id := completeExecution(b, p, size.query)
						measure(b, expect(b, size.query), true, func() (tally, error) { return p.fetch(ctx, id) })
					})
				})
			}
		})
	}
}

// BenchmarkCycle times a whole query with the token cached: POST, results
// GETs until Complete, decoding its totals (one per client). Decoding is BenchmarkResults'
// business, and a new execution is never replayed, so the stub would set
// the pace of a big one. With running=1 the first GET answers Running and
// every peer waits one poll interval of 1 ms (gcusage's is jittered) before
// the next.
func BenchmarkCycle(b *testing.B) {
	ctx := context.Background()
	for _, stub := range []string{"done", "running"} {
		b.Run("running="+map[string]string{"done": "0", "running": "1"}[stub], func(b *testing.B) {
			benchPeers(b, stub, time.Millisecond, func(b *testing.B, p peer) {
				measure(b, expect(b, smallQuery), false, func() (tally, error) { return p.cycle(ctx, smallQuery) })
			})
		})
	}
}
