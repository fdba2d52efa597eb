package solution

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/credflow/credflow/internal/solution/pkgzip"
)

// FormatVersion is the version of the package format this credflow writes
// and the only one it reads.
const FormatVersion = 1

// ManifestName is the package's table of contents.
const ManifestName = "solution.json"

// CodeUnknownFormat is a package whose formatVersion this credflow does not
// read; the other refusals of a package are pkgzip's.
const CodeUnknownFormat = "package_unknown_format"

// manifest is solution.json.
type manifest struct {
	FormatVersion int    `json:"formatVersion"`
	Name          string `json:"name"`
	Version       string `json:"version"`
	Publisher     string `json:"publisher"`
	Description   string `json:"description"`
	// Components are the package's own objects, in dependency order.
	Components []manifestEntry `json:"components"`
	// Requires are the objects the package needs and does not carry:
	// they must exist in the target, by name.
	Requires []requirement `json:"requires"`
	// WithoutValues says text values were left out; settings give them.
	WithoutValues bool `json:"withoutValues"`
}

type manifestEntry struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
	File string `json:"file"`
}

type requirement struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
}

// variableFile is a variable component. A secret variable carries its
// store's name and its reference; no file ever carries a secret's value.
type variableFile struct {
	SchemaName  string     `json:"schemaName"`
	DisplayName string     `json:"displayName"`
	Description string     `json:"description"`
	Type        string     `json:"type"`
	Value       *string    `json:"value,omitempty"`
	SecretRef   *RefFile   `json:"secretRef,omitempty"`
	FromStore   *FieldFile `json:"fromStore,omitempty"`
}

// RefFile names a secret: a store by name and a reference in it.
type RefFile struct {
	Store string `json:"store"`
	Ref   string `json:"ref"`
}

// FieldFile names one property of a store's secret.
type FieldFile struct {
	Store string `json:"store"`
	Ref   string `json:"ref"`
	Field string `json:"field"`
}

// credentialFile is a credential component; its variables by schema name.
type credentialFile struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Username    string `json:"username"`
	Password    string `json:"password"`
}

// Settings are a package's deployment settings: per variable (by schema
// name), what differs in the target environment.
type Settings struct {
	// Solution names the solution the settings are for ("" for any).
	Solution  string                      `json:"solution,omitempty"`
	Variables map[string]VariableSettings `json:"variables"`
}

// VariableSettings override one variable: a text variable's value, or a
// secret variable's store and reference. Never a secret's value.
type VariableSettings struct {
	Value     *string    `json:"value,omitempty"`
	SecretRef *RefFile   `json:"secretRef,omitempty"`
	FromStore *FieldFile `json:"fromStore,omitempty"`
}

// DecodeSettings reads a deployment-settings file strictly: unknown fields
// are refused, so that a typo does not silently keep dev's reference.
func DecodeSettings(r io.Reader) (*Settings, error) {
	var s Settings
	if err := decodeStrict(r, &s); err != nil {
		return nil, fmt.Errorf("deployment settings: %w", err)
	}
	return &s, nil
}

func decodeStrict(r io.Reader, dst any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("more than one JSON value")
	}
	return nil
}

// marshal is the one JSON encoding of package files: indented, keys in a
// fixed order, ending in a newline, so that equal content gives equal bytes.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fileName is where the component at position i (from 1) is kept: its
// position keeps the dependency order visible in a listing, its name makes
// the file findable; anything outside [A-Za-z0-9_-] becomes '-'.
func fileName(i int, kind Kind, name string) string {
	slug := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '-'
	}, name)
	return fmt.Sprintf("components/%03d-%s-%s.json", i, kind, slug)
}

// dependencyOrder sorts components: variables, then credentials, each by
// name without case.
func dependencyOrder(cs []Component) {
	rank := map[Kind]int{KindVariable: 0, KindCredential: 1}
	sort.SliceStable(cs, func(i, j int) bool {
		if rank[cs[i].Kind] != rank[cs[j].Kind] {
			return rank[cs[i].Kind] < rank[cs[j].Kind]
		}
		return strings.ToLower(cs[i].Name) < strings.ToLower(cs[j].Name)
	})
}

// readPackage checks data and returns its manifest and its files.
func readPackage(data []byte) (manifest, map[string][]byte, error) {
	files, err := pkgzip.Read(data)
	if err != nil {
		return manifest{}, nil, err
	}
	raw, ok := files[ManifestName]
	if !ok {
		return manifest{}, nil, &pkgzip.Error{Code: pkgzip.CodeInvalid, Detail: "has no " + ManifestName}
	}
	// The format version first, leniently: a newer format may have fields
	// this one does not know, and deserves its own refusal.
	var head struct {
		FormatVersion *int `json:"formatVersion"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return manifest{}, nil, &pkgzip.Error{Code: pkgzip.CodeInvalid, Entry: ManifestName, Detail: "is not a JSON object"}
	}
	if head.FormatVersion == nil || *head.FormatVersion != FormatVersion {
		got := "none"
		if head.FormatVersion != nil {
			got = fmt.Sprint(*head.FormatVersion)
		}
		return manifest{}, nil, &pkgzip.Error{Code: CodeUnknownFormat, Entry: ManifestName,
			Detail: fmt.Sprintf("has formatVersion %s; this credflow reads formatVersion %d only", got, FormatVersion)}
	}
	var m manifest
	if err := decodeStrict(bytes.NewReader(raw), &m); err != nil {
		return manifest{}, nil, &pkgzip.Error{Code: pkgzip.CodeInvalid, Entry: ManifestName, Detail: "does not match the format: " + err.Error()}
	}
	listed := map[string]bool{ManifestName: true}
	for _, e := range m.Components {
		if e.Kind != KindVariable && e.Kind != KindCredential {
			return manifest{}, nil, &pkgzip.Error{Code: pkgzip.CodeInvalid, Entry: ManifestName, Detail: fmt.Sprintf("lists a component of unknown kind %q", e.Kind)}
		}
		if _, ok := files[e.File]; !ok || listed[e.File] {
			return manifest{}, nil, &pkgzip.Error{Code: pkgzip.CodeInvalid, Entry: e.File, Detail: "is listed in " + ManifestName + " but missing, or listed twice"}
		}
		listed[e.File] = true
	}
	for name := range files {
		if !listed[name] {
			return manifest{}, nil, &pkgzip.Error{Code: pkgzip.CodeInvalid, Entry: name, Detail: "is not listed in " + ManifestName}
		}
	}
	return m, files, nil
}
