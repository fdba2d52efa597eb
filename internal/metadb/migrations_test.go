package metadb

import (
	"fmt"
	"io/fs"
	"testing"
)

// TestMigrationTreesMatch: the two dialects' migrations are kept by hand, so
// they must list the same files, numbered 1, 2, 3, ... without a gap, and
// neither may be empty.
func TestMigrationTreesMatch(t *testing.T) {
	names := map[Dialect][]string{}
	for _, d := range []Dialect{SQLite, Postgres} {
		entries, err := fs.ReadDir(migrations, "migrations/"+string(d))
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range entries {
			var n int
			if _, err := fmt.Sscanf(e.Name(), "%04d_", &n); err != nil || n != i+1 {
				t.Errorf("%s migration %s: want number %04d", d, e.Name(), i+1)
			}
			names[d] = append(names[d], e.Name())
		}
		if len(entries) == 0 {
			t.Errorf("no %s migrations", d)
		}
	}
	if fmt.Sprint(names[SQLite]) != fmt.Sprint(names[Postgres]) {
		t.Errorf("the dialects' migrations differ:\nsqlite:   %v\npostgres: %v", names[SQLite], names[Postgres])
	}
}
