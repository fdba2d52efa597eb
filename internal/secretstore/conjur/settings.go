package conjur

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/validation"
)

// Read budget limits: Conjur publishes no rate limit, so the default only
// keeps a burst of cache misses from flooding the server.
const (
	DefaultReadBudget = 1000
	MaxReadBudget     = 100000
)

// Settings configure one Conjur store. They hold no secret: the host's API
// key is named by file path or environment variable, never given inline,
// and there is no field that would take one.
type Settings struct {
	// URL is the Conjur server's (or follower's) root URL, https only.
	URL string `json:"url"`
	// Account is the Conjur organisation account (often "conjur" or
	// "default").
	Account string `json:"account"`
	// Login is the identity credflow authenticates as: host/<host id> for a
	// host (the usual), or a user id.
	Login string `json:"login"`
	// APIKeyFile or APIKeyEnv (exactly one): where the API key is.
	APIKeyFile string `json:"apiKeyFile,omitempty"`
	APIKeyEnv  string `json:"apiKeyEnv,omitempty"`
	// CAFile (optional): PEM file of the certificates that sign Conjur's
	// TLS certificate, for a server whose CA is not among the system's
	// roots (the usual for a self-hosted appliance). It replaces the
	// system's roots.
	CAFile string `json:"caFile,omitempty"`
	// ReadBudget is the most requests credflow sends the server in any 10
	// seconds (default 1000).
	ReadBudget int `json:"readBudget,omitempty"`
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
var inlineSecret = secretstore.InlineSecret{Words: []string{"key", "password", "secret", "token"},
	Message: "the API key is never given inline; name a file (apiKeyFile) or an environment variable (apiKeyEnv) instead"}

var (
	envNameRule = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)
	accountRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

// Validate checks the settings without touching the network or the file
// system. It returns a *validation.Error listing every broken rule.
func (s Settings) Validate() error {
	var v validation.Error
	if msg := checkURL(s.URL); msg != "" {
		v.Add("settings.url", msg)
	}
	if !accountRule.MatchString(s.Account) {
		v.Add("settings.account", "must be the Conjur account name: 1-128 letters, digits, '.', '_' and '-', starting with a letter or digit")
	}
	if msg := checkLogin(s.Login); msg != "" {
		v.Add("settings.login", msg)
	}
	switch {
	case s.APIKeyFile == "" && s.APIKeyEnv == "":
		v.Add("settings.apiKeyFile", "give exactly one of apiKeyFile and apiKeyEnv")
	case s.APIKeyFile != "" && s.APIKeyEnv != "":
		v.Add("settings.apiKeyEnv", "give exactly one of apiKeyFile and apiKeyEnv, not both")
	}
	checkFile := func(field, path string) {
		if path != "" && (!filepath.IsAbs(path) || strings.ContainsRune(path, 0)) {
			v.Add("settings."+field, "must be an absolute file path")
		}
	}
	checkFile("apiKeyFile", s.APIKeyFile)
	checkFile("caFile", s.CAFile)
	if s.APIKeyEnv != "" && !envNameRule.MatchString(s.APIKeyEnv) {
		v.Add("settings.apiKeyEnv", "must be an environment variable name (letters, digits and '_', not starting with a digit)")
	}
	if s.ReadBudget < 0 || s.ReadBudget > MaxReadBudget {
		v.Add("settings.readBudget", fmt.Sprintf("must be from 1 to %d requests per 10 seconds (0: the default, %d)", MaxReadBudget, DefaultReadBudget))
	}
	return v.Err()
}

func checkURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "is required: the Conjur server's URL, such as https://conjur.example.com"
	case err != nil || u.Host == "" || u.Opaque != "":
		return "must be an absolute https URL such as https://conjur.example.com"
	case u.Scheme != "https":
		return "must use https: credflow sends the API key and access tokens only over TLS"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "must have no user, query or fragment"
	}
	return ""
}

func checkLogin(login string) string {
	switch {
	case login == "":
		return "is required: host/<host id> for a host, or a user id"
	case len(login) > 500:
		return "must be at most 500 characters"
	case strings.TrimSpace(login) != login:
		return "must not start or end with spaces"
	case strings.IndexFunc(login, unicode.IsControl) >= 0:
		return "must not contain control characters"
	case login == "host/" || strings.HasSuffix(login, "/"):
		return "must name a host or user: host/<host id>, not a policy branch"
	}
	return ""
}

// BaseURL is the server's URL without a trailing "/".
func (s Settings) BaseURL() string { return strings.TrimRight(s.URL, "/") }

// Public returns the settings as the API shows them: with the URL
// normalised and the default read budget filled in. Nothing in Settings is
// secret (file paths and variable names are not), so nothing is removed.
func (s Settings) Public() Settings {
	s.URL = s.BaseURL()
	if s.ReadBudget == 0 {
		s.ReadBudget = DefaultReadBudget
	}
	return s
}
