package bench

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// heapInUse is HeapInuse of runtime.MemStats, read without stopping the
// world: live and not yet swept objects, plus the free space of their spans.
func heapInUse(s []metrics.Sample) uint64 {
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64()
}

// peakHeap samples the heap in use every millisecond until stop is called,
// which returns the highest value seen.
func peakHeap() (stop func() uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	quit, peak := make(chan struct{}), make(chan uint64)
	go func() {
		high := heapInUse(s)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				high = max(high, heapInUse(s))
			case <-quit:
				peak <- max(high, heapInUse(s))
				return
			}
		}
	}()
	return func() uint64 { close(quit); return <-peak }
}

// BenchmarkPeakHeap iterates results of 100k and 1M rows, results first as
// the real API sends them, and reports the peak heap in use while doing
// so. gcusage streams, so its peak must not grow with the row count; the
// others hold the whole result.
func BenchmarkPeakHeap(b *testing.B) {
	ctx := context.Background()
	for _, size := range []size{sizes[1], million} {
		b.Run(size.name+"/order="+orders[0].name, func(b *testing.B) {
			if testing.Short() {
				b.Skip("short: no result is big enough to matter")
			}
			want, stub := size.want(b), orders[0].stub
			benchPeers(b, stub, 0, func(b *testing.B, p peer, c *counter) {
				id := completeExecution(b, stub, p, size.query)
				runtime.GC()
				stop := peakHeap()
				measure(b, want, c, false, func() (tally, error) { return p.fetch(ctx, id) })
				b.ReportMetric(float64(stop()), "peak-heap-B")
			})
		})
	}
}
