package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/credflow/credflow/internal/secretstore/builtin"
)

// ErrStopped is what a rotation stopped by WithRotationStop returns, as a
// crash would stop it.
var ErrStopped = errors.New("server: rotation stopped on purpose")

// WithRotationStop stops every master-key rotation after n batches, as a
// crash would (tests).
func WithRotationStop(n int) Option { return func(s *Server) { s.rotationStop = n } }

// keyRotator rotates the built-in store's master key: it reads the loaded
// key's file and the new one, both on this server's machine, and rewraps.
type keyRotator struct {
	st      *builtin.Store
	keyFile string
	stop    int
}

func (k keyRotator) RotateMasterKey(ctx context.Context, actor, newKeyFile string, batch int) (builtin.RotateResult, error) {
	if !filepath.IsAbs(newKeyFile) {
		return builtin.RotateResult{}, fmt.Errorf("%s is not an absolute path: %w", newKeyFile, builtin.ErrBadKeyFile)
	}
	if err := checkKeyFileMode("new master key", newKeyFile); err != nil {
		return builtin.RotateResult{}, fmt.Errorf("%w: %w", err, builtin.ErrBadKeyFile)
	}
	newKey, _, err := builtin.LoadOrCreateKey(newKeyFile, false)
	if err != nil {
		return builtin.RotateResult{}, fmt.Errorf("%w: %w", err, builtin.ErrBadKeyFile)
	}
	defer clear(newKey)
	cur, _, err := builtin.LoadOrCreateKey(k.keyFile, false)
	if err != nil {
		return builtin.RotateResult{}, fmt.Errorf("the server's own master key file: %w", err)
	}
	defer clear(cur)
	opts := builtin.RotateOptions{Batch: batch, Actor: actor}
	if k.stop > 0 {
		opts.AfterBatch = func(n int) error {
			if n >= k.stop {
				return ErrStopped
			}
			return nil
		}
	}
	return k.st.Rotate(ctx, cur, newKey, opts)
}
