// Package profiles reads the profiles of the Genesys Cloud CLI's config
// file, ~/.gc/config.toml, one per organization, and selects those a run
// of gcusage names: one, a comma-separated list, or all of them. Every
// problem (a malformed file, an unknown profile, missing credentials, an
// unknown region) is an *Error found before anything is sent, and no
// secret of the file is ever printed: they are Secrets. docs/profiles.md
// says how profiles and the GENESYSCLOUD_* variables combine.
package profiles

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/cmd/internal/output"
	"github.com/gcusage/gcusage/usagetest"
)

// DefaultEnvironment is the environment of a profile that names none, as
// in the Genesys Cloud CLI: us-east-1's.
const DefaultEnvironment = "mypurecloud.com"

// DemoSource is the Source of the built-in demo profiles.
const DemoSource = "the built-in demo profiles"

// maxFile bounds what is read of a config file: a few profiles take a few
// KiB.
const maxFile = 1 << 20

// Profile is one organization's settings: a table of the config file.
type Profile struct {
	Name         string
	ClientID     string // client_credentials: the OAuth client's id
	ClientSecret Secret // client_secret
	AccessToken  Secret // access_token: a token issued elsewhere, which wins over the client credentials
	Environment  string // a region key such as eu-west-1, or a domain such as mypurecloud.ie; "" for DefaultEnvironment
	GrantType    string // grant_type as written: "" or 1 for client credentials, 2 implicit, 3 PKCE
	Source       string // the file it was read from, or DemoSource
	Line         int    // of its table in that file; 0 for the demo
}

// String names the profile and where it comes from, and nothing of its
// credentials.
func (p Profile) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("profile %q (%s:%d)", p.Name, p.Source, p.Line)
	}
	return fmt.Sprintf("profile %q (%s)", p.Name, p.Source)
}

// LogValue logs the profile without its secrets.
func (p Profile) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", p.Name), slog.String("clientId", p.ClientID),
		slog.String("environment", p.Environment), slog.String("source", p.Source))
}

// Config is the profiles of one config file, in the file's order.
type Config struct {
	Path     string // the file read, or DemoSource
	Profiles []Profile
}

// Names lists the profiles' names, in order.
func (c *Config) Names() []string {
	names := make([]string, len(c.Profiles))
	for i, p := range c.Profiles {
		names[i] = p.Name
	}
	return names
}

// Error is a problem with the profiles or their file, found before
// anything is sent. It never holds a secret: it names keys, not their
// values.
type Error struct {
	Path    string // the config file, or DemoSource; "" when no file is involved
	Line    int    // 1-based line in Path; 0 when not known
	Profile string // the profile concerned; "" when none
	Reason  string
	Err     error // what went wrong underneath, such as fs.ErrNotExist; never a parser's error, which may quote a value
}

// Error reads as PATH:LINE: profile "NAME": REASON.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Profile != "" {
		fmt.Fprintf(&b, "profile %q: ", e.Profile)
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// DefaultPath is where `gc profiles new` writes the profiles:
// $HOME/.gc/config.toml (%USERPROFILE% when HOME is not set).
func DefaultPath(getenv func(string) string) (string, error) {
	home := cmp.Or(getenv("HOME"), getenv("USERPROFILE"))
	if home == "" {
		return "", &Error{Reason: "no home directory to find .gc/config.toml in: set HOME, or give the file with --config"}
	}
	return filepath.Join(home, ".gc", "config.toml"), nil
}

