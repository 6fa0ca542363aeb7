package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// cliReference is docs/cli.md: the reference of every command, generated
// from the command tree by cobra/doc, in one page whose links are anchors.
func cliReference(t *testing.T) string {
	t.Helper()
	root := newRootCmd(&Factory{Getenv: func(string) string { return "" }, Stdout: io.Discard, Stderr: io.Discard, Now: time.Now}, nil)
	var b bytes.Buffer
	b.WriteString("<!-- Generated from the command tree by `make generate` (cmd/gcusage/docs_test.go): do not edit. -->\n\n" +
		"# gcusage command reference\n\n" +
		"Every command and flag of `gcusage`, as `--help` prints them. [cli-guide.md](cli-guide.md) says how the output,\n" +
		"the intervals, the exit codes and the resume hints work.\n\n")
	anchor := func(name string) string {
		base := strings.TrimSuffix(name, ".md")
		return "#" + strings.ReplaceAll(base, "_", "-")
	}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c != root {
			return
		}
		if err := doc.GenMarkdownCustom(c, &b, anchor); err != nil {
			t.Fatal(err)
		}
		b.WriteString("\n")
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// TestCLIReference keeps docs/cli.md in step with the command tree; -update
// (what make generate runs) rewrites it.
func TestCLIReference(t *testing.T) {
	got := cliReference(t)
	path := filepath.Join("..", "..", "docs", "cli.md")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil || string(want) != got {
		t.Errorf("docs/cli.md is not what the command tree gives (%v): run make generate and commit it", err)
	}
	for _, s := range []string{"## gcusage jobs query", "--group-by list", "## gcusage completion bash"} {
		if !strings.Contains(got, s) {
			t.Errorf("docs/cli.md lacks %q", s)
		}
	}
}
