package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/gcusage/gcusage/gen"
)

// Version is the version of gcusage sent in the default User-Agent.
const Version = "0.1.0"

// Client runs usage queries against one Genesys Cloud organization. It is
// safe for concurrent use; its goroutines share one cached token.
type Client struct {
	api    *gen.Client
	apiURL string
	poll   PollPolicy
	log    *slog.Logger
	now    func() time.Time
	budget time.Duration // RetryPolicy.MaxElapsed, which also bounds the read of a page
}

// Option configures New.
type Option func(*config) error

// config collects the options. It holds the client secret: it must never be
// printed, hence String, GoString and LogValue.
type config struct {
	apiURL, loginURL string
	clientID, secret string
	static           string
	ts               oauth2.TokenSource
	credentials      int
	base             http.RoundTripper
	ua               string
	log              *slog.Logger
	retry            RetryPolicy
	poll             PollPolicy
	now              func() time.Time
	fromEnv          bool // for the hint of a missing setting
}

// String, GoString and LogValue keep the credentials out of any print or log.
func (c *config) String() string {
	return "client.config{api: " + c.apiURL + ", credentials: REDACTED}"
}

// GoString redacts, as String.
func (c *config) GoString() string { return c.String() }

// LogValue redacts, as String.
func (c *config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// String names the API the client talks to, and nothing of its credentials.
func (c *Client) String() string { return "client.Client{api: " + c.apiURL + "}" }

// GoString is String, so that %#v shows no credentials either.
func (c *Client) GoString() string { return c.String() }

// LogValue is String, so that logging a Client shows no credentials.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

// WithRegion selects the region by key (eu-west-1) or by domain
// (mypurecloud.ie).
func WithRegion(keyOrDomain string) Option {
	return func(c *config) error {
		return c.region("WithRegion", keyOrDomain)
	}
}

// region sets the base URLs of a region; field names where the key came
// from, for the error, which quotes no userinfo: a region is no URL, so
// all before its last @ is cut out, whatever it is.
func (c *config) region(field, keyOrDomain string) error {
	r, ok := LookupRegion(keyOrDomain)
	if !ok {
		shown := keyOrDomain
		if at := strings.LastIndex(shown, "@"); at >= 0 {
			shown = "REDACTED" + shown[at:]
		}
		return &ConfigError{Field: field, Value: shown,
			Reason: fmt.Sprintf("unknown region %s: allowed %s, or their domains", quote(shown), strings.Join(regionKeys(), ", "))}
	}
	c.apiURL, c.loginURL = r.APIURL(), r.LoginURL()
	return nil
}

// WithBaseURLs sets the API and login base URLs directly, for private
// environments and test servers. Both must be https, except on loopback.
// The login URL may be empty when no client credentials are used.
func WithBaseURLs(apiURL, loginURL string) Option {
	return func(c *config) error {
		if err := checkBaseURL("WithBaseURLs apiURL", apiURL); err != nil {
			return err
		}
		if err := checkBaseURL("WithBaseURLs loginURL", loginURL); loginURL != "" && err != nil {
			return err
		}
		c.apiURL, c.loginURL = strings.TrimRight(apiURL, "/"), strings.TrimRight(loginURL, "/")
		return nil
	}
}

// WithClientCredentials authenticates with an OAuth client's id and secret
// (the client credentials grant on the login host).
func WithClientCredentials(id, secret string) Option {
	return func(c *config) error {
		if id == "" || secret == "" {
			return &ConfigError{Field: "WithClientCredentials", Reason: "client credentials need both an id and a secret"}
		}
		c.clientID, c.secret = id, secret
		c.credentials++
		return nil
	}
}

// WithAccessToken authenticates with a bearer token issued elsewhere. It is
// never renewed: once it expires, calls fail with a 401 *APIError. A token
// is printable ASCII without spaces (RFC 6750): one with a line break or
// another control character, as a pasted token may have, is refused here
// rather than by every request.
func WithAccessToken(token string) Option {
	return func(c *config) error {
		return c.accessToken("WithAccessToken", token)
	}
}

func (c *config) accessToken(field, token string) error {
	if token == "" {
		return &ConfigError{Field: field, Reason: "empty access token"}
	}
	if err := checkToken(token); err != nil {
		return &ConfigError{Field: field, Value: "REDACTED", Reason: err.Error()}
	}
	c.static = token
	c.credentials++
	return nil
}

// WithTokenSource authenticates with any token source. The client caches
// nothing on top of it: wrap it in oauth2.ReuseTokenSource if it fetches.
func WithTokenSource(ts oauth2.TokenSource) Option {
	return func(c *config) error {
		if ts == nil {
			return &ConfigError{Field: "WithTokenSource", Reason: "nil token source"}
		}
		c.ts = ts
		c.credentials++
		return nil
	}
}

// FromEnv reads the settings of Genesys' own tools, as the gcusage CLI
// does: GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET, or
// GENESYSCLOUD_ACCESS_TOKEN (which wins when both are set), and
// GENESYSCLOUD_REGION. An unset variable sets nothing, so options after
// FromEnv can fill in or override the region; credentials must come from
// one place only. A set but unusable variable (an unknown region, an id
// without its secret) is a *ConfigError naming it.
func FromEnv() Option { return fromEnv(os.Getenv) }

// fromEnv is FromEnv on any environment, for tests.
func fromEnv(getenv func(string) string) Option {
	return func(c *config) error {
		c.fromEnv = true
		if region := getenv("GENESYSCLOUD_REGION"); region != "" {
			if err := c.region("GENESYSCLOUD_REGION", region); err != nil {
				return err
			}
		}
		const idVar, secretVar = "GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_OAUTHCLIENT_SECRET"
		token, id, secret := getenv("GENESYSCLOUD_ACCESS_TOKEN"), getenv(idVar), getenv(secretVar)
		switch {
		case token != "":
			return c.accessToken("GENESYSCLOUD_ACCESS_TOKEN", token)
		case id != "" && secret != "":
			return WithClientCredentials(id, secret)(c)
		case id != "":
			return &ConfigError{Field: secretVar, Reason: idVar + " is set but " + secretVar + " is not"}
		case secret != "":
			return &ConfigError{Field: idVar, Reason: secretVar + " is set but " + idVar + " is not"}
		}
		return nil
	}
}

// envHint names the variables that FromEnv would have read, when it was
// used and found them unset.
func (c *config) envHint(vars string) string {
	if !c.fromEnv {
		return ""
	}
	return " (FromEnv found no " + vars + ")"
}

// WithHTTPClient takes hc's Transport as the transport under the client's
// own layers (auth, retries). Its other settings are not used: a Timeout in
// particular would cut the streaming of large results.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc != nil && hc.Transport != nil {
			c.base = hc.Transport
		}
		return nil
	}
}

