package events_test

import (
	"errors"
	"testing"

	"github.com/credflow/credflow/internal/events"
)

// FuzzParse: any body is either refused with a *events.FormatError or read
// into events that each have an id and a type, whose accessors never
// panic; reading the same body twice gives the same events.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`[{"id":"1","topic":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v","subject":"db","eventType":"Microsoft.KeyVault.SecretNewVersionCreated","eventTime":"2026-01-02T03:04:05Z","data":{"Id":"https://v.vault.azure.net/secrets/db/1","VaultName":"v","ObjectType":"Secret","ObjectName ":"db","Version":"1","NBF":"1559081980","EXP":null},"dataVersion":"1","metadataVersion":"1"}]`,
		`{"specversion":"1.0","id":"a","source":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v","subject":"db","type":"Microsoft.KeyVault.SecretExpired","data":{"VaultName":"v","ObjectName":"db","EXP":1779401257}}`,
		`[{"id":"v","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"c"}}]`,
		`[]`, `{}`, `[1]`, `[{"id":1}]`, `{"specversion":"2.0","id":"x","type":"t"}`, ``, `null`, `[{"id":"x","eventType":"t","data":"s"}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := events.Parse(body)
		if err != nil {
			var fe *events.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q): %T %v, want a *events.FormatError", body, err, err)
			}
			return
		}
		if len(evs) == 0 {
			t.Fatalf("Parse(%q): no event and no error", body)
		}
		for _, e := range evs {
			if e.ID == "" || e.Type == "" {
				t.Fatalf("Parse(%q): an event without id or type: %+v", body, e)
			}
			_, _, _, _ = e.Vault(), e.SecretName(), e.ValidationCode(), e.KeyVault()
		}
		again, err := events.Parse(body)
		if err != nil || len(again) != len(evs) {
			t.Fatalf("Parse(%q) twice: %d events, then %d, %v", body, len(evs), len(again), err)
		}
	})
}
