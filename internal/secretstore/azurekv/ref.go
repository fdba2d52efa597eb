package azurekv

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/credflow/credflow/internal/secretstore"
)

// The reference rules, written for people; they appear in
// *secretstore.RefError.
const (
	nameRule    = "a secret name is 1-127 characters of letters, digits and '-'"
	versionRule = "a secret version is the 32-character identifier Key Vault gave it"
	refRule     = "a reference is the secret's resource path /subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.KeyVault/vaults/{vaultName}/secrets/{secretName}[/{version}], its URI https://{vaultName}.vault.azure.net/secrets/{secretName}[/{version}], or {secretName}[/{version}]"
)

var (
	secretNameRule    = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)
	secretVersionRule = regexp.MustCompile(`^[0-9A-Za-z]{32}$`)
)

// ParseRef implements secretstore.Store. It accepts, for this store's
// vault:
//
//   - the resource path Power Platform writes,
//     /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{vault}/secrets/{name}[/{version}];
//   - the secret URI the portal shows, https://{vault}.vault.azure.net/secrets/{name}[/{version}]
//     (or on the vaultUrl override's host);
//   - the short form {name}[/{version}], which Ref.String gives back.
//
// A subscription, resource group or vault other than the store's is a
// *secretstore.RefError naming both, one message for each. Vault and
// resource group names compare without regard to case, as Azure's do.
func (s *Store) ParseRef(ref string) (secretstore.Ref, error) {
	switch {
	case strings.HasPrefix(ref, "/"):
		return s.parsePath(ref)
	case hasScheme(ref):
		return s.parseURI(ref)
	}
	name, ver, _ := strings.Cut(ref, "/")
	if strings.Contains(ver, "/") {
		return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: refRule}
	}
	return checkParts(ref, name, ver, strings.Contains(ref, "/"))
}

func hasScheme(ref string) bool {
	i := strings.Index(ref, "://")
	return i > 0 && !strings.Contains(ref[:i], "/")
}

// parsePath parses a resource path.
func (s *Store) parsePath(ref string) (secretstore.Ref, error) {
	p := strings.Split(ref[1:], "/")
	if len(p) < 10 || len(p) > 11 ||
		!strings.EqualFold(p[0], "subscriptions") || !strings.EqualFold(p[2], "resourceGroups") ||
		!strings.EqualFold(p[4], "providers") || !strings.EqualFold(p[5], "Microsoft.KeyVault") ||
		!strings.EqualFold(p[6], "vaults") || !strings.EqualFold(p[8], "secrets") {
		return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: refRule}
	}
	sub, rg, vault := p[1], p[3], p[7]
	var problems []string
	if !uuidRule.MatchString(sub) {
		problems = append(problems, "the subscription id must be a GUID")
	} else if !strings.EqualFold(sub, s.settings.SubscriptionID) {
		problems = append(problems, fmt.Sprintf("the reference is in subscription %q but %s is in subscription %q", sub, s.label(), s.settings.SubscriptionID))
	}
	if !validResourceGroup(rg) {
		problems = append(problems, "the resource group "+rgMsg)
	} else if !strings.EqualFold(rg, s.settings.ResourceGroup) {
		problems = append(problems, fmt.Sprintf("the reference is in resource group %q but %s is in resource group %q", rg, s.label(), s.settings.ResourceGroup))
	}
	if !ValidVaultName(vault) {
		problems = append(problems, "the vault name "+vaultMsg)
	} else if !strings.EqualFold(vault, s.settings.VaultName) {
		problems = append(problems, fmt.Sprintf("the reference is in vault %q but %s is vault %q", vault, s.label(), s.settings.VaultName))
	}
	if len(problems) > 0 {
		return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: strings.Join(problems, "; ")}
	}
	ver := ""
	if len(p) == 11 {
		ver = p[10]
	}
	return checkParts(ref, p[9], ver, len(p) == 11)
}

// parseURI parses a secret URI on the vault's own host (the canonical
// {vault}{suffix} one, or the vaultUrl override's).
func (s *Store) parseURI(ref string) (secretstore.Ref, error) {
	u, err := url.Parse(ref)
	if err != nil || u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Host == "" {
		return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: refRule}
	}
	host := strings.ToLower(u.Host)
	if h, ok := strings.CutSuffix(host, ":443"); ok {
		host = h
	}
	own, _ := url.Parse(s.vaultURL)
	canonical := strings.ToLower(s.settings.VaultName) + clouds[s.settings.cloud()].suffix
	if host != strings.ToLower(strings.TrimSuffix(own.Host, ":443")) && host != canonical {
		rule := fmt.Sprintf("the reference points at host %q but %s reads vault %q at %s", host, s.label(), s.settings.VaultName, s.vaultURL)
		for _, c := range clouds {
			if label, ok := strings.CutSuffix(host, c.suffix); ok && ValidVaultName(label) {
				rule = fmt.Sprintf("the reference is in vault %q but %s is vault %q", label, s.label(), s.settings.VaultName)
				if c.suffix != clouds[s.settings.cloud()].suffix {
					rule = fmt.Sprintf("the reference is in vault %q of another Azure cloud (%s) but %s is vault %q in the %s cloud", label, c.suffix[1:], s.label(), s.settings.VaultName, s.settings.cloud())
				}
			}
		}
		return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: rule}
	}
	p := strings.Split(strings.TrimSuffix(strings.TrimPrefix(u.Path, "/"), "/"), "/")
	if len(p) < 2 || len(p) > 3 || p[0] != "secrets" {
		return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: refRule}
	}
	ver := ""
	if len(p) == 3 {
		ver = p[2]
	}
	return checkParts(ref, p[1], ver, len(p) == 3)
}

