package profiles_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gcusage/gcusage/cmd/internal/profiles"
	"github.com/gcusage/gcusage/usagetest"
)

// sample is the partner's file of the docs, which must stay valid.
const sample = "../../../docs/config.sample.toml"

func TestSample(t *testing.T) {
	c, err := profiles.Load(sample)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"DEFAULT", "acme-prod", "acme-test", "globex", "initech"}; !slices.Equal(c.Names(), want) {
		t.Fatalf("profiles %v, want %v in the file's order", c.Names(), want)
	}
	data, _ := os.ReadFile(sample)
	all, err := c.Select("", true)
	if err != nil {
		t.Fatal(err)
	}
	wantAPI := map[string]string{"DEFAULT": "https://api.mypurecloud.com", "acme-prod": "https://api.mypurecloud.ie",
		"acme-test": "https://api.mypurecloud.ie", "globex": "https://api.mypurecloud.de", "initech": "https://api.mypurecloud.com.au"}
	for _, p := range all {
		if header := fmt.Sprintf("[%s]", p.Name); strings.Split(string(data), "\n")[p.Line-1] != header {
			t.Errorf("%s: line %d is not its header %s", p.Name, p.Line, header)
		}
		api, login, err := p.Endpoints(profiles.Overrides{})
		if err != nil || api != wantAPI[p.Name] || login != strings.Replace(api, "api.", "login.", 1) {
			t.Errorf("%s: endpoints %s %s %v, want %s", p.Name, api, login, err, wantAPI[p.Name])
		}
		if _, err := p.Client(profiles.Overrides{}); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
	if p := all[4]; p.AccessToken.Reveal() != "sample-token-do-not-use-0005" || p.ClientID != "" {
		t.Errorf("initech: %q %q, want its token alone", p.AccessToken.Reveal(), p.ClientID)
	}
	if p := all[3]; p.ClientSecret.Reveal() != "sample-secret-do-not-use-0004" || p.GrantType != "1" {
		t.Errorf("globex: %q %q", p.ClientSecret.Reveal(), p.GrantType)
	}
}

// secret is in every malformed file below: no error may show it, nor any
// of its characters a parser would quote.
const secret = "Zq9xW7kVb4"

func TestMalformedFileNamesPathAndLine(t *testing.T) {
	for _, c := range []struct {
		toml string
		line int
		want string
	}{
		{"[a]\nclient_credentials = \"id\"\nclient_secret = \"" + secret + "\n", 3, "malformed TOML"},
		{"[a]\nclient_secret = " + secret + "\n", 2, "at start of value"},
		{"[a]\nclient_secret = \"" + secret + "\" trailing\n", 2, "expected newline"},
		{"[a]\nclient_secret = '" + secret + "\n", 2, "malformed TOML"},
		{"[a]\nclient_secret = \"\"\"" + secret + "\n", 2, "malformed TOML"},
		{"[a]\n\nclient_secret = 1234\n", 3, `profile "a": client_secret must be a string`},
		{"[a]\nclient_secret = \"x\"\nclient_secret = \"" + secret + "\"\n", 3, "already defined"},
		{"[a]\nclient_secret = \"" + secret + "\\q\"\n", 2, "escape"},
		{"[a\nclient_secret = \"" + secret + "\"\n", 1, "malformed TOML"},
		{"client_secret = \"" + secret + "\"\n", 1, "client_secret is not a profile: a profile is a table such as [client_secret]"},
		{"[a]\nclient_secret = [\"" + secret + "\"]\n", 2, "client_secret must be a string"},
		{"[a]\nclient_secret = tr" + secret + "\n", 2, "malformed TOML"},
		{"[a]\ngrant_type = true\n", 1, `profile "a": grant_type must be a string`},
		{"[a]\naccess_token = \"t\"\n[[proxies]]\nhost = \"h\"\n", 3, "proxies is not a profile"},
	} {
		path := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(path, []byte(c.toml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := profiles.Load(path)
		var pe *profiles.Error
		if !errors.As(err, &pe) || pe.Line != c.line || !strings.HasPrefix(err.Error(), fmt.Sprintf("%s:%d: ", path, c.line)) ||
			!strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %s:%d: ...%s...", c.toml, err, path, c.line, c.want)
		}
		if leak := leaks(err.Error()); leak != "" {
			t.Errorf("%q: the error %q shows %q of the secret", c.toml, err, leak)
		}
	}
}

// leaks returns the longest run of the secret's characters, in order, that
// s holds beyond what a message says of its own (a word of the message
// may share a letter or two).
func leaks(s string) string {
	for n := len(secret); n >= 3; n-- {
		for i := 0; i+n <= len(secret); i++ {
			if strings.Contains(s, secret[i:i+n]) {
				return secret[i : i+n]
			}
		}
	}
	for _, c := range []string{"'Z'", "'t'", "U+005A", "U+0074"} {
		if strings.Contains(s, c) {
			return c
		}
	}
	return ""
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "config.toml")
	if _, err := profiles.Load(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing+": no such file: `gc profiles new`") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := profiles.Load(dir); err == nil || err.Error() != dir+": not a regular file (a directory): give the profiles file itself" {
		t.Errorf("a directory: %v", err)
	}
	big := filepath.Join(dir, "big.toml")
	os.WriteFile(big, bytes.Repeat([]byte("# comment\n"), 200_000), 0o600)
	if _, err := profiles.Load(big); err == nil || !strings.Contains(err.Error(), "larger than 1024 KiB") {
		t.Errorf("a 2 MB file: %v", err)
	}
	empty := filepath.Join(dir, "empty.toml")
	os.WriteFile(empty, []byte("# nothing yet\n"), 0o600)
	c, err := profiles.Load(empty)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("", true); err == nil || !strings.Contains(err.Error(), empty+": no profiles in the file") {
		t.Errorf("all profiles of an empty file: %v", err)
	}
	env := map[string]string{"HOME": "/home/ana"}
	if p, err := profiles.DefaultPath(func(k string) string { return env[k] }); err != nil || p != filepath.Join("/home/ana", ".gc", "config.toml") {
		t.Errorf("default path %q, %v", p, err)
	}
	if _, err := profiles.DefaultPath(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("no home: %v", err)
	}
}

