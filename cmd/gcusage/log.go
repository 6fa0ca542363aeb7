package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gcusage/gcusage/cmd/internal/output"
)

// lineHandler writes the SDK's log records on stderr as the CLI's other
// lines read: one escaped line each, "gcusage: warning: MESSAGE key=value
// ..." (error: for an error, nothing for a --verbose record), with no time
// or level fields. label, such as "profile NAME: ", says whose record it
// is in a run over several orgs, as the other lines of that org say it.
type lineHandler struct {
	w     io.Writer
	mu    *sync.Mutex // one line at a time, whichever handler derived from the first writes it
	level slog.Level
	label string
	attrs []byte // " key=value" of WithAttrs, already written
	group string // the prefix of the keys, "a.b." inside WithGroup("a").WithGroup("b")
}

func newLineHandler(w io.Writer, level slog.Level, label string) *lineHandler {
	return &lineHandler{w: w, mu: new(sync.Mutex), level: level, label: label}
}

// capWarning starts the SDK's record of a search stopped at the API's
// cap: the command prints its own warning, with the cap and what to do,
// even with --quiet, and once is enough.
const capWarning = "gcusage: the search stopped at the API's cap"

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, capWarning) {
		return nil
	}
	b := []byte("gcusage: " + h.label)
	switch {
	case r.Level >= slog.LevelError:
		b = append(b, "error: "...)
	case r.Level >= slog.LevelWarn:
		b = append(b, "warning: "...)
	}
	b = append(b, strings.TrimPrefix(r.Message, "gcusage: ")...)
	b = append(b, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		b = appendAttr(b, h.group, a)
		return true
	})
	line := output.Escape(string(b)) + "\n"
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, line)
	return err
}

func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		c.attrs = appendAttr(c.attrs, h.group, a)
	}
	return &c
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.group += name + "."
	return &c
}

// appendAttr appends " key=value", a group's attributes each as
// " group.key=value", and nothing for an empty attribute.
func appendAttr(b []byte, prefix string, a slog.Attr) []byte {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, g := range v.Group() {
			b = appendAttr(b, prefix, g)
		}
		return b
	}
	if a.Equal(slog.Attr{}) {
		return b
	}
	var s string
	switch v.Kind() {
	case slog.KindDuration:
		s = v.Duration().String()
	case slog.KindTime:
		s = v.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		s = fmt.Sprint(v.Any())
	default:
		s = v.String()
	}
	b = append(b, ' ')
	b = append(b, prefix+a.Key...)
	b = append(b, '=')
	// Quoted where it would not read as one value; its control
	// characters are escaped with the whole line, as everywhere on
	// stderr, and are not escaped twice here.
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '"' || r == '=' || output.IsControl(r) }) {
		return append(append(append(b, '"'), strings.ReplaceAll(s, `"`, `\"`)...), '"')
	}
	return append(b, s...)
}
