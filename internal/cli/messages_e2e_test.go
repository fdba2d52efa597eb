package cli

import (
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// TestMessagesForPeople checks what a person reads: refusals name the CLI's
// flags rather than the API's parameters, and what the server stores
// (descriptions, names given by others) cannot drive the terminal.
func TestMessagesForPeople(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e)
			admin, _ := runtimeSetup(t, inst)

			msg := admin.fails("credential", "delete", "SQL")
			if !strings.Contains(msg, "sql-build") || !strings.HasSuffix(msg, "run 'credflow credential delete SQL --force' to mark them broken.") ||
				strings.Contains(msg, "force=true") {
				t.Errorf("credential delete in use: %q", msg)
			}

			const hostile = "report \x1b]0;owned\x07\x1b[2J\u009b31m done"
			admin.ok("env", "update", "cf_SQLPassword", "--description", hostile)
			// The text variable's value shows in a listing: this session
			// checks control characters, not values.
			admin = &session{t: t, inv: admin.inv}
			for _, args := range [][]string{{"env", "get", "cf_SQLPassword"}, {"env", "list"}} {
				out := admin.ok(args...)
				if strings.ContainsAny(out, "\x1b\x07\u009b") {
					t.Errorf("credflow %s printed a control character: %q", strings.Join(args, " "), out)
				}
			}
			if out := admin.ok("env", "get", "cf_SQLPassword"); !strings.Contains(out, `report \x1b]0;owned\x07\x1b[2J\u009b31m done`) {
				t.Errorf("env get does not show the escaped description: %q", out)
			}
		})
	}
}
