package azurekv

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/validation"
)

// Clouds.
const (
	CloudPublic = "public"
	CloudChina  = "china"
	CloudUSGov  = "usgov"
)

// Auth kinds.
const (
	AuthDefault           = "default"
	AuthManagedIdentity   = "managed-identity"
	AuthWorkloadIdentity  = "workload-identity"
	AuthClientSecret      = "client-secret"
	AuthClientCertificate = "client-certificate"
)

// Read budget limits: Key Vault serves about 4000 reads per vault per 10 s
// before it throttles; credflow stays under that by default.
const (
	DefaultReadBudget = 3000
	MaxReadBudget     = 4000
)

// Settings configure one Key Vault store. They hold no secret: a client
// secret or certificate password is named by file path or environment
// variable, never given inline, and there is no field that would take one.
type Settings struct {
	// Cloud is public (default), china or usgov.
	Cloud          string `json:"cloud,omitempty"`
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	ResourceGroup  string `json:"resourceGroup"`
	VaultName      string `json:"vaultName"`
	// VaultURLOverride (vaultUrl) overrides the URL derived from the vault name and cloud
	// (a private endpoint's own name, a proxy, an emulator). https only.
	VaultURLOverride string `json:"vaultUrl,omitempty"`
	// AllowCustomVaultHost turns off the SDK's check that the vault's
	// authentication challenge names a resource of the vault's host
	// domain. Needed for a VaultURL outside the cloud's vault domain; it
	// weakens a protection against sending tokens to a host that is not a
	// Key Vault, so leave it off for real vaults.
	AllowCustomVaultHost bool `json:"allowCustomVaultHost,omitempty"`
	// ReadBudget is the most reads credflow makes of this vault in any 10
	// seconds (default 3000, at most 4000, Key Vault's limit).
	ReadBudget int  `json:"readBudget,omitempty"`
	Auth       Auth `json:"auth"`
}

// Auth says how credflow authenticates to the vault.
type Auth struct {
	// Kind: default (the SDK's default credential chain),
	// managed-identity, workload-identity, client-secret or
	// client-certificate.
	Kind string `json:"kind"`
	// ClientID: the application (client) id of the service principal, or
	// of a user-assigned managed identity, or of the workload identity
	// (default: AZURE_CLIENT_ID).
	ClientID string `json:"clientId,omitempty"`
	// ClientSecretFile or ClientSecretEnv (exactly one, client-secret):
	// where the client secret is.
	ClientSecretFile string `json:"clientSecretFile,omitempty"`
	ClientSecretEnv  string `json:"clientSecretEnv,omitempty"`
	// CertificateFile (client-certificate): PEM or PKCS#12 file holding
	// the certificate and its private key.
	CertificateFile string `json:"certificateFile,omitempty"`
	// CertificatePasswordEnv (client-certificate, optional): the variable
	// holding the password of an encrypted certificate file.
	CertificatePasswordEnv string `json:"certificatePasswordEnv,omitempty"`
}

// cloudInfo is what differs between Azure clouds.
type cloudInfo struct {
	suffix    string // vault host suffix
	resource  string // the vault audience
	authority string // Entra ID host
}

var clouds = map[string]cloudInfo{
	CloudPublic: {".vault.azure.net", "https://vault.azure.net", "https://login.microsoftonline.com/"},
	CloudChina:  {".vault.azure.cn", "https://vault.azure.cn", "https://login.chinacloudapi.cn/"},
	CloudUSGov:  {".vault.usgovcloudapi.net", "https://vault.usgovcloudapi.net", "https://login.microsoftonline.us/"},
}

// DecodeSettings decodes raw strictly (unknown fields, trailing data and
// wrong types are errors) and validates the result. Errors are
// *validation.Error naming fields as settings.<field>; they never repeat
// the input, which might hold a secret pasted in the wrong place.
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
var inlineSecret = secretstore.InlineSecret{Words: []string{"secret", "password"},
	Message: "secrets are never given inline; name a file (clientSecretFile) or an environment variable (clientSecretEnv, certificatePasswordEnv) instead"}

