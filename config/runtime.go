package config

// Runtime configures the Go runtime of the server process.
type Runtime struct {
	// MemoryLimit is the soft memory limit of the Go runtime
	// (runtime/debug.SetMemoryLimit): as the memory Go manages approaches
	// it, the garbage collector runs more often and returns freed memory
	// to the OS sooner. A GOMEMLIMIT environment variable wins over it.
	MemoryLimit ByteSize `koanf:"memory_limit" doc:"Soft memory limit of the Go runtime (GC runs more often and returns memory to the OS sooner near it; it never refuses an allocation); the GOMEMLIMIT environment variable wins. Default: 48MB plus twice hashers.argon2.memory (two argon2 hashes at once)." default:"48MB + 2 × hashers.argon2.memory" devdefault:"48MB + 2 × hashers.argon2.memory"`
}

// DefaultMemoryLimitBase is runtime.memory_limit's default beyond the
// password hashes: what the Go runtime of a serve process may hold besides
// them (heap, stacks, GC metadata; SQLite's memory is outside it). With the
// session and verified-JWT caches at 1024 entries each (their defaults
// then, 512 now; about 5 MB when full), four rounds of every bench scenario at c=16
// on SQLite ended with the Go runtime holding 31.5 MB (Sys − HeapReleased)
// under this limit: it binds only on a heap bigger than the defaults plan
// for. A 32MB limit gave the same RSS in that soak (60.6 against 58–62 MB)
// but bound in normal use: with a 2048-entry session cache, Kratos logins
// after the session checks had filled the caches cost 1.48–1.61 ms of CPU
// each instead of 1.24 (the collector ran more often). At 64MB, the old
// default, larger caches' freed heap stayed in RSS unchecked.
const DefaultMemoryLimitBase = 48 * MB

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