// parse reads a config from text, failing the test on an error.
func parse(t *testing.T, text string) *profiles.Config {
	t.Helper()
	c, err := profiles.Parse("config.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const three = `
[DEFAULT]
client_credentials = "id-0"
client_secret = "secret-0"

[Prod]
client_credentials = "id-1"
client_secret = "secret-1"
environment = "eu-west-1"

[test]
client_credentials = "id-2"
client_secret = "secret-2"
`

func TestSelect(t *testing.T) {
	c := parse(t, three)
	for _, s := range []struct {
		names string
		all   bool
		want  []string
		err   string
	}{
		{names: "test", want: []string{"test"}},
		{names: "test, DEFAULT", want: []string{"test", "DEFAULT"}},
		{names: "prod,default", want: []string{"Prod", "DEFAULT"}}, // as gc, whatever the case
		{all: true, want: []string{"DEFAULT", "Prod", "test"}},
		{names: "staging", err: `config.toml: no profile "staging": the profiles are DEFAULT, Prod, test`},
		{names: "test,test", err: `config.toml: profile "test": named twice in --profile "test,test"`},
		{names: "test,,Prod", err: `--profile "test,,Prod": an empty name in the list`},
		{names: "test", all: true, err: "--profile and --all-profiles: give one of them"},
		{names: " ", err: "no profile named"},
	} {
		got, err := c.Select(s.names, s.all)
		var names []string
		for _, p := range got {
			names = append(names, p.Name)
		}
		if s.err != "" && (err == nil || err.Error() != s.err && !strings.Contains(err.Error(), s.err)) || s.err == "" && (err != nil || !slices.Equal(names, s.want)) {
			t.Errorf("Select(%q, %v) = %v, %v; want %v %q", s.names, s.all, names, err, s.want, s.err)
		}
	}
	twins := parse(t, "[prod]\naccess_token = \"t\"\n[PROD]\naccess_token = \"t\"\n")
	if _, err := twins.Select("Prod", false); err == nil || !strings.Contains(err.Error(), "the profiles are prod, PROD") {
		t.Errorf("a name two profiles match but for case: %v", err)
	}
	if p, err := twins.Select("PROD", false); err != nil || p[0].Name != "PROD" {
		t.Errorf("an exact name among twins: %v %v", p, err)
	}
}

// A profile that cannot reach its org is refused by Select, with what is
// missing or wrong, before anything is sent.
func TestCheck(t *testing.T) {
	for body, want := range map[string]string{
		`client_secret = "s"`:                                                     `config.toml:2: profile "p": client_secret but no client_credentials (the OAuth client id)`,
		`client_credentials = "id"`:                                               `config.toml:2: profile "p": client_credentials but no client_secret`,
		`client_credentials = ""` + "\nx = 1":                                     `config.toml:2: profile "p": no credentials: want client_credentials (the OAuth client id) and client_secret, or access_token`,
		`grant_type = "3"` + "\nclient_secret = \"s\"":                            `grant_type "3" (PKCE) logs in through a browser`,
		`grant_type = 2` + "\nclient_secret = \"s\"":                              `grant_type "2" (implicit)`,
		`grant_type = "password"`:                                                 `grant_type "password": want "1" (client credentials), or an access_token`,
		`access_token = "t"` + "\nenvironment = \"eu-west-9\"":                    `environment "eu-west-9": unknown region: allowed us-east-1,`,
		`access_token = "t"` + "\nenvironment = \"https://api.mypurecloud.ie\"":   `without scheme, port or path`,
		`access_token = "t"` + "\nenvironment = \"api.mypurecloud.ie\"":           `give the domain without "api.": mypurecloud.ie`,
		`access_token = "t"` + "\nenvironment = \"localhost\"":                    `unknown region`,
		`access_token = "t"` + "\nenvironment = \"mypurecloud.ie:443\"":           `without scheme, port or path`,
		`access_token = "t"` + "\nenvironment = \"user:SECRET-9@MyPureCloud.ie\"": `config.toml:2: profile "p": environment (not shown: it holds an @, as user information does): want a region key`,
	} {
		c := parse(t, "# a profile\n[p]\n"+body+"\n")
		_, err := c.Select("p", false)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(strings.ToLower(err.Error()), "secret-9") {
			t.Errorf("%s:\n got %v\nwant %s", body, err, want)
		}
	}
	// A name that --profile cannot give, nor a hint show to paste back, is
	// refused when it is selected (--all-profiles selects it), naming its
	// line; the others run.
	for name, want := range map[string]string{
		`"acme, inc"`: `config.toml:3: profile "acme, inc": the name holds a comma, which splits --profile's list: rename the table`,
		`"a\u001bb"`:  `config.toml:3: profile "a\x1bb": the name holds a control character`,
		`"a\u202eb"`:  `config.toml:3: profile "a\u202eb": the name holds a control character`,
		`" padded "`:  `config.toml:3: profile " padded ": the name starts or ends with a space, which --profile's list trims`,
		`""`:          `config.toml:3: the name is empty, which --profile cannot give`,
	} {
		c := parse(t, "[ok]\naccess_token = \"t\"\n["+name+"]\naccess_token = \"t\"\n")
		if _, err := c.Select("", true); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("[%s] with --all-profiles:\n got %v\nwant %s…", name, err, want)
		}
		if p, err := c.Select("ok", false); err != nil || p[0].Name != "ok" {
			t.Errorf("[%s] beside --profile ok: %v %v; want ok alone to run", name, p, err)
		}
	}
	for body, api := range map[string]string{
		`access_token = "t"`: "https://api.mypurecloud.com",
		`access_token = "t"` + "\nenvironment = \"me_central_1\"":                                   "https://api.mec1.pure.cloud",
		`access_token = "t"` + "\nenvironment = \" EU-West-2 \"":                                    "https://api.euw2.pure.cloud",
		`access_token = "t"` + "\nenvironment = \"example.org\"":                                    "https://api.example.org",
		`grant_type = "3"` + "\naccess_token = \"t\"":                                               "https://api.mypurecloud.com",
		`grant_type = "client_credentials"` + "\nclient_credentials = \"i\"\nclient_secret = \"s\"": "https://api.mypurecloud.com",
	} {
		p, err := parse(t, "[p]\n"+body+"\n").Select("p", false)
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if got, _, _ := p[0].Endpoints(profiles.Overrides{}); got != api {
			t.Errorf("%s: API at %s, want %s", body, got, api)
		}
	}
}

