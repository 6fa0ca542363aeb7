// The stub, a module of its own so that its kin-openapi never enters the
// go.mod of an app that imports only the SDK; an app that tests with it
// requires it. The replace serves go mod tidy here, outside go.work; apps
// ignore it, and a release raises the requirement on the SDK to its tag.
module github.com/gcusage/gcusage/usagetest

go 1.26.0

require (
	github.com/gcusage/gcusage v0.0.0-00010101000000-000000000000
	github.com/getkin/kin-openapi v0.153.0
)

require (
	github.com/apapsch/go-jsonmerge/v2 v2.0.0 // indirect
	github.com/go-openapi/jsonpointer v0.22.5 // indirect
	github.com/go-openapi/swag/jsonname v0.25.5 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/oapi-codegen/runtime v1.9.0 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3 // indirect
	go.yaml.in/yaml/v4 v4.0.0 // indirect
	golang.org/x/text v0.14.0 // indirect
)

replace github.com/gcusage/gcusage => ../

// The Node project of the JavaScript SDK's compatibility test installs its
// packages here; the go command must never walk them.
ignore ./compat/js/node_modules
