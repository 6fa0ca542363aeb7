// The SDK's own requirements, and nothing else: every app that imports
// client or gen sees each line below in its go list -m all. The tests of this
// module reach usagetest and kin-openapi through go.work, so go mod tidy
// cannot run here (it ignores go.work); TestAppDependencies checks this file
// instead. See "Modules" in README.md.
module github.com/gcusage/gcusage

go 1.26.0

require (
	github.com/go-faster/jx v1.2.0
	github.com/oapi-codegen/runtime v1.9.0
	golang.org/x/oauth2 v0.38.0
)

require (
	github.com/apapsch/go-jsonmerge/v2 v2.0.0 // indirect
	github.com/go-faster/errors v0.7.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/segmentio/asm v1.2.1 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