// The command line's --region, --api-url and --login-url win over every
// profile's environment.
func TestOverrides(t *testing.T) {
	p, err := parse(t, three).Select("Prod", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o          profiles.Overrides
		api, login string
	}{
		{profiles.Overrides{}, "https://api.mypurecloud.ie", "https://login.mypurecloud.ie"},
		{profiles.Overrides{Region: "ap-northeast-1"}, "https://api.mypurecloud.jp", "https://login.mypurecloud.jp"},
		{profiles.Overrides{APIURL: "http://127.0.0.1:8765"}, "http://127.0.0.1:8765", "https://login.mypurecloud.ie"},
		{profiles.Overrides{Region: "eu-central-1", APIURL: "http://127.0.0.1:1", LoginURL: "http://127.0.0.1:2"}, "http://127.0.0.1:1", "http://127.0.0.1:2"},
	} {
		api, login, err := p[0].Endpoints(c.o)
		if err != nil || api != c.api || login != c.login {
			t.Errorf("%+v: %s %s %v, want %s %s", c.o, api, login, err, c.api, c.login)
		}
	}
	if _, _, err := p[0].Endpoints(profiles.Overrides{Region: "mars-1"}); err == nil || !strings.HasPrefix(err.Error(), `--region "mars-1": unknown region`) {
		t.Errorf("a bad --region: %v", err)
	}
	if _, _, err := p[0].Endpoints(profiles.Overrides{Region: "admin:PW-77@mypurecloud.ie"}); err == nil || strings.Contains(err.Error(), "PW-77") ||
		!strings.HasPrefix(err.Error(), "--region (not shown: it holds an @") {
		t.Errorf("a --region with user information: %v; want it refused and not shown", err)
	}
	if _, err := p[0].Client(profiles.Overrides{APIURL: "http://192.0.2.1"}); err == nil || !strings.Contains(err.Error(), `profile "Prod"`) {
		t.Errorf("plain http to another machine: %v, want an error naming the profile", err)
	}
	tok := parse(t, "[t]\naccess_token = \"bad token\"\n").Profiles[0]
	if _, err := tok.Client(profiles.Overrides{}); err == nil || !strings.Contains(err.Error(), `config.toml:1: profile "t": access_token: the access token has byte 0x20`) {
		t.Errorf("a token with a space: %v", err)
	}
}

