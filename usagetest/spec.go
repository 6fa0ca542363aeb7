package usagetest

import (
	"context"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gcusage/gcusage/api"
)

// Spec parses api/usage.yaml and validates it, examples included, so that
// a spec that contradicts itself fails before anything is checked against
// it. The stub checks every exchange against it; tests that check exchanges
// of their own can too. It lives here, not in package api, so that programs
// importing only the SDK never depend on kin-openapi.
func Spec(ctx context.Context) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.YAML())
	if err != nil {
		return nil, fmt.Errorf("usagetest: parse usage.yaml: %w", err)
	}
	if err := doc.Validate(ctx, openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("usagetest: usage.yaml is invalid: %w", err)
	}
	return doc, nil
}
