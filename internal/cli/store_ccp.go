package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/pflag"
)

const kindCCP = "cyberark-ccp"

// ccpFlags build the settings of a CyberArk CCP store. They carry a ccp-
// prefix: other kinds have a URL, a CA file and a timeout of their own.
type ccpFlags struct {
	settings ccpSettings
}

// ccpSettings is the settings object of the cyberark-ccp kind, with only
// the fields that were given.
type ccpSettings struct {
	URL            string `json:"url,omitempty"`
	AppID          string `json:"appId,omitempty"`
	Safe           string `json:"safe,omitempty"`
	Folder         string `json:"folder,omitempty"`
	ClientCertFile string `json:"clientCertFile,omitempty"`
	ClientKeyFile  string `json:"clientKeyFile,omitempty"`
	CAFile         string `json:"caFile,omitempty"`
	Path           string `json:"path,omitempty"`
	Timeout        string `json:"timeout,omitempty"`
}

var ccpFlagNames = []string{"ccp-url", "ccp-app-id", "ccp-safe", "ccp-folder", "ccp-client-cert-file", "ccp-client-key-file", "ccp-ca-file", "ccp-path", "ccp-timeout"}

func (c *ccpFlags) add(fl *pflag.FlagSet) {
	s := &c.settings
	fl.StringVar(&s.URL, "ccp-url", "", "CyberArk CCP: the Central Credential Provider's address, https://host[:port]")
	fl.StringVar(&s.AppID, "ccp-app-id", "", "CyberArk CCP: the Application ID defined for credflow in the Vault")
	fl.StringVar(&s.Safe, "ccp-safe", "", "CyberArk CCP: the safe of references that name none")
	fl.StringVar(&s.Folder, "ccp-folder", "", "CyberArk CCP: the folder of references that name none (default Root)")
	fl.StringVar(&s.ClientCertFile, "ccp-client-cert-file", "", "CyberArk CCP: absolute path, on the server, of the client certificate (PEM)")
	fl.StringVar(&s.ClientKeyFile, "ccp-client-key-file", "", "CyberArk CCP: absolute path, on the server, of the client certificate's private key (PEM)")
	fl.StringVar(&s.CAFile, "ccp-ca-file", "", "CyberArk CCP: absolute path, on the server, of the CA bundle CCP's certificate chains to (default: the system's roots)")
	fl.StringVar(&s.Path, "ccp-path", "", "CyberArk CCP: the web service's virtual directory (default AIMWebService)")
	fl.StringVar(&s.Timeout, "ccp-timeout", "", "CyberArk CCP: how long one request may take (default 10s)")
}

// changed returns the first CCP flag given, or "".
func (c *ccpFlags) changed(fl *pflag.FlagSet) string {
	for _, name := range ccpFlagNames {
		if fl.Changed(name) {
			return name
		}
	}
	return ""
}

// build returns the settings object of the flags given; the server checks
// that it is complete.
func (c *ccpFlags) build() (json.RawMessage, error) {
	b, err := json.Marshal(c.settings)
	if err != nil {
		return nil, fmt.Errorf("build the CCP settings: %w", err)
	}
	return b, nil
}
