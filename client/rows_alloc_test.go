//go:build !race

package client

import (
	"bytes"
	"testing"
)

// The race detector adds allocations of its own, hence the build tag.
func TestDecodeRowsAllocations(t *testing.T) {
	const n = 5000
	doc := benchDoc(n)
	perRow := testing.AllocsPerRun(5, func() {
		for _, err := range DecodeRows(bytes.NewReader(doc)) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}) / n
	if perRow > 2 {
		t.Fatalf("%.2f allocations per row, want at most 2", perRow)
	}
	t.Logf("%.2f allocations per row", perRow)
}