// No secret of a profile shows, however it is printed or logged.
func TestSecretsNeverPrinted(t *testing.T) {
	c := parse(t, "[a]\nclient_credentials = \"id-a\"\nclient_secret = \"SECRET-A\"\naccess_token = \"TOKEN-A\"\n")
	p := c.Profiles[0]
	if p.ClientSecret.Reveal() != "SECRET-A" || p.AccessToken.Reveal() != "TOKEN-A" {
		t.Fatalf("Reveal %q %q", p.ClientSecret.Reveal(), p.AccessToken.Reveal())
	}
	var out bytes.Buffer
	for _, v := range []any{p, &p, c, *c, p.ClientSecret, []profiles.Profile{p}, map[string]profiles.Profile{"a": p},
		struct{ P profiles.Profile }{p}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Errorf("json of %T: %v", v, err)
		}
		out.Write(b)
		slog.New(slog.NewTextHandler(&out, nil)).Info("p", "profile", v, "secret", p.ClientSecret)
		slog.New(slog.NewJSONHandler(&out, nil)).Info("p", "profile", v, "token", p.AccessToken)
	}
	for _, s := range []string{"SECRET-A", "TOKEN-A", "5345435245", "544f4b454e"} { // the hex of both too
		if strings.Contains(strings.ToUpper(out.String()), strings.ToUpper(s)) {
			t.Errorf("%s shows in:\n%s", s, out.String())
		}
	}
	if !strings.Contains(out.String(), "REDACTED") || !strings.Contains(out.String(), "id-a") {
		t.Errorf("the output names no REDACTED secret or no client id:\n%s", out.String())
	}
	if s := fmt.Sprint(profiles.Secret{}); s != "" {
		t.Errorf("an absent secret prints %q, want nothing", s)
	}
}

func TestDemoAndEnv(t *testing.T) {
	d := profiles.Demo()
	var want []string
	for _, o := range usagetest.DemoOrgs() {
		want = append(want, o.Name)
	}
	all, err := d.Select("", true)
	if err != nil || !slices.Equal(d.Names(), want) || len(all) != 3 || all[1].ClientID != usagetest.DemoTestClientID ||
		all[1].ClientSecret.Reveal() != usagetest.DemoTestClientSecret || all[1].Source != profiles.DemoSource {
		t.Errorf("demo profiles %v (%v), want %v with the demo credentials", d.Names(), err, want)
	}
	env := map[string]string{"GENESYSCLOUD_REGION": "eu-west-1", "GENESYSCLOUD_ACCESS_TOKEN": "t", "HOME": "/h"}
	if got := profiles.IgnoredEnv(func(k string) string { return env[k] }); !slices.Equal(got, []string{"GENESYSCLOUD_ACCESS_TOKEN", "GENESYSCLOUD_REGION"}) {
		t.Errorf("ignored %v", got)
	}
}

// A profile may be written as a dotted key or an inline table, as TOML
// allows: it keeps its place in the file, and the line it starts on.
func TestProfileForms(t *testing.T) {
	c := parse(t, "c.client_credentials = \"i\"\nc.client_secret = \"s\"\nacme = { client_credentials = \"x\", client_secret = \"y\" }\n\n[b]\naccess_token = \"t\"\n[c.proxy]\nhost = \"h\"\n")
	var got []string
	for _, p := range c.Profiles {
		got = append(got, fmt.Sprintf("%s:%d:%s", p.Name, p.Line, p.ClientID))
	}
	if want := []string{"c:1:i", "acme:3:x", "b:5:"}; !slices.Equal(got, want) {
		t.Errorf("profiles %v, want %v", got, want)
	}
}
