package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// The kind whose settings the Vault flags build.
const kindHashiCorpVault = "hashicorp-vault"

// vaultFlags build the settings of a HashiCorp Vault (or OpenBao) store, so
// that nobody has to write its JSON. They all start with --vault- except
// that Key Vault's --vault-name and --vault-url are not theirs.
type vaultFlags struct {
	settings vaultSettings
	auth     vaultAuth
}

// vaultSettings is the settings object of the hashicorp-vault kind, with
// only the fields that were given.
type vaultSettings struct {
	Address   string     `json:"address,omitempty"`
	Namespace string     `json:"namespace,omitempty"`
	Mount     string     `json:"mount,omitempty"`
	CAFile    string     `json:"caFile,omitempty"`
	Auth      *vaultAuth `json:"auth,omitempty"`
}

type vaultAuth struct {
	Kind         string `json:"kind,omitempty"`
	TokenFile    string `json:"tokenFile,omitempty"`
	TokenEnv     string `json:"tokenEnv,omitempty"`
	RoleID       string `json:"roleId,omitempty"`
	SecretIDFile string `json:"secretIdFile,omitempty"`
	SecretIDEnv  string `json:"secretIdEnv,omitempty"`
	Mount        string `json:"mount,omitempty"`
}

var (
	vaultFlagNames = []string{"vault-address", "vault-namespace", "vault-mount", "vault-ca-file", "vault-auth", "vault-token-file",
		"vault-token-env", "vault-role-id", "vault-secret-id-file", "vault-secret-id-env", "vault-approle-mount"}
	vaultAuths = []string{"token", "approle"}
)

func (v *vaultFlags) add(fl *pflag.FlagSet) {
	s, a := &v.settings, &v.auth
	fl.StringVar(&s.Address, "vault-address", "", "HashiCorp Vault: the server's https:// address, e.g. https://vault.example.com:8200")
	fl.StringVar(&s.Namespace, "vault-namespace", "", "HashiCorp Vault: the namespace (Vault Enterprise, OpenBao)")
	fl.StringVar(&s.Mount, "vault-mount", "", "HashiCorp Vault: the KV version 2 mount path (default secret)")
	fl.StringVar(&s.CAFile, "vault-ca-file", "", "HashiCorp Vault: absolute path, on the server, of the PEM file of the CA that signed Vault's certificate")
	fl.StringVar(&a.Kind, "vault-auth", "", "HashiCorp Vault: how credflow signs in: "+strings.Join(vaultAuths, ", "))
	fl.StringVar(&a.TokenFile, "vault-token-file", "", "HashiCorp Vault: absolute path, on the server, of the file holding the token")
	fl.StringVar(&a.TokenEnv, "vault-token-env", "", "HashiCorp Vault: name of the server's environment variable holding the token")
	fl.StringVar(&a.RoleID, "vault-role-id", "", "HashiCorp Vault: the AppRole's role id")
	fl.StringVar(&a.SecretIDFile, "vault-secret-id-file", "", "HashiCorp Vault: absolute path, on the server, of the file holding the AppRole secret id")
	fl.StringVar(&a.SecretIDEnv, "vault-secret-id-env", "", "HashiCorp Vault: name of the server's environment variable holding the AppRole secret id")
	fl.StringVar(&a.Mount, "vault-approle-mount", "", "HashiCorp Vault: the AppRole auth method's mount path (default approle)")
}

// changed returns the first Vault flag given, or "".
func (v *vaultFlags) changed(fl *pflag.FlagSet) string {
	for _, name := range vaultFlagNames {
		if fl.Changed(name) {
			return name
		}
	}
	return ""
}

// build returns the settings object of the flags given; the server checks
// that it is complete.
func (v *vaultFlags) build() (json.RawMessage, error) {
	if v.auth.Kind != "" && !slices.Contains(vaultAuths, v.auth.Kind) {
		return nil, usageErrorf("--vault-auth must be %s, not %q", strings.Join(vaultAuths, " or "), v.auth.Kind)
	}
	s := v.settings
	if v.auth != (vaultAuth{}) {
		a := v.auth
		s.Auth = &a
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("build the Vault settings: %w", err)
	}
	return b, nil
}