// checkParts validates a secret name and version; pinned says a version
// was written (an empty one is then an error).
func checkParts(ref, name, ver string, pinned bool) (secretstore.Ref, error) {
	if !secretNameRule.MatchString(name) {
		return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: nameRule}
	}
	if pinned && !secretVersionRule.MatchString(ver) {
		return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: versionRule}
	}
	return secretstore.Ref{Name: name, Version: ver}, nil
}

// checkRef validates a Ref a caller built.
func checkRef(ref secretstore.Ref) error {
	_, err := checkParts(ref.String(), ref.Name, ref.Version, ref.Version != "")
	return err
}

// RefFromFields builds the resource path of a secret from its parts, as
// the API accepts them (secretVersion may be empty: the latest at each
// read). Each part is checked for syntax; whether the vault is the store's
// is for ParseRef to say. Errors are *secretstore.RefError naming the
// field.
func RefFromFields(subscriptionID, resourceGroup, vaultName, secretName, secretVersion string) (string, error) {
	var problems []string
	if !uuidRule.MatchString(subscriptionID) {
		problems = append(problems, "subscriptionId "+uuidMsg)
	}
	if !validResourceGroup(resourceGroup) {
		problems = append(problems, "resourceGroup "+rgMsg)
	}
	if !ValidVaultName(vaultName) {
		problems = append(problems, "vaultName "+vaultMsg)
	}
	if !secretNameRule.MatchString(secretName) {
		problems = append(problems, "secretName: "+nameRule)
	}
	if secretVersion != "" && !secretVersionRule.MatchString(secretVersion) {
		problems = append(problems, "secretVersion: "+versionRule)
	}
	path := ResourcePath(subscriptionID, resourceGroup, vaultName, secretstore.Ref{Name: secretName, Version: secretVersion})
	if len(problems) > 0 {
		return "", &secretstore.RefError{Ref: path, Rule: strings.Join(problems, "; ")}
	}
	return path, nil
}

// ResourcePath is the resource path of a secret (with its version when
// pinned), as Power Platform writes it.
func ResourcePath(subscriptionID, resourceGroup, vaultName string, ref secretstore.Ref) string {
	p := "/subscriptions/" + subscriptionID + "/resourceGroups/" + resourceGroup +
		"/providers/Microsoft.KeyVault/vaults/" + vaultName + "/secrets/" + ref.Name
	if ref.Version != "" {
		p += "/" + ref.Version
	}
	return p
}

// ResourcePath is the resource path of a secret of this store's vault, for
// messages such as "User is not authorized to read secrets from '<path>'".
func (s *Store) ResourcePath(ref secretstore.Ref) string {
	return ResourcePath(s.settings.SubscriptionID, s.settings.ResourceGroup, s.settings.VaultName, ref)
}

// label names the store in messages.
func (s *Store) label() string {
	if s.name == "" {
		return "this store"
	}
	return fmt.Sprintf("store %q", s.name)
}

// refFields are the names RefFromFields accepts.
var refFields = map[string]bool{"subscriptionId": true, "resourceGroup": true, "vaultName": true, "secretName": true, "secretVersion": true}

// RefFromFields implements secretstore.FieldRefs: the Power Platform path of
// the secret the fields name. The subscription, resource group and vault
// default to the store's own; ParseRef then checks them against the store.
func (s *Store) RefFromFields(fields map[string]string) (string, error) {
	for k := range fields {
		if !refFields[k] {
			return "", &secretstore.RefError{Ref: k, Rule: "the fields of a Key Vault reference are subscriptionId, resourceGroup, vaultName, secretName and secretVersion"}
		}
	}
	get := func(k, def string) string {
		if v := fields[k]; v != "" {
			return v
		}
		return def
	}
	return RefFromFields(get("subscriptionId", s.settings.SubscriptionID), get("resourceGroup", s.settings.ResourceGroup),
		get("vaultName", s.settings.VaultName), fields["secretName"], fields["secretVersion"])
}

// DisplayRef implements secretstore.RefDisplayer: the secret's resource path.
func (s *Store) DisplayRef(ref secretstore.Ref) string { return s.ResourcePath(ref) }