// Load reads the config file at path, which must be a regular file: a
// FIFO or a device would block the open, or the read, for ever, beyond
// the reach of a signal's context.
func Load(path string) (*Config, error) {
	fi, err := os.Stat(path)
	if err == nil && !fi.Mode().IsRegular() {
		return nil, &Error{Path: path, Reason: fmt.Sprintf("not a regular file (%s): give the profiles file itself", kind(fi.Mode()))}
	}
	var f *os.File
	if err == nil {
		f, err = os.Open(path)
	}
	if err != nil {
		reason := "cannot read the profiles: " + cause(err)
		if errors.Is(err, fs.ErrNotExist) {
			reason = "no such file: `gc profiles new` writes one, or give another with --config (see docs/config.sample.toml)"
		}
		return nil, &Error{Path: path, Reason: reason, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	switch {
	case err != nil:
		return nil, &Error{Path: path, Reason: "cannot read the profiles: " + cause(err), Err: err}
	case len(data) > maxFile:
		return nil, &Error{Path: path, Reason: fmt.Sprintf("larger than %d KiB: not a profiles file", maxFile>>10)}
	}
	return Parse(path, data)
}

// kind names a file mode that is not a regular file's.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a file of text"
}

// cause is what went wrong with a file, without the path the Error names
// already.
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// rawProfile holds the keys of a profile that gcusage reads; the others
// (proxy_*, gateway_*, logging settings, the cached oauth_token_data) are
// left alone, never decoded.
type rawProfile struct {
	ClientCredentials string `toml:"client_credentials"`
	ClientSecret      string `toml:"client_secret"`
	Environment       string `toml:"environment"`
	AccessToken       string `toml:"access_token"`
	GrantType         any    `toml:"grant_type"` // a string in the files gc writes; a number is taken too
}

// keys are the keys of a profile that gcusage reads, which errors may name.
var keys = []string{"client_credentials", "client_secret", "environment", "access_token", "grant_type"}

// Parse reads the profiles in data, the content of the file at path.
func Parse(path string, data []byte) (*Config, error) {
	var raw map[string]rawProfile
	if err := toml.Unmarshal(data, &raw); err != nil {
		return nil, malformed(path, err)
	}
	order, lines := tables(data)
	c := &Config{Path: path}
	for _, name := range order {
		r, ok := raw[name]
		if !ok {
			continue
		}
		p := Profile{Name: name, ClientID: r.ClientCredentials, ClientSecret: NewSecret(r.ClientSecret),
			AccessToken: NewSecret(r.AccessToken), Environment: r.Environment, Source: path, Line: lines[name]}
		switch g := r.GrantType.(type) {
		case nil:
		case string:
			p.GrantType = g
		case int64:
			p.GrantType = fmt.Sprint(g)
		default:
			return nil, &Error{Path: path, Line: lines[name], Profile: name, Reason: "grant_type must be a string such as \"1\" (client credentials)"}
		}
		c.Profiles = append(c.Profiles, p)
	}
	return c, nil
}

// tables lists the top-level tables of data (the profiles) in the order
// they first appear, with the line of that appearance: a [name] header, or
// a key of the top level before any header (name.key = ..., or name = {...}).
// data has parsed already.
func tables(data []byte) ([]string, map[string]int) {
	var order []string
	lines := map[string]int{}
	var p unstable.Parser
	p.Reset(data)
	inTable := false
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			inTable = true
		case unstable.KeyValue:
			if inTable {
				continue
			}
		default:
			continue
		}
		it := e.Key()
		if !it.Next() {
			continue
		}
		name := string(it.Node().Data)
		if _, ok := lines[name]; !ok {
			order = append(order, name)
			lines[name] = p.Shape(it.Node().Raw).Start.Line
		}
	}
	return order, lines
}

// quoted and codePoint find what a parser's message may quote of the file:
// a value, or a character of one.
var (
	quoted    = regexp.MustCompile(`"""|'''|"(?:[^"\\]|\\.)*"|'[^']*'`)
	codePoint = regexp.MustCompile(`\s*U\+[0-9A-Fa-f]{4,6}`)
)

// malformed turns the TOML library's error into an *Error with the line,
// and a message from which anything quoted of the file is cut out: the
// value it quotes may be a secret.
func malformed(path string, err error) error {
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return &Error{Path: path, Reason: "malformed TOML"}
	}
	line, _ := de.Position()
	key := de.Key()
	if len(key) == 1 && strings.HasPrefix(de.Error(), "toml: cannot ") { // decode a value, or store an array of tables
		return &Error{Path: path, Line: line, Reason: fmt.Sprintf("%s is not a profile: a profile is a table such as [%s]", key[0], key[0])}
	}
	if len(key) == 2 && slices.Contains(keys, key[1]) && strings.HasPrefix(de.Error(), "toml: cannot decode") {
		return &Error{Path: path, Line: line, Profile: key[0], Reason: key[1] + " must be a string, in quotes"}
	}
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	msg = quoted.ReplaceAllStringFunc(msg, func(q string) string {
		// What the parser expected (']', "true", a multi-line string's
		// quotes) is syntax, not a value.
		if in := q[1 : len(q)-1]; strings.Trim(in, `[]{}=,.'"`) == "" || slices.Contains([]string{"true", "false", "inf", "nan"}, in) {
			return q
		}
		return "…"
	})
	msg = codePoint.ReplaceAllString(msg, "")
	if strings.HasSuffix(msg, "at start of value") {
		msg += ": a string goes in quotes"
	}
	return &Error{Path: path, Line: line, Reason: "malformed TOML: " + msg}
}

