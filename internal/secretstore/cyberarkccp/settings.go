package cyberarkccp

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/validation"
)

// Defaults.
const (
	DefaultFolder  = "Root"
	DefaultPath    = "AIMWebService"
	DefaultTimeout = 10 * time.Second
	MaxTimeout     = 5 * time.Minute
)

// Settings configure one CCP store. They hold no secret: the client
// certificate's private key is named by file path, never given inline, and
// there is no field that would take one.
type Settings struct {
	// URL is CCP's address, https://host[:port], with no path.
	URL string `json:"url"`
	// AppID is the Application defined in the Vault for credflow.
	AppID string `json:"appId"`
	// Safe is the safe of references that name no safe.
	Safe string `json:"safe,omitempty"`
	// Folder is the folder of references that name none (default Root).
	Folder string `json:"folder,omitempty"`
	// ClientCertFile and ClientKeyFile are PEM files of the client
	// certificate CCP authenticates credflow's Application with.
	ClientCertFile string `json:"clientCertFile"`
	ClientKeyFile  string `json:"clientKeyFile"`
	// CAFile (optional) is a PEM bundle of the CAs CCP's server
	// certificate chains to; default: the system's roots.
	CAFile string `json:"caFile,omitempty"`
	// Path is the web service's virtual directory (default AIMWebService).
	Path string `json:"path,omitempty"`
	// Timeout bounds one request to CCP (default 10s).
	Timeout string `json:"timeout,omitempty"`
}

// DecodeSettings decodes raw strictly (unknown fields, repeated fields,
// trailing data and wrong types are errors) and validates the result.
// Errors are *validation.Error naming fields as settings.<field>; they
// never repeat the input.
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
var inlineSecret = secretstore.InlineSecret{Words: []string{"key", "password", "cert"},
	Message: "the client certificate and its key are never given inline; name their files in clientCertFile and clientKeyFile"}

const fileMsg = "must be an absolute file path"

var pathRule = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)

// Validate checks the settings without touching the network or the file
// system. It returns a *validation.Error listing every broken rule.
func (s Settings) Validate() error {
	var v validation.Error
	if msg := checkURL(s.URL); msg != "" {
		v.Add("settings.url", msg)
	}
	switch {
	case strings.TrimSpace(s.AppID) == "":
		v.Add("settings.appId", "is required: the Application ID defined for credflow in the Vault")
	case len(s.AppID) > 100 || strings.ContainsFunc(s.AppID, unicode.IsControl) || strings.ContainsAny(s.AppID, ";&%+"):
		v.Add("settings.appId", "must be 1-100 characters, without control characters or ';', '&', '%', '+'")
	}
	for _, f := range []struct{ field, value string }{{"safe", s.Safe}, {"folder", s.Folder}} {
		if f.value != "" && (len(f.value) > 256 || strings.ContainsFunc(f.value, unicode.IsControl) || strings.Contains(f.value, ";")) {
			v.Add("settings."+f.field, "must be at most 256 characters, without control characters or ';'")
		}
	}
	checkFile := func(field, path string, required bool) {
		switch {
		case path == "" && required:
			v.Add("settings."+field, "is required: "+fileMsg)
		case path != "" && (!filepath.IsAbs(path) || strings.ContainsRune(path, 0)):
			v.Add("settings."+field, fileMsg)
		}
	}
	checkFile("clientCertFile", s.ClientCertFile, true)
	checkFile("clientKeyFile", s.ClientKeyFile, true)
	checkFile("caFile", s.CAFile, false)
	if s.Path != "" {
		if p := strings.Trim(s.Path, "/"); !pathRule.MatchString(p) || strings.Contains(p, "..") {
			v.Add("settings.path", "must be the web service's virtual directory, such as AIMWebService")
		}
	}
	if s.Timeout != "" {
		d, err := time.ParseDuration(s.Timeout)
		if err != nil || d <= 0 || d > MaxTimeout {
			v.Add("settings.timeout", fmt.Sprintf("must be a duration such as 10s, above zero and at most %s", MaxTimeout))
		}
	}
	return v.Err()
}

func checkURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "is required: CCP's address, such as https://ccp.example.com"
	case err != nil || u.Host == "" || u.Opaque != "":
		return "must be an absolute https URL such as https://ccp.example.com"
	case u.Scheme != "https":
		return "must use https: CCP authenticates credflow by its client certificate, over TLS"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return "must be CCP's root URL, with no path, query, user or fragment (the virtual directory goes in path)"
	}
	return ""
}

func (s Settings) folder() string {
	if s.Folder == "" {
		return DefaultFolder
	}
	return s.Folder
}

func (s Settings) path() string {
	if s.Path == "" {
		return DefaultPath
	}
	return strings.Trim(s.Path, "/")
}

func (s Settings) timeout() time.Duration {
	if d, err := time.ParseDuration(s.Timeout); err == nil && d > 0 {
		return d
	}
	return DefaultTimeout
}

// Endpoint is the GetPassword address: {url}/{path}/api/Accounts.
func (s Settings) Endpoint() string {
	return strings.TrimSuffix(s.URL, "/") + "/" + s.path() + "/api/Accounts"
}

// Public returns the settings as the API shows them, with the defaults
// filled in. Nothing in Settings is secret (file paths are not).
func (s Settings) Public() Settings {
	s.URL = strings.TrimSuffix(s.URL, "/")
	s.Folder = s.folder()
	s.Path = s.path()
	s.Timeout = s.timeout().String()
	return s
}
