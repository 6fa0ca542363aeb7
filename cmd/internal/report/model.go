package report

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Service is which usage service counted the numbers, which the report
// must say: they do not count the same requests.
type Service string

const (
	// Legacy is the usage query (POST /api/v2/usage/query): billable
	// requests only.
	Legacy Service = "legacy"
	// Jobs is the 2025 usage query service (usage aggregates query jobs):
	// every request, Genesys' own OAuth clients included.
	Jobs Service = "jobs"
)

// Describe says in a few words which requests the service counts.
func (s Service) Describe() string {
	switch s {
	case Legacy:
		return "the usage query, which counts billable requests only"
	case Jobs:
		return "the usage query jobs of 2025, which count all requests"
	}
	return string(s)
}

// Meta is what the report says about itself in its header.
type Meta struct {
	// First and Last are the first and last UTC days of the interval,
	// both included; their clocks are ignored.
	First, Last time.Time
	// Host is the region or API host the numbers came from.
	Host    string
	Service Service
	// Made is when the report was made, and Version the gcusage version
	// that made it.
	Made    time.Time
	Version string
}

// MaxDays is the longest interval a report covers: ten years, more than
// the API keeps (its history starts in 2018), and a bound on the memory
// that the per-day sums take.
const MaxDays = 3660

// Days is the number of UTC days from First to Last, both included.
func (m Meta) Days() int { return int(day(m.Last).Sub(day(m.First))/(24*time.Hour)) + 1 }

// Check says what is wrong with m, as NewBuilder would: a caller may
// refuse bad input with it before anything else is done.
func (m Meta) Check() error {
	switch {
	case m.First.IsZero() || m.Last.IsZero():
		return errors.New("report: the interval needs its first and last day")
	case day(m.Last).Before(day(m.First)):
		return fmt.Errorf("report: the interval's last day %s is before its first %s", date(m.Last), date(m.First))
	case m.Days() > MaxDays:
		return fmt.Errorf("report: the interval %s to %s has %d days; a report covers at most %d", date(m.First), date(m.Last), m.Days(), MaxDays)
	case m.Service != Legacy && m.Service != Jobs:
		return fmt.Errorf("report: service %q: want %q or %q", m.Service, Legacy, Jobs)
	}
	return nil
}

// Kind is which of the report's two queries a row answers.
type Kind int

const (
	// ClientDay is a row of one OAuth client on one UTC day: the legacy
	// query with granularity Day grouped by OAuthClientId, or a job with
	// granularity Day grouped by OauthClientId (and OauthClientName).
	ClientDay Kind = iota + 1
	// Endpoint is a total of one template URI and HTTP method over the
	// interval: a query without granularity grouped by TemplateUri and
	// HttpMethod.
	Endpoint
)

// String is the kind's Go name, such as ClientDay: the error of a row
// that Add refuses names its kind so.
func (k Kind) String() string {
	switch k {
	case ClientDay:
		return "ClientDay"
	case Endpoint:
		return "Endpoint"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Counts are the counters of a row, or their sums. Status429 is part of
// Status400; none is derived from the others.
type Counts struct {
	Requests, Status200, Status300, Status400, Status429, Status500 int64
}

// Row is one row of usage as the report takes it, whichever service
// counted it (see FromUsageRow and FromEntity). A ClientDay row reads
// ClientID, ClientName and Date; an Endpoint row TemplateURI and
// HTTPMethod.
type Row struct {
	ClientID, ClientName, TemplateURI, HTTPMethod string
	// Date is the UTC day of a ClientDay row; zero for totals.
	Date time.Time
	Counts
}

var counterNames = [...]string{"requests", "status200", "status300", "status400", "status429", "status500"}

func (c *Counts) fields() [6]*int64 {
	return [6]*int64{&c.Requests, &c.Status200, &c.Status300, &c.Status400, &c.Status429, &c.Status500}
}

// add adds o to c; both are known not to overflow (see fits).
func (c *Counts) add(o Counts) {
	f, g := c.fields(), o.fields()
	for i := range f {
		*f[i] += *g[i]
	}
}

// sub takes o, a part of c, away from c.
func (c *Counts) sub(o Counts) {
	f, g := c.fields(), o.fields()
	for i := range f {
		*f[i] -= *g[i]
	}
}

// fits reports which counter of c would pass the largest int64 if o were
// added, o's counters being known not negative.
func (c Counts) fits(o Counts) error {
	f, g := c.fields(), o.fields()
	for i := range f {
		if *f[i] > maxInt64-*g[i] {
			return fmt.Errorf("the sum of %s passes the largest int64 (%d)", counterNames[i], int64(maxInt64))
		}
	}
	return nil
}

const maxInt64 = 1<<63 - 1

// Limits bound what a report keeps, whatever the server sends.
type Limits struct {
	// Clients is how many OAuth clients are kept apart, each with its
	// requests and 429s per day; the rows of further clients are counted
	// under "other". Zero is DefaultClients(days).
	Clients int
	// Endpoints is how many template URI and method pairs are kept apart;
	// further ones are counted under "other". Zero is 5000.
	Endpoints int
}

// seriesBudget is the memory that the per-day series of the clients kept
// apart may take: two int64 a day each.
const seriesBudget = 32 << 20

// DefaultClients is how many clients an interval of days keeps apart when
// Limits.Clients is zero: as many as 32 MiB of per-day series hold, at
// least 100 and at most 5000 (5000 over 90 days, 1000 over a year).
func DefaultClients(days int) int {
	return min(max(seriesBudget/(16*max(days, 1)), 100), 5000)
}

// Text from the server is cut to these many bytes, so that a client name
// or template of a megabyte costs what a normal one does.
const (
	maxName     = 200
	maxID       = 128
	maxTemplate = 400
	maxMethod   = 16
)

// clip makes server text valid UTF-8 and at most n bytes, ending with an
// ellipsis when cut, in memory of its own: a cut string would otherwise
// keep the whole row's text alive.
func clip(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return strings.Clone(s)
	}
	i := n - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return strings.Clone(s[:i]) + "…"
}

// longKey is what server text is told apart by: the text itself, or for
// text longer than n bytes its start and a hash of the whole, so that two
// long client ids are still two clients. Clone it to keep it: a short key
// is the row's own text.
func longKey(s string, n int) string {
	if len(s) <= n {
		return s
	}
	h := sha256.Sum256([]byte(s))
	return s[:n/2] + "#" + hex.EncodeToString(h[:16])
}

func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func date(t time.Time) string { return t.UTC().Format(time.DateOnly) }
