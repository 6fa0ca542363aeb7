package client

import "strings"

// Region is a Genesys Cloud region: the API is at https://api.<Domain> and
// the token endpoint at https://login.<Domain>.
type Region struct {
	Key    string // such as eu-west-1
	Domain string // such as mypurecloud.ie
}

var regions = []Region{
	{"us-east-1", "mypurecloud.com"},
	{"us-east-2", "use2.us-gov-pure.cloud"},
	{"us-west-2", "usw2.pure.cloud"},
	{"ca-central-1", "cac1.pure.cloud"},
	{"sa-east-1", "sae1.pure.cloud"},
	{"mx-central-1", "mxc1.pure.cloud"},
	{"eu-west-1", "mypurecloud.ie"},
	{"eu-west-2", "euw2.pure.cloud"},
	{"eu-central-1", "mypurecloud.de"},
	{"eu-central-2", "euc2.pure.cloud"},
	{"eusc-de-east-1", "edee1.eusc-pure.cloud"},
	{"me-central-1", "mec1.pure.cloud"},
	{"ap-south-1", "aps1.pure.cloud"},
	{"ap-southeast-1", "apse1.pure.cloud"},
	{"ap-southeast-2", "mypurecloud.com.au"},
	{"ap-northeast-1", "mypurecloud.jp"},
	{"ap-northeast-2", "apne2.pure.cloud"},
	{"ap-northeast-3", "apne3.pure.cloud"},
}

// Regions returns every region the client knows, in a fresh slice the caller
// may keep or change.
func Regions() []Region { return append([]Region(nil), regions...) }

// LookupRegion finds a region by key or by domain, ignoring case and
// surrounding space, because users copy both forms from Genesys' own tools
// (GENESYSCLOUD_REGION accepts either).
func LookupRegion(keyOrDomain string) (Region, bool) {
	s := strings.ToLower(strings.TrimSpace(keyOrDomain))
	for _, r := range regions {
		if s == r.Key || s == r.Domain {
			return r, true
		}
	}
	return Region{}, false
}

// APIURL is the base URL of the region's API.
func (r Region) APIURL() string { return "https://api." + r.Domain }

// LoginURL is the base URL of the region's OAuth server.
func (r Region) LoginURL() string { return "https://login." + r.Domain }

func regionKeys() []string {
	keys := make([]string, len(regions))
	for i, r := range regions {
		keys[i] = r.Key
	}
	return keys
}
