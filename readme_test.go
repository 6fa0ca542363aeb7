package gcusage_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The README's quick start must be the code Example_quickStart runs: every
// line of it but the one that picks a region stands in quickStart, in the
// same order.
func TestReadmeQuickStartIsTheExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## SDK quick start\n\n```go\n")
	snippet, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no Go block under \"## SDK quick start\"")
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(src), "\nfunc quickStart(")
	var lines []string
	for l := range strings.Lines(body) {
		lines = append(lines, strings.TrimSpace(l))
	}
	i := 0
	for l := range strings.Lines(snippet) {
		l = strings.TrimSpace(l)
		if l == "" || strings.Contains(l, "client.WithRegion(") {
			continue
		}
		for i < len(lines) && lines[i] != l {
			i++
		}
		if i == len(lines) {
			t.Fatalf("the README's quick start line %q is not in quickStart (in this order)", l)
		}
	}
}

// The README is the door: short enough to read in five minutes, with every
// detail one link away. Every relative link of the README and of docs/
// must name a file of the repository and, with a #fragment, one of its
// headings, so that moving a section never leaves a dead link behind.
func TestReadmeIsShortAndItsLinksResolve(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(readme), "\n"); n > 250 {
		t.Errorf("README.md has %d lines; keep it at 250 or fewer and move detail to docs/", n)
	}
	pages, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	links := 0
	for _, page := range append([]string{"README.md"}, pages...) {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range markdownLink.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue // the network is not for tests
			}
			links++
			file, fragment, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), file)
			}
			body, err := os.ReadFile(path)
			switch {
			case err != nil:
				t.Errorf("%s links to %s, which does not exist", page, target)
			case fragment != "" && !slices.Contains(anchors(string(body)), fragment):
				t.Errorf("%s links to %s, but %s has no heading with that anchor", page, target, path)
			}
		}
	}
	if links < 10 {
		t.Errorf("found %d relative links in README.md and docs/: the link pattern finds nothing", links)
	}
}

// markdownLink is the target of an inline link or image: [text](target).
var markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// anchors lists the anchors GitHub gives the headings of a page: lower
// case, spaces to hyphens, punctuation but - and _ dropped.
func anchors(page string) []string {
	var out []string
	fenced := false
	for line := range strings.Lines(page) {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range title {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}
