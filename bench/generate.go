// Package bench compares gcusage with a hand-rolled net/http + encoding/json
// client and an ogen client on the same loopback stub and the same data. It
// is a module of its own so that none of these peers enters the SDK's go.mod.
package bench

// ogen is pinned by the tool directive in go.mod; its output is committed so
// that the benchmarks build without running it.
//go:generate go tool ogen -config ogen.yml -package ogenusage -target ogenusage -clean ../api/usage.yaml
