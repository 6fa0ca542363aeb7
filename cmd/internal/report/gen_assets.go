//go:build ignore

// gen_assets installs the npm packages that assets/package-lock.json pins
// (npm ci checks each against its integrity hash there) and copies into
// lib/ the one minified file of Apache ECharts that the report embeds, with
// the licenses and notice of everything that file bundles (ECharts, its
// zrender renderer and tslib helpers, and the d3 code ECharts carries). It
// refuses a file that could end the <script> element it is inlined in.
//
// Run by `go generate` in this package; needs npm (Debian: apt-get install
// -y npm).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
)

// The build that has every chart and component the report draws (line,
// bar, grid, legend, tooltip, title and the SVG renderer) and little else:
// about 700 KB instead of the full build's 1.1 MB.
const bundle = "echarts/dist/echarts.common.min.js"

var files = []struct{ from, to string }{
	{bundle, "echarts.min.js"},
	{"echarts/LICENSE", "LICENSE-echarts"},
	{"echarts/NOTICE", "NOTICE-echarts"},
	{"echarts/licenses/LICENSE-d3", "LICENSE-d3"},
	{"zrender/LICENSE", "LICENSE-zrender"},
	{"tslib/LICENSE.txt", "LICENSE-tslib"},
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen_assets: ")
	if _, err := exec.LookPath("npm"); err != nil {
		log.Fatal("npm is needed to fetch the pinned Apache ECharts: install it (Debian: apt-get install -y npm)")
	}
	npm := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	npm.Dir, npm.Stdout, npm.Stderr = "assets", os.Stderr, os.Stderr
	if err := npm.Run(); err != nil {
		log.Fatalf("npm ci in assets/: %v", err)
	}
	modules := filepath.Join("assets", "node_modules")
	if err := os.RemoveAll("lib"); err != nil {
		log.Fatal(err)
	}
	if err := os.Mkdir("lib", 0o755); err != nil {
		log.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(modules, f.from))
		if err != nil {
			log.Fatal(err)
		}
		if f.from == bundle {
			if err := inlinable(b); err != nil {
				log.Fatalf("%s: %v", f.from, err)
			}
		}
		if err := os.WriteFile(filepath.Join("lib", f.to), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	var pkg struct{ Name, Version string }
	b, err := os.ReadFile(filepath.Join(modules, "echarts", "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &pkg)
	}
	if err != nil || pkg.Version == "" {
		log.Fatalf("reading the version of echarts: %v", err)
	}
	if err := os.WriteFile(filepath.Join("lib", "VERSION"), []byte(pkg.Version+"\n"), 0o644); err != nil {
		log.Fatal(err)
	}
}

// inlinable refuses what would end or unbalance the <script> element the
// file goes into: "</script" ends it, and "<!--" with "<script" would send
// the parser into the escaped states where a later "</script>" means less.
func inlinable(b []byte) error {
	low := bytes.ToLower(b)
	for _, s := range []string{"</script", "<!--", "<script"} {
		if i := bytes.Index(low, []byte(s)); i >= 0 {
			return fmt.Errorf("holds %q at byte %d: it cannot be inlined in a <script> element", s, i)
		}
	}
	return nil
}
