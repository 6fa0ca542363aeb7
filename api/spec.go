// Package api holds the OpenAPI document of the Genesys Cloud API Usage
// endpoints, api/usage.yaml, from which gen/ is generated and against which
// the stub and the tests validate every exchange.
package api

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
)

// The document is embedded so that programs importing gcusage, whose tests
// run far from this source tree, validate against the very same bytes.
//
//go:embed usage.yaml
var usageYAML []byte

// YAML returns a copy of the document api/usage.yaml.
func YAML() []byte { return bytes.Clone(usageYAML) }

// Load parses the document and validates it, examples included, so that a
// spec that contradicts itself fails before anything is checked against it.
func Load(ctx context.Context) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(usageYAML)
	if err != nil {
		return nil, fmt.Errorf("api: parse usage.yaml: %w", err)
	}
	if err := doc.Validate(ctx, openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("api: usage.yaml is invalid: %w", err)
	}
	return doc, nil
}
