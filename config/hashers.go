package config

// Hashers configures password hashing.
type Hashers struct {
	Algorithm string `koanf:"algorithm" doc:"Hash for new passwords: argon2 (argon2id) or bcrypt; other hashes are upgraded on the next login."`
	Argon2    Argon2 `koanf:"argon2"`
	Bcrypt    Bcrypt `koanf:"bcrypt"`
}

// Argon2 holds the argon2id parameters.
type Argon2 struct {
	Memory      ByteSize `koanf:"memory" doc:"Memory per hash, as a byte size (\"128MB\") or bytes; at least 16MB outside --dev."`
	Iterations  uint32   `koanf:"iterations" doc:"Passes over the memory."`
	Parallelism uint8    `koanf:"parallelism" doc:"Threads per hash (1 to 255)."`
	SaltLength  uint32   `koanf:"salt_length" doc:"Salt bytes (at least 16)."`
	KeyLength   uint32   `koanf:"key_length" doc:"Hash output bytes (at least 16)."`
}

// Bcrypt holds the bcrypt parameters.
type Bcrypt struct {
	Cost int `koanf:"cost" doc:"bcrypt cost (4 to 31; at least 10 outside --dev)."`
}

// Minimum hashing costs accepted outside --dev.
const (
	MinBcryptCost       = 10
	MinArgon2Memory     = 16 * MB
	bcryptMaxCost       = 31
	bcryptMinCostAtAll  = 4
	argon2MinSaltLength = 16
	argon2MinKeyLength  = 16
)

func (h *Hashers) setDefaults(dev bool) {
	h.Algorithm = "argon2"
	h.Argon2 = Argon2{
		Memory:      128 * MB,
		Iterations:  1,
		Parallelism: 4,
		SaltLength:  16,
		KeyLength:   32,
	}
	h.Bcrypt.Cost = 12
	if dev {
		h.Argon2.Memory = 64 * KB
		h.Argon2.Parallelism = 1
		h.Bcrypt.Cost = 4
	}
}

func (h *Hashers) validate(c *Config, p *Problems) {
	if !oneOf(h.Algorithm, "argon2", "bcrypt") {
		p.add("hashers.algorithm", "%q is not one of argon2, bcrypt", h.Algorithm)
	}
	switch cost := h.Bcrypt.Cost; {
	case cost < bcryptMinCostAtAll || cost > bcryptMaxCost:
		p.add("hashers.bcrypt.cost", "%d is outside bcrypt's range of %d to %d", cost, bcryptMinCostAtAll, bcryptMaxCost)
	case cost < MinBcryptCost && !c.Dev:
		p.add("hashers.bcrypt.cost", "%d is below the minimum of %d outside --dev; raise it or run with --dev", cost, MinBcryptCost)
	}
	a := h.Argon2
	if a.Iterations < 1 {
		p.add("hashers.argon2.iterations", "must be at least 1")
	}
	if a.Parallelism < 1 {
		p.add("hashers.argon2.parallelism", "must be at least 1")
	}
	if a.SaltLength < argon2MinSaltLength {
		p.add("hashers.argon2.salt_length", "%d is below the minimum of %d", a.SaltLength, argon2MinSaltLength)
	}
	if a.KeyLength < argon2MinKeyLength {
		p.add("hashers.argon2.key_length", "%d is below the minimum of %d", a.KeyLength, argon2MinKeyLength)
	}
	// argon2 needs at least 8 KiB per lane and counts memory in KiB (uint32).
	switch {
	case a.Memory < ByteSize(8*uint64(max(a.Parallelism, 1)))*KB:
		p.add("hashers.argon2.memory", "%s is below argon2's minimum of 8KB per thread (%d threads)", a.Memory, a.Parallelism)
	case a.Memory/KB > 1<<32-1:
		p.add("hashers.argon2.memory", "%s is above argon2's maximum of 4TB", a.Memory)
	case a.Memory < MinArgon2Memory && !c.Dev:
		p.add("hashers.argon2.memory", "%s is below the minimum of %s outside --dev; raise it or run with --dev", a.Memory, MinArgon2Memory)
	}
}
