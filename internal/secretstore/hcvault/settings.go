package hcvault

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/validation"
)

// Auth kinds.
const (
	AuthToken   = "token"
	AuthAppRole = "approle"
)

// Defaults.
const (
	DefaultMount        = "secret"
	DefaultAppRoleMount = "approle"
)

// Settings configure one Vault (or OpenBao) store. They hold no secret: a
// token or an AppRole secret id is named by file path or environment
// variable, never given inline, and there is no field that would take one.
type Settings struct {
	// Address is the server's base URL, https://vault.example.com:8200.
	Address string `json:"address"`
	// Namespace is the Vault Enterprise or OpenBao namespace ("" for none).
	Namespace string `json:"namespace,omitempty"`
	// Mount is the KV version 2 secrets engine's mount path (default secret).
	Mount string `json:"mount,omitempty"`
	// CAFile is a PEM file of the certificate authorities that sign the
	// server's certificate (default: the system's roots).
	CAFile string `json:"caFile,omitempty"`
	// ReadBudget is the most secret reads credflow makes of this store in
	// any 10 seconds (0: no limit), to stay under a rate limit quota.
	ReadBudget int  `json:"readBudget,omitempty"`
	Auth       Auth `json:"auth"`
}

// MaxReadBudget bounds readBudget.
const MaxReadBudget = 100000

// Auth says how credflow authenticates to Vault.
type Auth struct {
	// Kind: token or approle.
	Kind string `json:"kind"`
	// TokenFile or TokenEnv (exactly one, token): where the token is. A
	// file is read again when Vault refuses the token, so that an agent
	// that rewrites it is followed.
	TokenFile string `json:"tokenFile,omitempty"`
	TokenEnv  string `json:"tokenEnv,omitempty"`
	// RoleID (approle): the role's role id, which is not a secret.
	RoleID string `json:"roleId,omitempty"`
	// SecretIDFile or SecretIDEnv (exactly one, approle): where the secret
	// id is.
	SecretIDFile string `json:"secretIdFile,omitempty"`
	SecretIDEnv  string `json:"secretIdEnv,omitempty"`
	// Mount is the AppRole auth method's mount path (default approle).
	Mount string `json:"mount,omitempty"`
}

// DecodeSettings decodes raw strictly (unknown fields, repeated fields,
// trailing data and wrong types are errors) and validates the result.
// Errors are *validation.Error naming fields as settings.<field>; they
// never repeat the input, which might hold a secret pasted in the wrong
// place.
func DecodeSettings(raw json.RawMessage) (Settings, error) {
	var s Settings
	if err := secretstore.DecodeSettings(raw, &s, inlineSecret); err != nil {
		return Settings{}, err
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// inlineSecret is what someone who put a credential in the settings is told.
var inlineSecret = secretstore.InlineSecret{Words: []string{"token", "secret", "password"},
	Message: "secrets are never given inline; name a file (tokenFile, secretIdFile) or an environment variable (tokenEnv, secretIdEnv) instead"}

var (
	envNameRule   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)
	mountRule     = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)
	namespaceRule = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)
	roleIDRule    = regexp.MustCompile(`^[\x21-\x7e]{1,256}$`)
)

// Rules, written for people.
const (
	envMsg       = "must be an environment variable name (letters, digits and '_', not starting with a digit)"
	fileMsg      = "must be an absolute file path"
	mountMsg     = "must be a mount path: segments of letters, digits, '_', '-' and '.' separated by '/', without a leading or trailing '/'"
	namespaceMsg = "must be a namespace path: segments of letters, digits, '_', '-' and '.' separated by '/'"
)

// Validate checks the settings without touching the network or the file
// system. It returns a *validation.Error listing every broken rule.
func (s Settings) Validate() error {
	var v validation.Error
	if msg := checkAddress(s.Address); msg != "" {
		v.Add("settings.address", msg)
	}
	if s.Namespace != "" && !namespaceRule.MatchString(s.Namespace) {
		v.Add("settings.namespace", namespaceMsg)
	}
	if s.Mount != "" && !mountRule.MatchString(s.Mount) {
		v.Add("settings.mount", mountMsg)
	}
	if s.CAFile != "" && !absFile(s.CAFile) {
		v.Add("settings.caFile", fileMsg)
	}
	if s.ReadBudget < 0 || s.ReadBudget > MaxReadBudget {
		v.Add("settings.readBudget", "must be from 1 to 100000 reads per 10 seconds, or 0 for no limit")
	}
	s.Auth.validate(&v)
	return v.Err()
}

