package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
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
		r, ok := LookupRegion(keyOrDomain)
		if !ok {
			return fmt.Errorf("gcusage: unknown region %q: allowed %s, or their domains", keyOrDomain, strings.Join(regionKeys(), ", "))
		}
		c.apiURL, c.loginURL = r.APIURL(), r.LoginURL()
		return nil
	}
}

// WithBaseURLs sets the API and login base URLs directly, for private
// environments and test servers. Both must be https, except on loopback.
// The login URL may be empty when no client credentials are used.
func WithBaseURLs(apiURL, loginURL string) Option {
	return func(c *config) error {
		if err := checkBaseURL(apiURL); err != nil {
			return err
		}
		if err := checkBaseURL(loginURL); loginURL != "" && err != nil {
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
			return errors.New("gcusage: client credentials need both an id and a secret")
		}
		c.clientID, c.secret = id, secret
		c.credentials++
		return nil
	}
}

// WithAccessToken authenticates with a bearer token issued elsewhere. It is
// never renewed: once it expires, calls fail with a 401 *APIError.
func WithAccessToken(token string) Option {
	return func(c *config) error {
		if token == "" {
			return errors.New("gcusage: empty access token")
		}
		c.static = token
		c.credentials++
		return nil
	}
}

// WithTokenSource authenticates with any token source. The client caches
// nothing on top of it: wrap it in oauth2.ReuseTokenSource if it fetches.
func WithTokenSource(ts oauth2.TokenSource) Option {
	return func(c *config) error {
		if ts == nil {
			return errors.New("gcusage: nil token source")
		}
		c.ts = ts
		c.credentials++
		return nil
	}
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
// row whose date cannot be read. Default: nothing is logged.
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

// New builds a Client. It needs a region (or base URLs) and exactly one kind
// of credentials; it sends nothing.
func New(opts ...Option) (*Client, error) {
	cfg := &config{ua: "gcusage/" + Version + " (go)", log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.apiURL == "" {
		return nil, errors.New("gcusage: no region: use WithRegion or WithBaseURLs")
	}
	if cfg.credentials != 1 {
		return nil, errors.New("gcusage: give exactly one of WithClientCredentials, WithAccessToken, WithTokenSource")
	}
	if cfg.secret != "" && cfg.loginURL == "" {
		return nil, errors.New("gcusage: client credentials need a login URL: use WithRegion, or WithBaseURLs with a login URL")
	}
	if cfg.base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = time.Minute
		cfg.base = t
	}
	var tk *tokens
	switch {
	case cfg.secret != "":
		tk = newTokens(nil, clientCredentials(cfg.clientID, cfg.secret, cfg.loginURL+"/oauth/token", cfg.base, cfg.log))
	case cfg.static != "":
		static := &oauth2.Token{AccessToken: cfg.static}
		tk = newTokens(nil, func() oauth2.TokenSource { return oauth2.StaticTokenSource(static) })
	default:
		tk = newTokens(cfg.ts, nil)
	}
	origin, _ := url.Parse(cfg.apiURL)
	hc := &http.Client{Transport: &authTransport{base: cfg.base, origin: origin, tokens: tk, ua: cfg.ua}}
	doer := &retryDoer{hc: hc, p: cfg.retry.withDefaults(), log: cfg.log}
	api, err := gen.NewClient(cfg.apiURL, gen.WithHTTPClient(doer))
	if err != nil {
		return nil, err
	}
	return &Client{api: api, apiURL: cfg.apiURL, poll: cfg.poll.withDefaults(), log: cfg.log}, nil
}

// checkBaseURL refuses what would leak a token: plain http to another
// machine, credentials in the URL, or a URL that is not a base.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("gcusage: base URL %q: %w", s, err)
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("gcusage: base URL %q: want scheme://host[/path], without user, query or fragment", s)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("gcusage: base URL %q: http:// is allowed only for loopback hosts; use https://", s)
	default:
		return fmt.Errorf("gcusage: base URL %q: scheme must be https", s)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
