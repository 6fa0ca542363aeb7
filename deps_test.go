package gcusage_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// notForApps are the modules an app that imports only the SDK must never see
// in its module graph: the stub's validator and what it brings, the CLI's
// terminal package, and the stub and CLI modules themselves.
var notForApps = []string{
	"github.com/getkin/kin-openapi",
	"github.com/gorilla/mux",
	"github.com/santhosh-tekuri/jsonschema/v6",
	"golang.org/x/term",
	"github.com/gcusage/gcusage/usagetest",
	"github.com/gcusage/gcusage/cmd",
}

// TestAppDependencies builds an app of its own module, outside this
// checkout, that imports client and gen and runs go mod tidy as apps do: its
// go list -m all must hold none of notForApps. Tidy also loads the tests of
// the packages an app imports, so this fails as well when a test of client
// or gen imports the stub.
func TestAppDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command, which may fetch modules from the proxy")
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	// Outside the workspace the root module must build on its own: a module
	// the SDK needs but only usagetest's or cmd's go.mod requires passes every
	// test in the workspace and fails every app.
	goCmd(t, root, "build", "./...")

	app := newApp(t, root, false)
	goCmd(t, app, "build", "./...")
	mods := modules(t, app)
	for _, m := range notForApps {
		if slices.Contains(mods, m) {
			t.Errorf("an app importing client and gen requires %s; its go list -m all:\n%s", m, strings.Join(mods, "\n"))
		}
	}
	if !slices.Contains(mods, "golang.org/x/oauth2") {
		t.Errorf("go list -m all of the app lacks the SDK's own golang.org/x/oauth2:\n%s", strings.Join(mods, "\n"))
	}

	// The control: an app that tests with the stub does get kin-openapi, so
	// the check above would see it.
	mods = modules(t, newApp(t, root, true))
	for _, m := range notForApps[:2] {
		if !slices.Contains(mods, m) {
			t.Errorf("an app testing with usagetest lacks %s; its go list -m all:\n%s", m, strings.Join(mods, "\n"))
		}
	}
}

// newApp writes an app that imports client and gen, its tests the stub when
// stub is set, with the SDK replaced by the checkout at root, and tidies it.
func newApp(t *testing.T, root string, stub bool) string {
	dir := t.TempDir()
	mod := "module example.com/app\n\ngo 1.26.0\n\n" +
		"require github.com/gcusage/gcusage v0.0.0-00010101000000-000000000000\n\n" +
		"replace github.com/gcusage/gcusage => " + strconv.Quote(root) + "\n"
	files := map[string]string{"main.go": `package main

import (
	"fmt"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
)

func main() { fmt.Println(len(client.Regions()), gen.GroupByOAuthClientID) }
`}
	sums := []string{"go.sum"} // the checksums to copy, so that none is looked up
	if stub {
		mod += "\nreplace github.com/gcusage/gcusage/usagetest => " + strconv.Quote(filepath.Join(root, "usagetest")) + "\n"
		files["main_test.go"] = `package main

import (
	"testing"

	"github.com/gcusage/gcusage/usagetest"
)

func TestStub(t *testing.T) { usagetest.NewServer(t) }
`
		sums = append(sums, filepath.Join("usagetest", "go.sum"))
	}
	files["go.mod"] = mod
	var sum []byte
	for _, name := range sums {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		sum = append(sum, b...)
	}
	files["go.sum"] = string(sum)
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goCmd(t, dir, "mod", "tidy")
	return dir
}

// modules returns the module paths of go list -m all in dir.
func modules(t *testing.T, dir string) []string {
	var paths []string
	for line := range strings.Lines(goCmd(t, dir, "list", "-m", "all")) {
		if f := strings.Fields(line); len(f) > 0 {
			paths = append(paths, f[0])
		}
	}
	return paths
}

// goCmd runs the go command in dir outside any workspace, as an app's
// developer would, and returns its standard output. Only go mod tidy may
// write a go.mod, and only the app's.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr.Bytes())
	}
	return string(out)
}
