package metadb

import (
	"context"
	"fmt"

	"github.com/credflow/credflow/internal/storesecret"
)

var _ storesecret.References = Variables{}

// SecretReferences implements storesecret.References: the secret variables
// of a store whose reference starts with refPrefix. (substr, not LIKE, so
// that '_' and '%' in a name are not wildcards.)
func (r Variables) SecretReferences(ctx context.Context, storeID, refPrefix string) ([]storesecret.Reference, error) {
	refs, err := queryList(ctx, r.db, func(row interface{ Scan(...any) error }) (storesecret.Reference, error) {
		var ref storesecret.Reference
		err := row.Scan(&ref.Variable, &ref.Ref)
		return ref, err
	}, `SELECT schema_name, secret_ref FROM environment_variables
		WHERE type = 'secret' AND store_id = $1 AND substr(secret_ref, 1, length(CAST($2 AS TEXT))) = $2
		ORDER BY lower(schema_name)`, storeID, refPrefix)
	if err != nil {
		return nil, fmt.Errorf("find references to store %s: %w", storeID, err)
	}
	return refs, nil
}
