package main

import (
	"bytes"
	"log/slog"
	"testing"
	"time"
)

// Every record is one line, as the CLI's own: its level as a word (none
// for a --verbose record), then key=value, quoted where it would not read
// as one value, groups as group.key, control characters escaped.
func TestLineHandler(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(newLineHandler(&b, slog.LevelDebug, "profile p: ")).With("a", 1).WithGroup("g")
	log.Debug("gcusage: http attempt", "k", "two words", "e", "", "d", 1500*time.Millisecond, slog.Group("sub", "x", `say "hi"`))
	log.Error("failed\nforged", "v", "a=b\x1b[2J")
	log.Warn("careful")
	want := `gcusage: profile p: http attempt a=1 g.k="two words" g.e="" g.d=1.5s g.sub.x="say \"hi\""
gcusage: profile p: error: failed\x0aforged a=1 g.v="a=b\x1b[2J"
gcusage: profile p: warning: careful a=1
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	slog.New(newLineHandler(&b, slog.LevelWarn, "")).Info("not shown")
	slog.New(newLineHandler(&b, slog.LevelWarn, "")).Warn(capWarning+"; narrow the interval", "records", 20000)
	if b.Len() != 0 {
		t.Errorf("logged %q: want nothing below the level, nor the search cap's record, which the command says itself", b.String())
	}
}
