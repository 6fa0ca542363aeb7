// Package api holds the OpenAPI document of the Genesys Cloud API Usage
// endpoints, api/usage.yaml, from which gen/ is generated and against which
// the stub and the tests validate every exchange.
package api

import (
	"bytes"
	_ "embed"
)

// The document is embedded so that programs importing gcusage, whose tests
// run far from this source tree, validate against the very same bytes.
//
//go:embed usage.yaml
var usageYAML []byte

// YAML returns a copy of the document api/usage.yaml.
func YAML() []byte { return bytes.Clone(usageYAML) }
