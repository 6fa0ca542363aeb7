package gcusage_test

import (
	"os"
	"strings"
	"testing"
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