// Demo returns the built-in demo profiles: one for each organization of
// usagetest.DemoOrgs, by the same name, with its demo credentials. They
// reach the demo stub only through Overrides that point at it.
func Demo() *Config {
	c := &Config{Path: DemoSource}
	for _, o := range usagetest.DemoOrgs() {
		c.Profiles = append(c.Profiles, Profile{Name: o.Name, ClientID: o.ClientID, ClientSecret: NewSecret(o.ClientSecret), Source: DemoSource})
	}
	return c
}

// Select returns the profiles that names lists, separated by commas (as
// --profile takes them), or every profile when all is set
// (--all-profiles), each checked (see Profile.Check). A name matches a
// profile of the same name, or else the one profile whose name differs
// only in case, as the Genesys Cloud CLI matches them.
func (c *Config) Select(names string, all bool) ([]Profile, error) {
	switch {
	case all && names != "":
		return nil, &Error{Reason: "--profile and --all-profiles: give one of them"}
	case len(c.Profiles) == 0:
		return nil, &Error{Path: c.Path, Reason: "no profiles in the file: `gc profiles new` writes them (see docs/config.sample.toml)"}
	case !all && strings.TrimSpace(names) == "":
		return nil, &Error{Reason: "no profile named: give --profile NAME[,NAME...] or --all-profiles"}
	}
	var out []Profile
	if all {
		out = slices.Clone(c.Profiles)
	}
	for _, name := range strings.Split(names, ",") {
		if all {
			break
		}
		name = strings.TrimSpace(name)
		p, err := c.find(name, names)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(q Profile) bool { return q.Name == p.Name }) {
			return nil, &Error{Path: c.Path, Profile: p.Name, Reason: fmt.Sprintf("named twice in --profile %q", names)}
		}
		out = append(out, p)
	}
	for _, p := range out {
		if err := p.Check(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// find returns the profile called name, as Select matches it.
func (c *Config) find(name, list string) (Profile, error) {
	if name == "" {
		return Profile{}, &Error{Reason: fmt.Sprintf("--profile %q: an empty name in the list", list)}
	}
	var folded []Profile
	for _, p := range c.Profiles {
		if p.Name == name {
			return p, nil
		}
		if strings.EqualFold(p.Name, name) {
			folded = append(folded, p)
		}
	}
	if len(folded) == 1 {
		return folded[0], nil
	}
	return Profile{}, &Error{Path: c.Path, Reason: fmt.Sprintf("no profile %q: the profiles are %s", name, strings.Join(c.Names(), ", "))}
}

// Typable reports whether name can be given in --profile's comma list
// and typed back from a hint: not empty, no comma (which splits the
// list), no control character (which a hint shows escaped), and no space
// at either end (which the list trims).
func Typable(name string) bool { return nameProblem(name) == "" }

// nameProblem says why --profile cannot name name, or "".
func nameProblem(name string) string {
	switch {
	case name == "":
		return "is empty, which --profile cannot give"
	case strings.Contains(name, ","):
		return "holds a comma, which splits --profile's list"
	case strings.ContainsFunc(name, output.IsControl):
		return "holds a control character, which no hint can show to paste back"
	case name != strings.TrimSpace(name):
		return "starts or ends with a space, which --profile's list trims"
	}
	return ""
}

// grantTypes names the grant types of the Genesys Cloud CLI that log in
// through a browser, which gcusage cannot do.
var grantTypes = map[string]string{"2": "implicit", "3": "PKCE", "implicit": "implicit", "pkce": "PKCE"}

// Check says what the profile lacks, or has wrong, to reach its org: a
// name that --profile can name (Typable), credentials (access_token, or
// client_credentials and client_secret) and a known environment. Select
// checks every profile it returns.
func (p Profile) Check() error {
	bad := func(reason string) error {
		return &Error{Path: p.Source, Line: p.Line, Profile: p.Name, Reason: reason}
	}
	g := strings.ToLower(strings.TrimSpace(p.GrantType))
	switch {
	case nameProblem(p.Name) != "":
		return bad("the name " + nameProblem(p.Name) + ": rename the table, such as [acme-prod], to run it")
	case !p.AccessToken.IsZero():
	case grantTypes[g] != "":
		return bad(fmt.Sprintf("grant_type %q (%s) logs in through a browser, which gcusage cannot do: add access_token, "+
			"or use an OAuth client of the client credentials grant (grant_type \"1\")", p.GrantType, grantTypes[g]))
	case g != "" && g != "1" && g != "client_credentials":
		return bad(fmt.Sprintf("grant_type %q: want \"1\" (client credentials), or an access_token", p.GrantType))
	case p.ClientID == "" && p.ClientSecret.IsZero():
		return bad("no credentials: want client_credentials (the OAuth client id) and client_secret, or access_token")
	case p.ClientID == "":
		return bad("client_secret but no client_credentials (the OAuth client id)")
	case p.ClientSecret.IsZero():
		return bad("client_credentials but no client_secret")
	}
	_, _, err := p.Endpoints(Overrides{})
	return err
}

// Overrides are the settings of the command line that apply to every
// profile selected, and win over the profile's own.
type Overrides struct {
	Region   string // --region: a region key or a domain, instead of each profile's environment
	APIURL   string // --api-url
	LoginURL string // --login-url
}

// Endpoints returns the base URLs of the profile's API and login hosts:
// those of its environment (a region key, or any domain with a dot:
// https://api.DOMAIN and https://login.DOMAIN), unless o overrides them.
func (p Profile) Endpoints(o Overrides) (apiURL, loginURL string, err error) {
	env, field := p.Environment, "environment"
	if o.Region != "" {
		env, field = o.Region, "--region"
	}
	shown := fmt.Sprintf("%s %q", field, env)
	if strings.Contains(env, "@") { // user:password@host: not a thing to print
		shown = field + " (not shown: it holds an @, as user information does)"
	}
	bad := func(reason string) error {
		if field == "--region" {
			return &Error{Reason: shown + ": " + reason}
		}
		return &Error{Path: p.Source, Line: p.Line, Profile: p.Name, Reason: shown + ": " + reason}
	}
	env = strings.ToLower(strings.TrimSpace(cmp.Or(env, DefaultEnvironment)))
	var domain string
	if r, ok := client.LookupRegion(strings.ReplaceAll(env, "_", "-")); ok { // gc's own table writes me_central_1
		domain = r.Domain
	} else if strings.Contains(env, ".") {
		if !hostname.MatchString(env) {
			return "", "", bad("want a region key such as eu-west-1, or a domain such as mypurecloud.ie, without scheme, port or path")
		}
		for _, host := range []string{"api.", "login."} {
			if strings.HasPrefix(env, host) {
				return "", "", bad(fmt.Sprintf("give the domain without %q: %s", host, strings.TrimPrefix(env, host)))
			}
		}
		domain = env
	} else {
		keys := make([]string, 0, len(client.Regions()))
		for _, r := range client.Regions() {
			keys = append(keys, r.Key)
		}
		return "", "", bad("unknown region: allowed " + strings.Join(keys, ", ") + ", or a domain (see gcusage regions)")
	}
	return cmp.Or(o.APIURL, "https://api."+domain), cmp.Or(o.LoginURL, "https://login."+domain), nil
}

// hostname is a domain as an environment gives it: letters, digits and
// hyphens, in labels joined by dots.
var hostname = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)

// Client builds the SDK client that reaches the profile's org: its own
// token, retries and connection pool. opts come after the profile's own
// (a transport, a logger, policies). It sends nothing; its errors, bad
// settings of the profile or of o, are *Errors naming the profile.
func (p Profile) Client(o Overrides, opts ...client.Option) (*client.Client, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	apiURL, loginURL, err := p.Endpoints(o)
	if err != nil {
		return nil, err
	}
	creds := client.WithClientCredentials(p.ClientID, p.ClientSecret.Reveal())
	if !p.AccessToken.IsZero() {
		creds = client.WithAccessToken(p.AccessToken.Reveal())
	}
	c, err := client.New(append([]client.Option{client.WithBaseURLs(apiURL, loginURL), creds}, opts...)...)
	var ce *client.ConfigError
	switch {
	case errors.As(err, &ce) && ce.Field == "WithAccessToken":
		return nil, &Error{Path: p.Source, Line: p.Line, Profile: p.Name, Reason: "access_token: " + ce.Reason, Err: err}
	case err != nil:
		return nil, &Error{Path: p.Source, Line: p.Line, Profile: p.Name, Reason: err.Error(), Err: err}
	}
	return c, nil
}

// Env are the variables of Genesys' tools that gcusage reads without
// profiles, and ignores with them.
var Env = []string{"GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_OAUTHCLIENT_SECRET", "GENESYSCLOUD_ACCESS_TOKEN", "GENESYSCLOUD_REGION"}

// IgnoredEnv returns the variables of Env that are set: a run with
// profiles ignores them, and should say so.
func IgnoredEnv(getenv func(string) string) []string {
	var set []string
	for _, v := range Env {
		if getenv(v) != "" {
			set = append(set, v)
		}
	}
	return set
}
