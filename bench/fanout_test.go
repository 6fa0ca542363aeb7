package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/internal/fanout"
	"github.com/gcusage/gcusage/usagetest"
)

// The fan-out over organizations (--all-profiles): fanOrgs emulated orgs
// of one stub, each of whose queries stays Running for a set time, a few
// at a time, a client of its own per org: timed through the gcusage
// command itself (BenchmarkFanOut), and in virtual time through the
// internal/fanout and fanout.Query it runs (TestFanOutRounds), which a
// process of its own cannot share.

const fanOrgs = 20

// fanQuery is each org's query: a week's totals per OAuth client, a few
// rows, so that the run's time is the orgs' waits.
var fanQuery = client.Query{Interval: "2025-01-06/2025-01-12", GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID}}

// fanCase is one run: n orgs, parallel at a time.
type fanCase struct{ orgs, parallel int }

func (c fanCase) rounds() int { return (c.orgs + c.parallel - 1) / c.parallel }

var fanCases = []fanCase{{1, 1}, {fanOrgs, 1}, {fanOrgs, 4}, {fanOrgs, fanOrgs}}

// fanStub serves n orgs, each of whose queries is Running for running
// after its POST, and at least one poll.
func fanStub(tb testing.TB, n int, running time.Duration, opts ...usagetest.Option) *usagetest.Server {
	orgs := make([]usagetest.Org, n)
	for i := range orgs {
		orgs[i] = usagetest.Org{Name: fmt.Sprintf("org-%02d", i), ClientID: fmt.Sprintf("client-%02d", i),
			ClientSecret: fmt.Sprintf("secret-%02d", i), Running: running}
	}
	return usagetest.NewServer(tb, append(opts, usagetest.WithOrgs(orgs...), usagetest.WithNow(func() time.Time { return today }))...)
}

// fanRun is what one run took.
type fanRun struct {
	elapsed  time.Duration
	orgTime  time.Duration // the mean of each org's own time, start to end
	most     int           // orgs in flight at once, at most
	failures []string
}

// runFanOut runs fanQuery in every org of srv, parallel at a time, each
// with a client of its own (its own token, retries and connections), the
// rows of all in one sink.
func runFanOut(ctx context.Context, srv *usagetest.Server, parallel int, transport func() http.RoundTripper) fanRun {
	orgs := srv.Orgs()
	names := make([]string, len(orgs))
	for i, o := range orgs {
		names[i] = o.Name
	}
	var mu sync.Mutex
	var r fanRun
	in := 0
	began := map[string]time.Time{}
	sink := fanout.NewSink(func(string, gen.APIUsageRow) error { return nil })
	start := time.Now()
	outs := fanout.Run(ctx, names, fanout.Options{Limit: parallel,
		OnStart: func(name string) {
			mu.Lock()
			defer mu.Unlock()
			began[name] = time.Now()
			in++
			r.most = max(r.most, in)
		},
		OnDone: func(o fanout.Outcome) {
			mu.Lock()
			defer mu.Unlock()
			in--
			r.orgTime += time.Since(began[o.Name])
		},
	}, func(ctx context.Context, t *fanout.Task) error {
		o := orgs[t.Index]
		c, err := client.New(client.WithBaseURLs(srv.URL, srv.LoginURL), client.WithClientCredentials(o.ClientID, o.ClientSecret),
			client.WithHTTPClient(&http.Client{Transport: transport()}), client.WithNow(srv.Now))
		if err != nil {
			return err
		}
		return fanout.Query(ctx, t, c, fanQuery, sink)
	})
	r.elapsed = time.Since(start)
	r.orgTime /= time.Duration(len(orgs))
	for _, o := range outs {
		if o.State != fanout.Done {
			r.failures = append(r.failures, fmt.Sprintf("%s: %s: %v", o.Name, o.State, o.Err))
		}
	}
	return r
}

// BenchmarkFanOut times what --all-profiles does over 20 orgs whose
// queries each stay Running for 500 ms (20 ms with -short), 1, 4 and 20 at
// a time, on loopback, and one org alone, through the gcusage command
// itself: the binary built from ../cmd, given a config file of a profile
// per org, runs `query --all-profiles --parallel N` with its own profiles,
// clients, fan-out and output, as a user's shell would. A run takes about
// as many times one org's time as it has rounds, ceil(orgs/parallel),
// reported as rounds and ms/round; ms/org is an org's own time in the run,
// from its first request to its last, read from the command's --verbose
// log.
func BenchmarkFanOut(b *testing.B) {
	bin := gcusageCommand(b)
	running := 500 * time.Millisecond
	if testing.Short() {
		running = 20 * time.Millisecond
	}
	for _, c := range fanCases {
		b.Run(fmt.Sprintf("orgs=%d/parallel=%d", c.orgs, c.parallel), func(b *testing.B) {
			srv := fanStub(b, c.orgs, running)
			config := fanProfiles(b, srv)
			var orgTime time.Duration
			for b.Loop() {
				r := runCommand(b.Context(), bin, srv, config, c.parallel)
				if r.failures != nil || r.most != c.parallel {
					b.Fatalf("%d in flight at most, want %d; failures %v", r.most, c.parallel, r.failures)
				}
				orgTime += r.orgTime
			}
			b.ReportMetric(float64(c.rounds()), "rounds")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(c.rounds()), "ms/round")
			b.ReportMetric(float64(orgTime.Milliseconds())/float64(b.N), "ms/org")
		})
	}
}

