package profiles

import (
	"fmt"
	"log/slog"
)

// Secret is a client secret or an access token read from a profile. It
// prints as REDACTED however it is printed (every fmt verb, slog, JSON or
// text marshalling), so that a profile can be logged or put in an error
// without its secrets; Reveal hands the value to the one place that sends
// it, the client's options.
type Secret struct{ value string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{s} }

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty, that is absent.
func (s Secret) IsZero() bool { return s.value == "" }

// String is REDACTED, or "" for an absent secret.
func (s Secret) String() string {
	if s.IsZero() {
		return ""
	}
	return "REDACTED"
}

// GoString is String, quoted.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// Format prints String whatever the verb, %x and %d included.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue is String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText is String, which also keeps the secret out of JSON.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
