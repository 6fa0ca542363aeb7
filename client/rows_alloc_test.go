//go:build !race

package client

import (
	"bytes"
	"testing"
)

// The race detector adds allocations of its own, hence the build tag. The
// rows are read as DecodeRows reads them, and as Result.Rows does, with a
// bearer token to keep out of them, which costs no allocation of its own.
func TestDecodeRowsAllocations(t *testing.T) {
	const n = 5000
	doc := benchDoc(n)
	for name, decode := range map[string]func(){
		"DecodeRows": func() {
			for _, err := range DecodeRows(bytes.NewReader(doc)) {
				if err != nil {
					t.Fatal(err)
				}
			}
		},
		"with a token": func() { decodeWithToken(t, doc) },
	} {
		perRow := testing.AllocsPerRun(5, decode) / n
		if perRow > 2 {
			t.Fatalf("%s: %.2f allocations per row, want at most 2", name, perRow)
		}
		t.Logf("%s: %.2f allocations per row", name, perRow)
	}
}