// gcusageCommand builds the gcusage command from ../cmd, once, outside the
// workspace as that module's go.mod allows, into a directory that
// TestMain removes.
func gcusageCommand(tb testing.TB) string {
	path, err := buildCommand()
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

var (
	commandDir   string
	buildCommand = sync.OnceValues(func() (string, error) {
		goTool, err := exec.LookPath("go")
		if err != nil {
			return "", fmt.Errorf("building the gcusage command: %w", err)
		}
		if commandDir, err = os.MkdirTemp("", "gcusage-bench-"); err != nil {
			return "", err
		}
		path := filepath.Join(commandDir, "gcusage")
		build := exec.Command(goTool, "build", "-o", path, "./gcusage")
		build.Dir = filepath.Join("..", "cmd")
		build.Env = append(os.Environ(), "GOWORK=off")
		if out, err := build.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build ./cmd/gcusage: %v\n%s", err, out)
		}
		return path, nil
	})
)

// fanProfiles writes the config file of srv's orgs, a profile each, as
// gc profiles new writes them.
func fanProfiles(tb testing.TB, srv *usagetest.Server) string {
	var file strings.Builder
	for _, o := range srv.Orgs() {
		fmt.Fprintf(&file, "[%s]\nclient_credentials = %q\nclient_secret = %q\n\n", o.Name, o.ClientID, o.ClientSecret)
	}
	path := filepath.Join(tb.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// verboseLine is a line of the command's --verbose log: an HTTP attempt,
// logged as it ends, with the profile it was made for and its duration.
// The log carries no time of its own: each line is timed as it arrives.
var verboseLine = regexp.MustCompile(`^gcusage: profile (\S+): http attempt .* duration=(\S+)`)

// runCommand runs fanQuery in every org of srv through the gcusage
// command, parallel at a time, and reads what it took from the outside:
// the run's time, each org's span in its log, and its csv rows.
func runCommand(ctx context.Context, bin string, srv *usagetest.Server, config string, parallel int) fanRun {
	cmd := exec.CommandContext(ctx, bin, "query", "--all-profiles", "--config", config, "--parallel", strconv.Itoa(parallel),
		"--interval", fanQuery.Interval, "--group-by", "OAuthClientId", "--format", "csv", "--verbose",
		"--api-url", srv.URL, "--login-url", srv.LoginURL)
	cmd.Env = []string{"HOME=" + filepath.Dir(config)} // no GENESYSCLOUD_* variable
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return fanRun{failures: []string{err.Error()}}
	}
	type span struct{ first, last time.Time }
	spans := map[string]*span{}
	var bad string
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fanRun{failures: []string{err.Error()}}
	}
	lines := bufio.NewScanner(pipe)
	for lines.Scan() {
		end, line := time.Now(), lines.Text()
		stderr.WriteString(line + "\n")
		m := verboseLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		d, err := time.ParseDuration(m[2])
		if err != nil {
			bad = line
			continue
		}
		if s := spans[m[1]]; s == nil {
			spans[m[1]] = &span{end.Add(-d), end}
		} else {
			s.last = end
		}
	}
	err = cmd.Wait()
	r := fanRun{elapsed: time.Since(start)}
	switch {
	case err != nil:
		return fanRun{failures: []string{fmt.Sprintf("%v: %s", err, stderr.String())}}
	case bad != "":
		return fanRun{failures: []string{"unreadable log line: " + bad}}
	}
	// The most spans that overlap: the orgs in flight at once. A line is
	// timed as it arrives, a little after its attempt ended, so a span is
	// taken to end a millisecond early: an org that takes the slot another
	// just freed may be read in the same millisecond, never earlier.
	type edge struct {
		at time.Time
		in int
	}
	var edges []edge
	for _, s := range spans {
		r.orgTime += s.last.Sub(s.first)
		edges = append(edges, edge{s.first, 1}, edge{s.last.Add(-time.Millisecond), -1})
	}
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Or(a.at.Compare(b.at), a.in-b.in) })
	in := 0
	for _, e := range edges {
		in += e.in
		r.most = max(r.most, in)
	}
	rows := map[string]int{}
	for line := range strings.Lines(stdout.String()) {
		profile, _, _ := strings.Cut(line, ",")
		rows[profile]++
	}
	for _, o := range srv.Orgs() {
		if rows[o.Name] == 0 || spans[o.Name] == nil {
			r.failures = append(r.failures, o.Name+": no rows, or no request logged")
		}
	}
	if len(spans) > 0 {
		r.orgTime /= time.Duration(len(spans))
	}
	return r
}

// TestFanOutRounds runs the cases of BenchmarkFanOut in virtual time, with
// queries Running for 10 s, and prints the table of docs/performance.md:
// the time of a run against one org's, free of the machine's load. Every
// org must end, with exactly as many in flight at most as allowed.
func TestFanOutRounds(t *testing.T) {
	t.Logf("%-6s %-8s %-6s | %-8s %-8s %s", "orgs", "parallel", "rounds", "run", "org", "run/org")
	for _, c := range fanCases {
		synctest.Test(t, func(t *testing.T) {
			srv := fanStub(t, c.orgs, 10*time.Second, usagetest.InMemory())
			r := runFanOut(t.Context(), srv, c.parallel, srv.Transport)
			if r.failures != nil || r.most != c.parallel {
				t.Errorf("%+v: %d in flight at most, want %d; failures %v", c, r.most, c.parallel, r.failures)
			}
			t.Logf("%-6d %-8d %-6d | %-8v %-8v %.2f", c.orgs, c.parallel, c.rounds(), r.elapsed.Round(10*time.Millisecond),
				r.orgTime.Round(10*time.Millisecond), float64(r.elapsed)/float64(r.orgTime))
		})
	}
}
