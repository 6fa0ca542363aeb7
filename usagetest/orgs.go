package usagetest

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gcusage/gcusage/gen"
)

// Org describes one Genesys Cloud organization a server serves (see
// WithOrgs): its OAuth client's credentials, which the token endpoint tells
// apart, and its synthetic usage. Each org has its own organizationId,
// OAuth clients, users and traffic, and its own executions and jobs: an
// execution id or job id of one org is a 404 for another org's token, as
// on the real API, where an id belongs to the org that started it.
type Org struct {
	// Name labels the org in messages and in Server.Org: a profile name
	// such as acme-prod. Required, and unique.
	Name string
	// ClientID and ClientSecret are the credentials the token endpoint
	// accepts for this org. Required; the client id is unique.
	ClientID, ClientSecret string
	// Seed is the seed of the org's data: its organizationId, clients,
	// users and counters. 0 takes the server's seed (WithSeed, default 1)
	// plus the org's position in WithOrgs, so that the first org has the
	// data of a server with one org and each next one other data. Two
	// orgs may not share a seed.
	Seed int64
	// Population sizes the org; a zero field takes its default, and a
	// zero Population the one of WithPopulation.
	Population Population
	// Running, when set, keeps the org's queries and jobs Running for at
	// least that long after their POST, instead of WithRunning's time (its
	// number of polls still applies): an org that takes a known time.
	Running time.Duration
}

// The credentials of DemoOrgs beyond the first, which has DemoClientID and
// DemoClientSecret. Like those, they guard nothing.
const (
	DemoTestClientID        = "gcusage-demo-test-client"
	DemoTestClientSecret    = "gcusage-demo-test-secret"
	DemoSandboxClientID     = "gcusage-demo-sandbox-client"
	DemoSandboxClientSecret = "gcusage-demo-sandbox-secret"
)

// DemoOrgs returns the organizations of a partner's demo: its production,
// test and sandbox orgs, named demo-prod, demo-test and demo-sandbox. The
// first has DemoClientID and DemoClientSecret and, given to WithOrgs, the
// very data of a server without WithOrgs; the test and sandbox orgs are
// smaller, with two clients and one. The slice is the caller's to change.
func DemoOrgs() []Org {
	return []Org{
		{Name: "demo-prod", ClientID: DemoClientID, ClientSecret: DemoClientSecret},
		{Name: "demo-test", ClientID: DemoTestClientID, ClientSecret: DemoTestClientSecret,
			Population: Population{Clients: 2, Users: 3}},
		{Name: "demo-sandbox", ClientID: DemoSandboxClientID, ClientSecret: DemoSandboxClientSecret,
			Population: Population{Clients: 1, Users: 2, TemplateURIs: 2}},
	}
}

// WithOrgs serves orgs instead of the one organization of a server
// without it, whose credentials WithCredentials sets and which is named
// "default". Server.ClientID and ClientSecret are then the first org's,
// and Rows, ClientRows, SearchRows and ClientIDs answer for it; Server.Org
// answers for any. Faults of WithFault and Server.Inject fire on the
// requests of every org; OrgServer.Inject on one org's only.
func WithOrgs(orgs ...Org) Option {
	return func(c *config) {
		if len(orgs) == 0 {
			c.fail(errors.New("usagetest: WithOrgs: want at least one Org"))
		}
		c.orgs = slices.Clone(orgs)
	}
}

// org is an organization as the server runs it: an Org with its defaults
// filled in.
type org struct {
	Org
	id string // organizationId
}

// newOrgs fills in the defaults of the orgs of cfg, or makes the one org
// of a server without WithOrgs, and checks them.
func newOrgs(cfg *config) ([]*org, error) {
	if cfg.orgs == nil {
		o := &org{Org: Org{Name: "default", ClientID: cfg.id, ClientSecret: cfg.secret, Seed: cfg.seed, Population: cfg.pop}}
		o.id = uuid(o.Seed, "organization", 0)
		return []*org{o}, nil
	}
	if cfg.credentials {
		return nil, errors.New("usagetest: WithCredentials and WithOrgs: give each Org its ClientID and ClientSecret")
	}
	out := make([]*org, len(cfg.orgs))
	seen := map[string]string{}
	for i, o := range cfg.orgs {
		what := fmt.Sprintf("usagetest: WithOrgs: org %d (%q)", i, o.Name)
		if o.Name == "" || o.ClientID == "" || o.ClientSecret == "" {
			return nil, fmt.Errorf("%s: Name, ClientID and ClientSecret must not be empty", what)
		}
		if o.Running < 0 {
			return nil, fmt.Errorf("%s: Running is %v, want 0 (WithRunning's) or more", what, o.Running)
		}
		if o.Seed == 0 {
			o.Seed = cfg.seed + int64(i)
		}
		if o.Population == (Population{}) {
			o.Population = cfg.pop
		}
		var err error
		if o.Population, err = o.Population.withDefaults(); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		for _, k := range []string{"name " + o.Name, "client id " + o.ClientID, fmt.Sprint("seed ", o.Seed)} {
			if prev, ok := seen[k]; ok {
				return nil, fmt.Errorf("%s: its %s is also that of %s", what, k, prev)
			}
			seen[k] = fmt.Sprintf("%q", o.Name)
		}
		out[i] = &org{Org: o, id: uuid(o.Seed, "organization", 0)}
	}
	return out, nil
}

