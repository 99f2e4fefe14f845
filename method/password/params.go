package password

import (
	"errors"
	"fmt"
	"runtime"
)

// Algorithm names the hashing algorithm a Hasher writes new hashes with.
type Algorithm string

// The algorithms a Hasher can hash with. Their names are those of Kratos'
// hashers.algorithm setting.
const (
	AlgorithmArgon2 Algorithm = "argon2" // argon2id, RFC 9106
	AlgorithmBcrypt Algorithm = "bcrypt"
)

// Argon2Params are the argon2id parameters of new hashes.
//
// Memory is in KiB, as in the PHC string's m= field. Kratos configures
// hashers.argon2.memory as a byte size (e.g. "128MB", meaning 128 MiB); the
// config layer divides that by 1024.
type Argon2Params struct {
	Memory      uint32 // KiB
	Iterations  uint32 // passes over memory (t)
	Parallelism uint8  // lanes (p)
	SaltLength  uint32 // bytes
	KeyLength   uint32 // bytes
}

// Params configure a Hasher.
type Params struct {
	// Algorithm is the algorithm of new hashes; Verify accepts every
	// supported format whatever it is.
	Algorithm Algorithm
	// Argon2 applies when Algorithm is AlgorithmArgon2.
	Argon2 Argon2Params
	// BcryptCost applies when Algorithm is AlgorithmBcrypt.
	BcryptCost int
	// Concurrency bounds how many hash computations (Hash, Verify,
	// DummyVerify) run at once, so a burst of logins cannot exhaust memory
	// (argon2 allocates Memory KiB per computation). Callers over the bound
	// wait, or give up when their context ends. Zero means
	// runtime.GOMAXPROCS(0).
	Concurrency int
}

// Limits on parameters, both of new hashes and of stored hashes being
// verified. They keep a hostile or corrupt stored hash from tying up a CPU
// for minutes or allocating gigabytes. Each is far above any sensible
// production setting.
const (
	// MaxPasswordBytes is the longest password Hash and Verify accept.
	MaxPasswordBytes = 4096
	// BcryptMaxPasswordBytes is bcrypt's input limit: bcrypt ignores the
	// bytes past it, so Hash refuses longer passwords and Verify never
	// matches them against a bcrypt hash.
	BcryptMaxPasswordBytes = 72

	maxArgon2Memory     = 1 << 20 // KiB: 1 GiB
	maxArgon2Iterations = 64
	maxArgon2Work       = 1 << 22 // memory KiB × passes: 4 GiB·pass
	maxBcryptCost       = 16      // ≈ 8 s here; cost 12 takes ≈ 0.45 s
	maxPBKDF2Work       = 10_000_000
	maxScryptMemory     = 1 << 30 // bytes (128·N·r)
	maxScryptWork       = 1 << 24 // N·r·p
	maxFirescryptLogN   = 20
	maxShaCryptRounds   = 10_000_000
	// shaCryptMaxPasswordBytes bounds SHA-crypt's rounds × length work.
	shaCryptMaxPasswordBytes = 256
	maxEncodedLength         = 1024
	maxSaltBytes             = 1024
	maxKeyBytes              = 1024
)

// DefaultParams returns Kratos' default hashing parameters: argon2id with
// 128 MiB, one pass, two lanes per CPU, a 16-byte salt and a 32-byte key;
// bcrypt cost 12 when bcrypt is chosen.
//
// The default parallelism depends on the CPU count, and NeedsRehash compares
// it, so deployments whose replicas differ in size should set it explicitly.
func DefaultParams() Params {
	p := 2 * runtime.NumCPU()
	if p > 255 {
		p = 255
	}
	return Params{
		Algorithm: AlgorithmArgon2,
		Argon2: Argon2Params{
			Memory:      128 * 1024,
			Iterations:  1,
			Parallelism: uint8(p),
			SaltLength:  16,
			KeyLength:   32,
		},
		BcryptCost: 12,
	}
}

// Validate reports every problem with p in one error (nil when there is
// none). Only the parameters of the chosen algorithm are checked.
func (p Params) Validate() error {
	var errs []error
	switch p.Algorithm {
	case AlgorithmArgon2:
		a := p.Argon2
		if a.Parallelism < 1 {
			errs = append(errs, errors.New("argon2 parallelism must be at least 1"))
		}
		if a.Memory < 8*uint32(a.Parallelism) || a.Memory < 8 {
			errs = append(errs, fmt.Errorf("argon2 memory must be at least 8 KiB per lane, got %d KiB for %d lanes", a.Memory, a.Parallelism))
		}
		if a.Memory > maxArgon2Memory {
			errs = append(errs, fmt.Errorf("argon2 memory must be at most %d KiB, got %d KiB", maxArgon2Memory, a.Memory))
		}
		if a.Iterations < 1 || a.Iterations > maxArgon2Iterations {
			errs = append(errs, fmt.Errorf("argon2 iterations must be between 1 and %d, got %d", maxArgon2Iterations, a.Iterations))
		}
		if uint64(a.Memory)*uint64(a.Iterations) > maxArgon2Work {
			errs = append(errs, fmt.Errorf("argon2 memory × iterations must be at most %d KiB, got %d KiB", maxArgon2Work, uint64(a.Memory)*uint64(a.Iterations)))
		}
		if a.SaltLength < 8 || a.SaltLength > 64 {
			errs = append(errs, fmt.Errorf("argon2 salt length must be between 8 and 64 bytes, got %d", a.SaltLength))
		}
		if a.KeyLength < 16 || a.KeyLength > 256 {
			errs = append(errs, fmt.Errorf("argon2 key length must be between 16 and 256 bytes, got %d", a.KeyLength))
		}
	case AlgorithmBcrypt:
		if p.BcryptCost < 4 || p.BcryptCost > maxBcryptCost {
			errs = append(errs, fmt.Errorf("bcrypt cost must be between 4 and %d, got %d", maxBcryptCost, p.BcryptCost))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown password hashing algorithm %q (want %q or %q)", p.Algorithm, AlgorithmArgon2, AlgorithmBcrypt))
	}
	if p.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("hashing concurrency must not be negative, got %d", p.Concurrency))
	}
	return errors.Join(errs...)
}
