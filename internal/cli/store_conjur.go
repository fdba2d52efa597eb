package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/pflag"
)

const kindConjur = "cyberark-conjur"

// conjurFlags build the settings of a CyberArk Conjur store, so that
// nobody has to write its JSON. They carry a conjur- prefix: other kinds
// have a URL, a login and a CA file of their own.
type conjurFlags struct {
	settings conjurSettings
}

// conjurSettings is the settings object of the cyberark-conjur kind, with
// only the fields that were given.
type conjurSettings struct {
	URL        string `json:"url,omitempty"`
	Account    string `json:"account,omitempty"`
	Login      string `json:"login,omitempty"`
	APIKeyFile string `json:"apiKeyFile,omitempty"`
	APIKeyEnv  string `json:"apiKeyEnv,omitempty"`
	CAFile     string `json:"caFile,omitempty"`
}

var conjurFlagNames = []string{"conjur-url", "conjur-account", "conjur-login", "conjur-api-key-file", "conjur-api-key-env", "conjur-ca-file"}

func (c *conjurFlags) add(fl *pflag.FlagSet) {
	s := &c.settings
	fl.StringVar(&s.URL, "conjur-url", "", "Conjur: the server's URL, https://... (a follower's, to spread the reads)")
	fl.StringVar(&s.Account, "conjur-account", "", "Conjur: the organisation account, e.g. conjur")
	fl.StringVar(&s.Login, "conjur-login", "", "Conjur: the identity credflow signs in as, host/<host id>")
	fl.StringVar(&s.APIKeyFile, "conjur-api-key-file", "", "Conjur: absolute path, on the server, of the file holding the host's API key")
	fl.StringVar(&s.APIKeyEnv, "conjur-api-key-env", "", "Conjur: name of the server's environment variable holding the host's API key")
	fl.StringVar(&s.CAFile, "conjur-ca-file", "", "Conjur: absolute path, on the server, of the PEM file of the CA that signs Conjur's certificate")
}

// changed returns the first Conjur flag given, or "".
func (c *conjurFlags) changed(fl *pflag.FlagSet) string {
	for _, name := range conjurFlagNames {
		if fl.Changed(name) {
			return name
		}
	}
	return ""
}

// build returns the settings object of the flags given; the server checks
// that it is complete.
func (c *conjurFlags) build() (json.RawMessage, error) {
	b, err := json.Marshal(c.settings)
	if err != nil {
		return nil, fmt.Errorf("build the Conjur settings: %w", err)
	}
	return b, nil
}