var (
	uuidRule    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	vaultRule   = regexp.MustCompile(`^[A-Za-z][0-9A-Za-z-]{1,22}[0-9A-Za-z]$`)
	envNameRule = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)
)

// Rules, written for people.
const (
	uuidMsg  = "must be a GUID such as 00000000-0000-0000-0000-000000000000"
	vaultMsg = "must be 3-24 characters of letters, digits and '-', start with a letter, end with a letter or digit, and have no \"--\""
	rgMsg    = "must be 1-90 characters of letters, digits, '_', '-', '.', '(' and ')', not ending with '.'"
	envMsg   = "must be an environment variable name (letters, digits and '_', not starting with a digit)"
	fileMsg  = "must be an absolute file path"
)

// Validate checks the settings without touching the network or the file
// system. It returns a *validation.Error listing every broken rule.
func (s Settings) Validate() error {
	var v validation.Error
	if _, ok := clouds[s.cloud()]; !ok {
		v.Add("settings.cloud", "must be public, china or usgov")
	}
	if !uuidRule.MatchString(s.TenantID) {
		v.Add("settings.tenantId", uuidMsg)
	}
	if !uuidRule.MatchString(s.SubscriptionID) {
		v.Add("settings.subscriptionId", uuidMsg)
	}
	if !validResourceGroup(s.ResourceGroup) {
		v.Add("settings.resourceGroup", rgMsg)
	}
	if !ValidVaultName(s.VaultName) {
		v.Add("settings.vaultName", vaultMsg)
	}
	if s.VaultURLOverride != "" {
		if msg := s.checkVaultURL(); msg != "" {
			v.Add("settings.vaultUrl", msg)
		}
	}
	if s.ReadBudget < 0 || s.ReadBudget > MaxReadBudget {
		v.Add("settings.readBudget", fmt.Sprintf("must be from 1 to %d reads per 10 seconds (0: the default, %d)", MaxReadBudget, DefaultReadBudget))
	}
	s.Auth.validate(&v)
	return v.Err()
}

// ValidVaultName reports whether name follows Key Vault's rules for vault
// names.
func ValidVaultName(name string) bool {
	return vaultRule.MatchString(name) && !strings.Contains(name, "--")
}

func validResourceGroup(rg string) bool {
	if rg == "" || utf8.RuneCountInString(rg) > 90 || strings.HasSuffix(rg, ".") {
		return false
	}
	for _, r := range rg {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_-.()", r) {
			return false
		}
	}
	return true
}

// checkVaultURL returns what is wrong with the VaultURL override, or "".
func (s Settings) checkVaultURL() string {
	u, err := url.Parse(s.VaultURLOverride)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return "must be an absolute https URL such as https://myvault.vault.azure.net/"
	case u.Scheme != "https":
		return "must use https: the Azure SDK sends no token over plain HTTP"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return "must be the vault's root URL, with no path, query, user or fragment"
	}
	c, ok := clouds[s.cloud()]
	if !ok {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if label, found := strings.CutSuffix(host, c.suffix); found {
		if !strings.Contains(label, ".") && ValidVaultName(s.VaultName) && !strings.EqualFold(label, s.VaultName) {
			return fmt.Sprintf("names vault %q but vaultName is %q", label, s.VaultName)
		}
		if p := u.Port(); p != "" && p != "443" && !s.AllowCustomVaultHost {
			return fmt.Sprintf("port %s: the SDK's check of the vault's authentication challenge accepts only the default port; set allowCustomVaultHost to true to use another", p)
		}
		return ""
	}
	if !s.AllowCustomVaultHost {
		return fmt.Sprintf("host %s is outside the %s cloud's vault domain (*%s): set allowCustomVaultHost to true to use it (the SDK then no longer checks that the vault's authentication challenge belongs to that domain)", hostOnly(u), s.cloud(), c.suffix)
	}
	return ""
}

