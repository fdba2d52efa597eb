package events

import (
	"net/url"
	"strings"

	"github.com/credflow/credflow/internal/secretstore"
)

// Registry is what Stores needs of the store registry;
// *secretstore.Registry implements it.
type Registry interface {
	List() []secretstore.Info
	Lookup(name string) (secretstore.Store, secretstore.Info, error)
}

// VaultStore is implemented by stores that read a Key Vault
// (azurekv.Store).
type VaultStore interface {
	Vault() (name, url string)
}

// Stores finds the registered stores that read a vault.
type Stores struct{ Registry Registry }

// StoresOfVault names the stores reading the vault of that name (compared
// without case, as Azure does), or whose URL's first host label is it.
func (s Stores) StoresOfVault(vault string) []string {
	vault = strings.TrimSpace(vault)
	if vault == "" {
		return nil
	}
	return s.matching(func(name, u string) bool {
		return strings.EqualFold(name, vault) || strings.EqualFold(firstLabel(u), vault)
	})
}

// StoresOf names the stores reading the vault that ref designates: its URL
// (https://{vault}.vault.azure.net[/…]) or its resource id
// (/subscriptions/…/providers/Microsoft.KeyVault/vaults/{vault}).
func (s Stores) StoresOf(ref string) []string {
	ref = strings.TrimSpace(ref)
	if v := VaultFromResourceID(ref); v != "" {
		return s.StoresOfVault(v)
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return nil
	}
	return s.matching(func(name, vaultURL string) bool {
		if vu, err := url.Parse(vaultURL); err == nil && strings.EqualFold(vu.Host, u.Host) {
			return true
		}
		return strings.EqualFold(name, firstLabel(ref))
	})
}

func (s Stores) matching(match func(name, url string) bool) []string {
	var out []string
	for _, info := range s.Registry.List() {
		st, _, err := s.Registry.Lookup(info.Name)
		if err != nil {
			continue
		}
		if v, ok := st.(VaultStore); ok {
			if name, u := v.Vault(); match(name, u) {
				out = append(out, info.Name)
			}
		}
	}
	return out
}

// firstLabel returns the first label of a URL's host, "" when it has none.
func firstLabel(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	return strings.SplitN(u.Hostname(), ".", 2)[0]
}
