package main

import (
	"log/slog"
	"runtime"
	"runtime/debug"

	"github.com/latchkey/latchkey/config"
)

// applyMemoryLimit sets the Go runtime's soft memory limit from
// runtime.memory_limit unless the GOMEMLIMIT environment variable (which
// the runtime read at start) set one; it returns the limit in force.
func applyMemoryLimit(c config.Runtime, getenv func(string) string, log *slog.Logger) int64 {
	if getenv("GOMEMLIMIT") != "" {
		cur := debug.SetMemoryLimit(-1) // -1 reads the limit without changing it
		log.Debug("GOMEMLIMIT set: runtime.memory_limit not applied", "limit_bytes", cur)
		return cur
	}
	limit := int64(c.MemoryLimit)
	if limit <= 0 || uint64(c.MemoryLimit) > 1<<62 {
		limit = 1 << 62
	}
	debug.SetMemoryLimit(limit)
	return limit
}

// releaseStartupHeap collects start-up's garbage and returns the freed
// memory to the OS. It collects twice: what code puts back into a
// sync.Pool survives one collection (in the pool's victim cache) and is
// freed by the next. goose's SQL parser keeps its 4 MB scan buffers in
// such a pool (four of them, 16 MB, after serve --dev's migrations), so
// after one collection they still counted as live and set the heap goal:
// 39 MB for serve --dev against 6 MB after the second collection, and
// under load the first 30 MB of request garbage grew the heap, and the
// RSS, before the first collection.
func releaseStartupHeap() {
	runtime.GC()
	debug.FreeOSMemory()
}