func hostOnly(u *url.URL) string {
	if h, _, err := net.SplitHostPort(u.Host); err == nil {
		return h
	}
	return u.Host
}

func (a Auth) validate(v *validation.Error) {
	const p = "settings.auth."
	if a.ClientID != "" && !uuidRule.MatchString(a.ClientID) {
		v.Add(p+"clientId", uuidMsg)
	}
	checkFile := func(field, path string) {
		if path != "" && (!filepath.IsAbs(path) || strings.ContainsRune(path, 0)) {
			v.Add(p+field, fileMsg)
		}
	}
	checkEnv := func(field, name string) {
		if name != "" && !envNameRule.MatchString(name) {
			v.Add(p+field, envMsg)
		}
	}
	checkFile("clientSecretFile", a.ClientSecretFile)
	checkFile("certificateFile", a.CertificateFile)
	checkEnv("clientSecretEnv", a.ClientSecretEnv)
	checkEnv("certificatePasswordEnv", a.CertificatePasswordEnv)

	// only lists the fields a kind does not use.
	only := func(allowed ...string) {
		for _, f := range []struct{ name, value string }{
			{"clientId", a.ClientID},
			{"clientSecretFile", a.ClientSecretFile},
			{"clientSecretEnv", a.ClientSecretEnv},
			{"certificateFile", a.CertificateFile},
			{"certificatePasswordEnv", a.CertificatePasswordEnv},
		} {
			if f.value != "" && !slices.Contains(allowed, f.name) {
				v.Add(p+f.name, fmt.Sprintf("is not used with auth kind %q", a.Kind))
			}
		}
	}
	switch a.Kind {
	case AuthDefault:
		only()
	case AuthManagedIdentity, AuthWorkloadIdentity:
		only("clientId")
	case AuthClientSecret:
		only("clientId", "clientSecretFile", "clientSecretEnv")
		if a.ClientID == "" {
			v.Add(p+"clientId", "is required with auth kind \"client-secret\"")
		}
		if (a.ClientSecretFile == "") == (a.ClientSecretEnv == "") {
			v.Add(p+"clientSecretFile", "give exactly one of clientSecretFile and clientSecretEnv")
		}
	case AuthClientCertificate:
		only("clientId", "certificateFile", "certificatePasswordEnv")
		if a.ClientID == "" {
			v.Add(p+"clientId", "is required with auth kind \"client-certificate\"")
		}
		if a.CertificateFile == "" {
			v.Add(p+"certificateFile", "is required with auth kind \"client-certificate\"")
		}
	case "":
		v.Add(p+"kind", "is required: default, managed-identity, workload-identity, client-secret or client-certificate")
	default:
		v.Add(p+"kind", "must be default, managed-identity, workload-identity, client-secret or client-certificate")
	}
}

func (s Settings) cloud() string {
	if s.Cloud == "" {
		return CloudPublic
	}
	return s.Cloud
}

// VaultURL is the vault's address: the override, or
// https://{vault}{suffix}/ for the cloud (.vault.azure.net,
// .vault.azure.cn, .vault.usgovcloudapi.net). It always ends with "/".
func (s Settings) VaultURL() string {
	if s.VaultURLOverride != "" {
		// An explicit :443 would fail the SDK's challenge check, which
		// compares host names with the port.
		u := strings.TrimSuffix(s.VaultURLOverride, "/")
		if h, ok := strings.CutSuffix(u, ":443"); ok {
			u = h
		}
		return u + "/"
	}
	return "https://" + strings.ToLower(s.VaultName) + clouds[s.cloud()].suffix + "/"
}

// Public returns the settings as the API shows them: with the cloud and
// vault URL filled in. Nothing in Settings is secret (file paths and
// variable names are not), so nothing is removed.
func (s Settings) Public() Settings {
	s.Cloud = s.cloud()
	s.VaultURLOverride = s.VaultURL()
	if s.ReadBudget == 0 {
		s.ReadBudget = DefaultReadBudget
	}
	return s
}
