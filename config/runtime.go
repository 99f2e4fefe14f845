package config

// Runtime configures the Go runtime of the server process.
type Runtime struct {
	// MemoryLimit is the soft memory limit of the Go runtime
	// (runtime/debug.SetMemoryLimit): as the memory Go manages approaches
	// it, the garbage collector runs more often and returns freed memory
	// to the OS sooner. A GOMEMLIMIT environment variable wins over it.
	MemoryLimit ByteSize `koanf:"memory_limit" doc:"Soft memory limit of the Go runtime (GC runs more often and returns memory to the OS sooner near it; it never refuses an allocation); the GOMEMLIMIT environment variable wins. Default: 32MB plus twice hashers.argon2.memory (two argon2 hashes at once)." default:"32MB + 2 × hashers.argon2.memory" devdefault:"32MB + 2 × hashers.argon2.memory"`
}

// DefaultMemoryLimitBase is runtime.memory_limit's default beyond the
// password hashes: what the Go runtime of a serve process may hold besides
// them (heap, stacks, GC metadata; SQLite's memory is outside it). Under
// every bench scenario on SQLite the live heap after a collection was about
// 8 MB, plus up to 5.7 MB when the verified-JWT cache is full at its old
// bound, so 32MB leaves the collector about twice the live heap before the
// limit makes it work harder. At 64MB the limit was never reached, and
// the freed heap stayed in RSS (GOGC lets the heap grow to twice the live
// heap before collecting).
const DefaultMemoryLimitBase = 32 * MB

func (r *Runtime) setDefaults(bool) {}

// resolve derives the default memory limit from the hasher's memory (a
// login's argon2 hash allocates it on the Go heap), so that a production
// hasher is not squeezed by a limit made for --dev.
func (r *Runtime) resolve(c *Config, _ *[]Warning) {
	if r.MemoryLimit == 0 {
		r.MemoryLimit = DefaultMemoryLimitBase + 2*c.Hashers.Argon2.Memory
	}
}

func (r *Runtime) validate(_ *Config, p *Problems) {
	if r.MemoryLimit < 16*MB {
		p.add("runtime.memory_limit", "%s must be at least 16MB", r.MemoryLimit)
	}
}
