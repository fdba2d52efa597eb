package metadb

import (
	"context"
	"fmt"
	"strings"

	"github.com/credflow/credflow/internal/audit"
)

// packedAuditColumns read an audit record from SQLite in five columns
// instead of twelve, for walks over the whole chain: the eight text
// columns come joined by NULs in one. The driver enters SQLite's mutex
// several times for each column of each row, which made reading the
// columns most of a full verify's time. A record whose text holds a NUL
// itself does not split into eight; it is read again column by column.
var packedAuditColumns = `seq, at, prev_hash, hash, concat_ws(char(0), ` + strings.Join(packedTextColumns, ", ") + `)`

// packedTextColumns are the text columns in a packed record, in order.
var packedTextColumns = []string{"actor", "action", "resource", "outcome", "reason", "request_id", "client", "link"}

// scanPacked returns a reader of records selected with
// packedAuditColumns.
func (a Audit) scanPacked(ctx context.Context) func(scanner) (audit.Record, error) {
	return func(rows scanner) (audit.Record, error) {
		var (
			r      audit.Record
			packed string
		)
		if err := rows.Scan(&r.Seq, &r.Time, &r.PrevHash, &r.Hash, &packed); err != nil {
			return r, fmt.Errorf("read audit record: %w", err)
		}
		r.Time = r.Time.UTC()
		if !unpackAudit(&r, packed) {
			return a.Get(ctx, r.Seq)
		}
		return r, nil
	}
}

// unpackAudit fills r's text fields from packed, and reports whether it
// held exactly one value for each.
func unpackAudit(r *audit.Record, packed string) bool {
	rest := packed
	for i, dst := range []*string{&r.Actor, &r.Action, &r.Resource, &r.Outcome, &r.Reason, &r.RequestID, &r.Client, &r.Link} {
		if i == len(packedTextColumns)-1 {
			if strings.IndexByte(rest, 0) >= 0 {
				return false
			}
			*dst = rest
			return true
		}
		v, after, ok := strings.Cut(rest, "\x00")
		if !ok {
			return false
		}
		*dst, rest = v, after
	}
	return false
}