// login returns the org whose credentials these are, or nil.
func (s *Server) login(id, secret string) *org {
	for _, o := range s.orgs {
		if subtle.ConstantTimeCompare([]byte(id), []byte(o.ClientID)) == 1 {
			if subtle.ConstantTimeCompare([]byte(secret), []byte(o.ClientSecret)) == 1 {
				return o
			}
			return nil
		}
	}
	return nil
}

// orgOf is the org a request speaks for: by its Basic credentials' client
// id on the token endpoint, by its bearer token elsewhere; nil when none.
// The caller holds s.mu.
func (s *Server) orgOf(r *http.Request, route Route) *org {
	if route == RouteToken {
		if id, _, ok := r.BasicAuth(); ok {
			for _, o := range s.orgs {
				if o.ClientID == id {
					return o
				}
			}
		}
		return nil
	}
	_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return s.tokens[tok].org
}

// running is how long o's work stays Running at least.
func (s *Server) running(o *org) time.Duration {
	if o != nil && o.Running > 0 {
		return o.Running
	}
	return s.cfg.running
}

// OrgServer is the part of a Server that serves one organization: its
// credentials, its organizationId and its data.
type OrgServer struct {
	Name           string
	OrganizationID string // what rows grouped by OrganizationId carry first
	ClientID       string // credentials the token endpoint accepts for this org
	ClientSecret   string

	s *Server
	o *org
}

// Org returns the organization named name (see WithOrgs; a server without
// it has one, named "default"). It panics on a name the server does not
// serve, as Inject does on a fault that does not apply.
func (s *Server) Org(name string) *OrgServer {
	for _, o := range s.orgs {
		if o.Name == name {
			return s.view(o)
		}
	}
	names := make([]string, len(s.orgs))
	for i, o := range s.orgs {
		names[i] = o.Name
	}
	panic(fmt.Sprintf("usagetest: no org named %q (the server has %s)", name, strings.Join(names, ", ")))
}

// Orgs returns every organization the server serves, in the order of
// WithOrgs.
func (s *Server) Orgs() []*OrgServer {
	out := make([]*OrgServer, len(s.orgs))
	for i, o := range s.orgs {
		out[i] = s.view(o)
	}
	return out
}

func (s *Server) view(o *org) *OrgServer {
	return &OrgServer{Name: o.Name, OrganizationID: o.id, ClientID: o.ClientID, ClientSecret: o.ClientSecret, s: s, o: o}
}

// Inject scripts f for the nth request of this org to route, counted from
// now among the org's requests: 1 is its next one; 0 means every one from
// now on. A token request is the org's when it names the org's client id,
// any other request when it carries one of the org's tokens. It panics on
// a fault that does not apply to route.
func (v *OrgServer) Inject(route Route, nth int, f Fault) {
	if err := f.check(route, nth); err != nil {
		panic(err)
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	at := 0
	if nth > 0 {
		at = s.orgCounts[orgRoute{v.o, route}] + nth
	}
	s.faults = append(s.faults, scripted{route: route, at: at, fault: f, org: v.o})
}

// Rows returns the rows the org's query q gets once Complete (see
// Server.Rows).
func (v *OrgServer) Rows(q gen.APIUsageQuery) (iter.Seq[gen.APIUsageRow], error) {
	pq, err := parseQuery(q)
	if err != nil {
		return nil, fmt.Errorf("usagetest: %w", err)
	}
	return pq.rows(v.o.Seed, v.o.Population, v.s.Now()), nil
}

// ClientIDs returns the ids of the org's OAuth clients, in order (see
// Server.ClientIDs).
func (v *OrgServer) ClientIDs() []string {
	ids := make([]string, v.o.Population.Clients)
	for i := range ids {
		ids[i] = uuid(v.o.Seed, "client", i)
	}
	return ids
}

// ClientRows returns the rows the query q of the org's OAuth client
// clientID gets once Complete (see Server.ClientRows).
func (v *OrgServer) ClientRows(clientID string, q gen.APIUsageClientQuery) (iter.Seq[gen.APIUsageRow], error) {
	pq, err := clientQuery(orgQuery(q), clientID)
	if err != nil {
		return nil, fmt.Errorf("usagetest: %w", err)
	}
	return pq.rows(v.o.Seed, v.o.Population, v.s.Now()), nil
}

// SearchRows returns the records of the org's simple search q once
// Complete (see Server.SearchRows).
func (v *OrgServer) SearchRows(q gen.APIUsageSimpleSearch) (iter.Seq[gen.APIUsageRow], error) {
	pq, err := searchQuery(q)
	if err != nil {
		return nil, fmt.Errorf("usagetest: %w", err)
	}
	return take(pq.rows(v.o.Seed, v.o.Population, v.s.Now()), 0, maxSearchRecords), nil
}

// orgRoute counts one org's requests to one route.
type orgRoute struct {
	o     *org
	route Route
}
