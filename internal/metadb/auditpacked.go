package metadb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
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

// walkPacked runs query, which selects packedAuditColumns, and calls fn
// with each record until it returns false. It reads the rows from the
// driver itself, below database/sql: a full verify reads millions of rows,
// and database/sql's locks, its conversions of each row's columns and its
// second copy of both links were about a quarter of the walk's CPU
// (BenchmarkAuditWalk).
func (a Audit) walkPacked(ctx context.Context, query string, args []any, fn func(audit.Record) bool) error {
	conn, err := a.db.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("walk audit chain: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("the SQLite driver's connection cannot query (%T)", dc)
		}
		named := make([]driver.NamedValue, len(args))
		for i, v := range args {
			named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
		}
		rows, err := qc.QueryContext(ctx, query, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, 4)
		for {
			if err := rows.Next(dest); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			r, err := a.unpackRow(ctx, dest)
			if err != nil {
				return err
			}
			if !fn(r) {
				return nil
			}
		}
	})
	if err != nil {
		return fmt.Errorf("walk audit chain: %w", err)
	}
	return nil
}

// unpackRow reads a record from a row of packedAuditColumns as the driver
// gives it: the sequence number (the rowid, always an integer), the two
// links as blobs (nil when empty, as database/sql gives them) and the
// packed text. A record with anything else in its columns (a link stored
// as text, a NUL in its text) is read again column by column, through
// database/sql's conversions.
func (a Audit) unpackRow(ctx context.Context, row []driver.Value) (audit.Record, error) {
	var r audit.Record
	seq, ok := row[0].(int64)
	if !ok {
		return r, fmt.Errorf("read audit record: sequence number of type %T", row[0])
	}
	r.Seq = seq
	var okPrev, okHash bool
	r.PrevHash, okPrev = blobOrNull(row[1])
	r.Hash, okHash = blobOrNull(row[2])
	packed, ok := row[3].(string)
	if ok && okPrev && okHash {
		var at, rest string
		if at, rest, ok = strings.Cut(packed, "\x00"); ok {
			r.Time, ok = parseStoredTime(at)
		}
		ok = ok && unpackAudit(&r, rest)
	}
	if !ok || !okPrev || !okHash {
		return a.Get(ctx, r.Seq)
	}
	return r, nil
}

// blobOrNull is v as the driver gives a blob column: ok is false for any
// other type.
func blobOrNull(v driver.Value) (b []byte, ok bool) {
	if v == nil {
		return nil, true
	}
	b, ok = v.([]byte)
	return b, ok
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
