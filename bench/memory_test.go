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

// BenchmarkPeakHeap iterates results of 100k and 1M rows and reports the
// peak heap in use while doing so. gcusage streams, so its peak must not
// grow with the row count; the others hold the whole result. Results first,
// gcusage skips the rows it cannot use yet: 100k rows show that it keeps
// none of them, a million would only double the longest case.
func BenchmarkPeakHeap(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		size
		order
	}{{sizes[1], orders[0]}, {sizes[1], orders[1]}, {million, orders[0]}} {
		size := c.size
		b.Run(size.name+"/order="+c.order.name, func(b *testing.B) {
			if testing.Short() && size.rows > 10_000 {
				b.Skip("short: 10k rows only")
			}
			benchPeers(b, c.stub, 0, func(b *testing.B, p peer) {
				id := completeExecution(b, p, size.query)
				runtime.GC()
				stop := peakHeap()
				measure(b, expect(b, size.query), false, func() (tally, error) { return p.fetch(ctx, id) })
				b.ReportMetric(float64(stop()), "peak-heap-B")
			})
		})
	}
}
