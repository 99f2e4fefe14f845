package main

import (
	"log/slog"
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
