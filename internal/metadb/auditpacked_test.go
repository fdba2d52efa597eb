package metadb

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestParseStoredTime: the fast reader of stored times agrees with
// time.Parse on the driver's form, and refuses every other form (which the
// walk then reads column by column).
func TestParseStoredTime(t *testing.T) {
	const layout = "2006-01-02 15:04:05.999999999 -0700 MST"
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"2026-12-03 14:20:14.123456789 +0000 UTC", true},
		{"2026-12-03 14:20:14 +0000 UTC", true},
		{"2026-12-03 14:20:14.5 +0000 UTC", true},
		{"2026-12-03 14:20:14.000001 +0000 UTC", true},
		{"2024-02-29 23:59:59.999999999 +0000 UTC", true},
		{"2026-02-30 10:00:00 +0000 UTC", false},
		{"2026-13-01 10:00:00 +0000 UTC", false},
		{"2026-12-03 14:20:14 -0700 MST", false},
		{"2026-12-03T14:20:14 +0000 UTC", false},
		{"2026-12-03 14:20:14. +0000 UTC", false},
		{"2026-12-03 14:20:14.1234567891 +0000 UTC", false},
		{"2026-12-03 14:20:14", false},
		{"2026-12-03 24:00:00 +0000 UTC", false},
		{"2026-12-03 14:2x:14 +0000 UTC", false},
		{"2026-12-03 14:20:14.12a +0000 UTC", false},
		{"2026-12-03 14:20:14+00:00", false},
		{"", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseStoredTime(tc.in)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			want, err := time.Parse(layout, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("got %v, want %v in UTC", got, want.UTC())
			}
		})
	}
}

// TestStoredTimeFormRoundTrips: what the driver writes for a UTC time (the
// audit trail's times are UTC) is what the fast reader reads back, to the
// nanosecond.
func TestStoredTimeFormRoundTrips(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2026, 12, 3, 14, 20, 14, 123456789, time.UTC),
		time.Date(2026, 12, 3, 14, 20, 14, 0, time.UTC),
		time.Date(1999, 1, 31, 0, 0, 0, 1000, time.UTC),
	} {
		db, err := Open(context.Background(), "", t.TempDir(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		var stored string
		if err := db.sql.QueryRow(`SELECT CAST(? AS TEXT)`, at).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		got, ok := parseStoredTime(stored)
		if !ok || !got.Equal(at) {
			t.Errorf("%v stored as %q read back as %v (ok %v)", at, stored, got, ok)
		}
	}
}
