package metadb

import (
	"fmt"

	"github.com/credflow/credflow/internal/access"
)

// visibleIDs is a query of the ids of the objects of kind that v (not an
// admin) may see through a share that has not expired, greater than the id
// in the placeholder after, in id order; with a limit placeholder, at most
// that many. Its own arguments start at $first.
//
// Each principal's shares are one range of the shares_visible index,
// already in object id order, so the union is a merge that stops after
// limit ids: a page costs the same whether the viewer sees ten objects or
// every one. The condition it replaces, a share looked up for each object
// in id order, read every object the viewer may not see on the way to a
// page of those it may.
func visibleIDs(v access.Viewer, kind access.ObjectKind, after, limit string, first int) (string, []any) {
	args := []any{string(kind), v.Now, v.UserID}
	arm := func(principal string) string {
		return fmt.Sprintf(`SELECT object_id FROM shares WHERE %s AND object_kind = $%d AND object_id > %s
			AND (expires_at IS NULL OR expires_at > $%d)`, principal, first, after, first+1)
	}
	q := arm(fmt.Sprintf(`principal_kind = 'user' AND principal_id = $%d`, first+2))
	if len(v.Groups) > 0 {
		ph, gargs := placeholders(first+3, v.Groups)
		q += ` UNION ` + arm(`principal_kind = 'group' AND principal_id IN (`+ph+`)`)
		args = append(args, gargs...)
	}
	if limit != "" {
		q += ` ORDER BY 1 LIMIT ` + limit
	}
	return q, args
}

// listVisible reads a page of objects that a viewer who is not an admin may
// see: fast reads the page's ids first (see visibleIDs) and then the rows;
// when that gives fewer than limit rows (the list's end, or a share naming
// an object that is gone took a place in the page), full reads the page
// from every visible id after the cursor, which is never wrong.
func listVisible[T any](fast, full func() ([]T, error), limit int) ([]T, error) {
	page, err := fast()
	if err != nil || len(page) >= limit {
		return page, err
	}
	return full()
}