// WithUserAgent replaces the default User-Agent, gcusage/<version> (go).
func WithUserAgent(ua string) Option {
	return func(c *config) error { c.ua = ua; return nil }
}

// WithLogger receives a Debug record per HTTP attempt and a Warn record per
// distinct date that cannot be read, at most 10 per Rows, then one that
// counts the rest. Default: nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l != nil {
			c.log = l
		}
		return nil
	}
}

// WithRetryPolicy bounds the retries of each API call.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *config) error { c.retry = p; return nil }
}

// WithPollPolicy sets how Wait polls a running query.
func WithPollPolicy(p PollPolicy) Option {
	return func(c *config) error { c.poll = p; return nil }
}

// WithNow sets the clock whose UTC date is today for the checks made
// before anything is sent: no interval may end after today, and a job's may
// start at most a year before it. Default time.Now; tests whose clock is
// not the real one (a testing/synctest bubble starts in 2000) set it.
func WithNow(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return &ConfigError{Field: "WithNow", Reason: "nil clock"}
		}
		c.now = now
		return nil
	}
}

// New builds a Client. It needs a region (or base URLs) and exactly one kind
// of credentials; it sends nothing.
func New(opts ...Option) (*Client, error) {
	cfg := &config{ua: "gcusage/" + Version + " (go)", log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, o := range opts {
		if err := o(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.apiURL == "" {
		return nil, &ConfigError{Field: "region", Reason: "no region: use WithRegion or WithBaseURLs" + cfg.envHint("GENESYSCLOUD_REGION")}
	}
	if cfg.credentials != 1 {
		return nil, &ConfigError{Field: "credentials", Reason: fmt.Sprintf("%d kinds of credentials given: give exactly one of WithClientCredentials, WithAccessToken, WithTokenSource", cfg.credentials) +
			cfg.envHint("GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET, or GENESYSCLOUD_ACCESS_TOKEN")}
	}
	if cfg.secret != "" && cfg.loginURL == "" {
		return nil, &ConfigError{Field: "WithBaseURLs loginURL", Reason: "client credentials need a login URL: use WithRegion, or WithBaseURLs with a login URL"}
	}
	if cfg.base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = time.Minute
		cfg.base = t
	}
	var tk *tokens
	switch {
	case cfg.secret != "":
		tk = newTokens(nil, clientCredentials(cfg.clientID, cfg.secret, cfg.loginURL+"/oauth/token", cfg.base, cfg.log, cfg.retry.OnRetry))
	case cfg.static != "":
		static := &oauth2.Token{AccessToken: cfg.static}
		tk = newTokens(nil, func() oauth2.TokenSource { return oauth2.StaticTokenSource(static) })
	default:
		tk = newTokens(cfg.ts, nil)
	}
	origin, _ := url.Parse(cfg.apiURL)
	hc := &http.Client{Transport: &authTransport{base: cfg.base, origin: origin, tokens: tk, ua: cfg.ua}, CheckRedirect: noRedirect}
	retry := cfg.retry.withDefaults()
	doer := &retryDoer{hc: hc, p: retry, log: cfg.log}
	api, err := gen.NewClient(cfg.apiURL, gen.WithHTTPClient(doer))
	if err != nil {
		return nil, &ConfigError{Field: "WithBaseURLs apiURL", Value: redactURL(cfg.apiURL), Reason: oneLine(err.Error(), maxMessage)}
	}
	return &Client{api: api, apiURL: cfg.apiURL, poll: cfg.poll.withDefaults(), log: cfg.log, now: cfg.now, budget: retry.MaxElapsed}, nil
}

// noRedirect follows no redirect, of the API or of the token endpoint: Go
// would forward the Authorization header to the same host on another port
// or scheme, or to a subdomain. The 3xx becomes an error naming where it
// pointed; the real API never redirects.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// checkBaseURL refuses what would leak a token: plain http to another
// machine, credentials in the URL, or a URL that is not a base. Its errors
// quote the URL without its userinfo. A base URL has no @: one is refused
// before parsing, whose errors could quote a part of a password.
func checkBaseURL(field, s string) error {
	u, err := url.Parse(s)
	bad := func(reason string) error {
		return &ConfigError{Field: field, Value: redactURL(s), Reason: "base URL " + quote(redactURL(s)) + ": " + reason}
	}
	switch {
	case strings.Contains(s, "@"):
		return bad("want scheme://host[/path], without user, query or fragment")
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text quotes the whole URL
		}
		return bad(redactURL(err.Error()))
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return bad("want scheme://host[/path], without user, query or fragment")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return bad("http:// is allowed only for loopback hosts; use https://")
	default:
		return bad("scheme must be https")
	}
}

// redactURL cuts the userinfo out of a URL, parsed or not, however
// malformed (one slash, no scheme, a ? or # in the password): whatever
// comes between the scheme and the last @, which may hold a password. Some
// path or query may go with it, which is no loss in an error.
func redactURL(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	start := 0
	if i := strings.Index(s[:at], ":"); i > 0 && scheme.MatchString(s[:i]) {
		start = i + 1
		for start < at && s[start] == '/' {
			start++
		}
	}
	return s[:start] + "REDACTED" + s[at:]
}

// scheme is a URL scheme (RFC 3986, 3.1).
var scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
