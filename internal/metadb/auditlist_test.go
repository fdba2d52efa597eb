package metadb_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestAuditListFiltered: listing by resource or by actor (in any case),
// oldest or newest first, page by page, returns exactly the records a
// filter over the whole chain keeps, in order.
func TestAuditListFiltered(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			db, _, _ := loadedTrail(t, e, 1500)
			var all []audit.Record
			if err := db.Audit().Walk(ctx, 0, 0, func(r audit.Record) bool { all = append(all, r); return true }); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name string
				f    audit.Filter
				keep func(audit.Record) bool
			}{
				{"resource", audit.Filter{Resource: "connection:c0007"}, func(r audit.Record) bool { return r.Resource == "connection:c0007" }},
				{"actor in another case", audit.Filter{Actor: "RUNNER-003"}, func(r audit.Record) bool { return r.Actor == "Runner-003" }},
				{"actor and resource", audit.Filter{Actor: "runner-003", Resource: "connection:c0010"},
					func(r audit.Record) bool { return r.Actor == "Runner-003" && r.Resource == "connection:c0010" }},
				{"unknown resource", audit.Filter{Resource: "connection:none"}, func(audit.Record) bool { return false }},
			} {
				for _, newest := range []bool{false, true} {
					name := tc.name + map[bool]string{false: ", oldest first", true: ", newest first"}[newest]
					t.Run(name, func(t *testing.T) {
						var want []audit.Record
						for _, r := range all {
							if tc.keep(r) {
								want = append(want, r)
							}
						}
						if newest {
							for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
								want[i], want[j] = want[j], want[i]
							}
						}
						var got []audit.Record
						f := tc.f
						f.Newest, f.Limit = newest, 7
						for {
							page, err := db.Audit().List(ctx, f)
							if err != nil {
								t.Fatal(err)
							}
							got = append(got, page...)
							if len(page) < f.Limit {
								break
							}
							if last := page[len(page)-1].Seq; newest {
								f.BeforeSeq = last
							} else {
								f.AfterSeq = last
							}
						}
						if len(want) == 0 && len(got) == 0 {
							return
						}
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("List(%+v) returned %d records, want %d (first %+v)", tc.f, len(got), len(want), first(got))
						}
					})
				}
			}
		})
	}
}

func first(rs []audit.Record) any {
	if len(rs) == 0 {
		return nil
	}
	return rs[0]
}

// TestAuditListPlan: on SQLite, a first page filtered by resource or by
// actor is read from the filter's index in sequence order, with no sort
// and no scan of the whole log.
func TestAuditListPlan(t *testing.T) {
	db := metadbtest.Open(t, metadbtest.Engines(t)[0])
	for _, tc := range []struct {
		f     audit.Filter
		index string
	}{
		{audit.Filter{Resource: "connection:x", Newest: true, Limit: 51}, "audit_log_resource"},
		{audit.Filter{Resource: "connection:x", Limit: 51}, "audit_log_resource"},
		{audit.Filter{Resource: "connection:x", Newest: true, BeforeSeq: 1000, Limit: 51}, "audit_log_resource"},
		{audit.Filter{Actor: "Runner", Newest: true, Limit: 51}, "audit_log_actor"},
		{audit.Filter{Actor: "Runner", AfterSeq: 10, Limit: 51}, "audit_log_actor"},
	} {
		q, args := metadb.AuditListQuery(db, tc.f)
		rows, err := db.SQL().QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if !strings.Contains(p, "USING INDEX "+tc.index) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("plan for %+v is %q; want the index %s and no sort", tc.f, p, tc.index)
		}
	}
}

// TestAuditListByTime: a filter by time (from, to, or both, alone or with
// a resource) finds the records a filter over the whole chain keeps, with
// no index on time: the chain's times never go back along its sequence
// numbers, even when the clock does, and the list finds its range of
// sequence numbers by a binary search.
func TestAuditListByTime(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			db := metadbtest.Open(t, e)
			// Batches appended a few milliseconds apart: each has a time
			// of its own.
			for b := range 6 {
				if _, err := db.Audit().Load(ctx, 40, resolves(40, 3, 2)); err != nil {
					t.Fatal(err)
				}
				if b < 5 {
					time.Sleep(3 * time.Millisecond)
				}
			}
			var all []audit.Record
			if err := db.Audit().Walk(ctx, 0, 0, func(r audit.Record) bool { all = append(all, r); return true }); err != nil {
				t.Fatal(err)
			}
			times := []time.Time{all[0].Time.Add(-time.Second)}
			for i, r := range all {
				if i > 0 && r.Time.Before(all[i-1].Time) {
					t.Fatalf("record %d is older than the one before it", r.Seq)
				}
				if i == 0 || !r.Time.Equal(all[i-1].Time) {
					times = append(times, r.Time, r.Time.Add(time.Microsecond))
				}
			}
			times = append(times, all[len(all)-1].Time.Add(time.Second))
			var zero time.Time
			check := func(f audit.Filter) {
				t.Helper()
				var want []audit.Record
				for _, r := range all {
					if (f.From.IsZero() || !r.Time.Before(f.From)) && (f.To.IsZero() || r.Time.Before(f.To)) &&
						(f.Resource == "" || r.Resource == f.Resource) {
						want = append(want, r)
					}
				}
				var got []audit.Record
				f.Limit = 25
				for {
					page, err := db.Audit().List(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, page...)
					if len(page) < f.Limit {
						break
					}
					f.AfterSeq = page[len(page)-1].Seq
				}
				if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
					t.Errorf("List(from %v, to %v, resource %q) = %d records, want %d", f.From, f.To, f.Resource, len(got), len(want))
				}
			}
			for i, from := range append([]time.Time{zero}, times...) {
				check(audit.Filter{From: from})
				check(audit.Filter{To: from})
				for _, to := range times[max(i-1, 0):] {
					check(audit.Filter{From: from, To: to})
					check(audit.Filter{From: from, To: to, Resource: "connection:c0001"})
				}
			}

			// The clock goes back (here: the last record is an hour ahead
			// of it): the next record takes the last record's time.
			ahead := time.Now().UTC().Add(time.Hour).Truncate(time.Microsecond)
			last := all[len(all)-1].Seq
			update := `UPDATE audit_log SET at = $1 WHERE seq = $2`
			if e.Name == "sqlite" {
				update = `UPDATE audit_log SET at = ? WHERE seq = ?`
			}
			if _, err := db.SQL().Exec(update, ahead, last); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Audit().Load(ctx, 1, resolves(1, 1, 1)); err != nil {
				t.Fatal(err)
			}
			r, err := db.Audit().Get(ctx, last+1)
			if err != nil {
				t.Fatal(err)
			}
			if r.Time.Before(ahead) {
				t.Errorf("the record after one at %v is at %v: the chain's time went back", ahead, r.Time)
			}
			if got, err := db.Audit().List(ctx, audit.Filter{From: ahead, Limit: 10}); err != nil || len(got) != 2 {
				t.Errorf("records from %v: %d, %v; want the two", ahead, len(got), err)
			}
		})
	}
}
