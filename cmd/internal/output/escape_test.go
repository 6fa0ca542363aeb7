package output

import "testing"

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "",
		"Acme Corp — Zürich 日本":      "Acme Corp — Zürich 日本",
		`C:\path "quoted" 100%`:      `C:\path "quoted" 100%`,
		"\x1b]0;title\x07":           `\x1b]0;title\x07`,
		"a\nb\rc\td":                 `a\x0ab\x0dc\x09d`,
		"\x00\x7f":                   `\x00\x7f`,
		"\u009b31m":                  `\u009b31m`, // C1 CSI, as UTF-8
		"\x9b31m":                    `\x9b31m`,   // C1 CSI as a raw byte, not UTF-8
		"abc\u202edcba":              `abc\u202edcba`,
		"line\u2028next":             `line\u2028next`,
		"\ufffd is a real character": "\ufffd is a real character",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}
