package metadb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/credflow/credflow/internal/audit"
)

// packedAuditColumns read an audit record from SQLite in four columns
// instead of twelve, for walks over the whole chain: the time and the eight
// text columns come joined by NULs in one. The driver enters SQLite's mutex
// several times for each column of each row, which made reading the
// columns most of a full verify's time, and parsing the time through
// time.Parse was a tenth of the rest. A record whose text holds a NUL
// itself, or whose time is not in the form the driver writes, is read
// again column by column.
var packedAuditColumns = `seq, prev_hash, hash, concat_ws(char(0), at, ` + strings.Join(packedTextColumns, ", ") + `)`

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
		if err := rows.Scan(&r.Seq, &r.PrevHash, &r.Hash, &packed); err != nil {
			return r, fmt.Errorf("read audit record: %w", err)
		}
		at, rest, ok := strings.Cut(packed, "\x00")
		if ok {
			r.Time, ok = parseStoredTime(at)
		}
		if !ok || !unpackAudit(&r, rest) {
			return a.Get(ctx, r.Seq)
		}
		return r, nil
	}
}

// parseStoredTime reads a UTC time in the form the SQLite driver stores
// one, time.Time's String without a monotonic clock reading:
// "2006-01-02 15:04:05.999999999 +0000 UTC", the fraction optional. ok is
// false for any other form (another zone included).
func parseStoredTime(s string) (t time.Time, ok bool) {
	const zone = " +0000 UTC"
	s, ok = strings.CutSuffix(s, zone)
	if !ok || len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return t, false
	}
	num := func(from, to int) int {
		n := 0
		for _, c := range []byte(s[from:to]) {
			if c < '0' || c > '9' {
				ok = false
				return 0
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec := num(11, 13), num(14, 16), num(17, 19)
	nsec := 0
	if len(s) > 19 {
		frac := len(s) - 20
		if s[19] != '.' || frac < 1 || frac > 9 {
			return t, false
		}
		nsec = num(20, len(s))
		for ; frac < 9; frac++ {
			nsec *= 10
		}
	}
	if !ok || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return t, false
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // a day the month does not have
	}
	return t, true
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
