package bench

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/method/password"
)

// HashParamsString describes p as "argon2id m=65536KiB t=1 p=4" or
// "bcrypt cost=12".
func HashParamsString(p password.Params) string {
	if p.Algorithm == password.AlgorithmBcrypt {
		return fmt.Sprintf("bcrypt cost=%d", p.BcryptCost)
	}
	a := p.Argon2
	return fmt.Sprintf("argon2id m=%dKiB t=%d p=%d", a.Memory, a.Iterations, a.Parallelism)
}

func (r *Runner) hash(ctx context.Context) ([]Result, error) {
	p := r.o.Hash
	p.Concurrency = r.o.Load.Concurrency
	h, err := password.NewHasher(p, nil)
	if err != nil {
		return nil, fmt.Errorf("hasher: %w", err)
	}
	pw := []byte(r.o.Password)
	res, err := r.measure(ctx, "hash", HashParamsString(p)+", in this process", selfPID, "bench", 1,
		func(ctx context.Context, _ int, _ int64) error {
			_, err := h.Hash(ctx, pw)
			return err
		})
	return []Result{res}, err
}