func checkAddress(raw string) string {
	if raw == "" {
		return "is required: the server's https:// address, such as https://vault.example.com:8200"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return "must be an https:// URL such as https://vault.example.com:8200"
	case u.Scheme != "https":
		return "must use https: a token is never sent over plain HTTP"
	case u.User != nil:
		return "must not hold a user name or password"
	case u.RawQuery != "" || u.Fragment != "":
		return "must not have a query or fragment"
	case strings.Trim(u.Path, "/") != "":
		return "must be the server's base address, without a path (Vault's API is under /v1)"
	}
	return ""
}

func absFile(p string) bool { return filepath.IsAbs(p) && !strings.ContainsRune(p, 0) }

func (a Auth) validate(v *validation.Error) {
	const p = "settings.auth."
	checkFile := func(field, path string) {
		if path != "" && !absFile(path) {
			v.Add(p+field, fileMsg)
		}
	}
	checkEnv := func(field, name string) {
		if name != "" && !envNameRule.MatchString(name) {
			v.Add(p+field, envMsg)
		}
	}
	checkFile("tokenFile", a.TokenFile)
	checkFile("secretIdFile", a.SecretIDFile)
	checkEnv("tokenEnv", a.TokenEnv)
	checkEnv("secretIdEnv", a.SecretIDEnv)
	if a.Mount != "" && !mountRule.MatchString(a.Mount) {
		v.Add(p+"mount", mountMsg)
	}
	only := func(allowed ...string) {
		for _, f := range []struct{ name, value string }{
			{"tokenFile", a.TokenFile},
			{"tokenEnv", a.TokenEnv},
			{"roleId", a.RoleID},
			{"secretIdFile", a.SecretIDFile},
			{"secretIdEnv", a.SecretIDEnv},
			{"mount", a.Mount},
		} {
			if f.value != "" && !slices.Contains(allowed, f.name) {
				v.Add(p+f.name, "is not used with auth kind \""+a.Kind+"\"")
			}
		}
	}
	switch a.Kind {
	case AuthToken:
		only("tokenFile", "tokenEnv")
		if (a.TokenFile == "") == (a.TokenEnv == "") {
			v.Add(p+"tokenFile", "give exactly one of tokenFile and tokenEnv")
		}
	case AuthAppRole:
		only("roleId", "secretIdFile", "secretIdEnv", "mount")
		if a.RoleID == "" {
			v.Add(p+"roleId", "is required with auth kind \"approle\"")
		} else if !roleIDRule.MatchString(a.RoleID) {
			v.Add(p+"roleId", "must be 1-256 printable characters without spaces")
		}
		if (a.SecretIDFile == "") == (a.SecretIDEnv == "") {
			v.Add(p+"secretIdFile", "give exactly one of secretIdFile and secretIdEnv")
		}
	case "":
		v.Add(p+"kind", "is required: token or approle")
	default:
		v.Add(p+"kind", "must be token or approle")
	}
}

func (s Settings) mount() string {
	if s.Mount == "" {
		return DefaultMount
	}
	return s.Mount
}

func (a Auth) mount() string {
	if a.Mount == "" {
		return DefaultAppRoleMount
	}
	return a.Mount
}

// Public returns the settings as the API shows them: with the defaults
// filled in and the address without a trailing '/'. Nothing in Settings is
// secret (file paths, variable names and the role id are not), so nothing
// is removed.
func (s Settings) Public() Settings {
	s.Address = strings.TrimSuffix(s.Address, "/")
	s.Mount = s.mount()
	if s.Auth.Kind == AuthAppRole {
		s.Auth.Mount = s.Auth.mount()
	}
	return s
}
