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

			// Names and descriptions with control characters are refused by
			// the server; a text variable's value is not, and a description
			// may hold a newline.
			const hostile = "report \x1b]0;owned\x07\x1b[2J\u009b31m done"
			plain := &session{t: t, inv: admin.inv}
			plain.ok("env", "create", "--display-name", "Banner", "--type", "text", "--value", hostile, "--description", "two\nlines")
			for _, args := range [][]string{{"env", "get", "cf_Banner"}, {"env", "list"}} {
				out := plain.ok(args...)
				if strings.ContainsAny(out, "\x1b\x07\u009b") {
					t.Errorf("credflow %s printed a control character: %q", strings.Join(args, " "), out)
				}
			}
			out := plain.ok("env", "get", "cf_Banner")
			if !strings.Contains(out, `report \x1b]0;owned\x07\x1b[2J\u009b31m done`) || !strings.Contains(out, `two\nlines`) {
				t.Errorf("env get does not show the escaped value and description: %q", out)
			}
		})
	}
}
