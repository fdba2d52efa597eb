package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

// File is a configuration file (YAML): its keys are the names of `credflow
// serve`'s flags, and a key that is absent leaves the value it would have
// had. Secrets are never written in it: the database URL may not hold a
// password, and keys are named by file (master-key-file,
// eventgrid-key-file, tls-key-file) or come from the environment.
type File struct {
	Addr                    *string        `yaml:"addr"`
	DataDir                 *string        `yaml:"data-dir"`
	Database                *string        `yaml:"database"`
	MasterKeyFile           *string        `yaml:"master-key-file"`
	Prefix                  *string        `yaml:"prefix"`
	TLSCertFile             *string        `yaml:"tls-cert-file"`
	TLSKeyFile              *string        `yaml:"tls-key-file"`
	OIDCIssuer              *string        `yaml:"oidc-issuer"`
	OIDCAudience            *string        `yaml:"oidc-audience"`
	OIDCUserClaim           *string        `yaml:"oidc-user-claim"`
	OIDCGroupsClaim         *string        `yaml:"oidc-groups-claim"`
	OIDCAutoCreate          *bool          `yaml:"oidc-auto-create"`
	OIDCRedirectURL         *string        `yaml:"oidc-redirect-url"`
	OIDCClientSecretFile    *string        `yaml:"oidc-client-secret-file"`
	PprofAddr               *string        `yaml:"pprof-addr"`
	AuditCheckpointFile     *string        `yaml:"audit-checkpoint-file"`
	AuditCheckpointRecords  *int64         `yaml:"audit-checkpoint-records"`
	AuditCheckpointInterval *time.Duration `yaml:"audit-checkpoint-interval"`
	MaxFailedSignIns        *int           `yaml:"max-failed-signins"`
	EventGridKeyFile        *string        `yaml:"eventgrid-key-file"`
	EventGridEntraIssuer    *string        `yaml:"eventgrid-entra-issuer"`
	EventGridEntraAudience  *string        `yaml:"eventgrid-entra-audience"`
	LogFormat               *string        `yaml:"log-format"`
	LogLevel                *string        `yaml:"log-level"`
	AccessLog               *bool          `yaml:"access-log"`
	MetricsAddr             *string        `yaml:"metrics-addr"`
	MaxRequestBody          *int64         `yaml:"max-request-body"`
	CacheMaxEntries         *int           `yaml:"cache-max-entries"`
	StoreCallTimeout        *time.Duration `yaml:"store-call-timeout"`
	StoreMaxCalls           *int           `yaml:"store-max-calls"`
	EventQueue              *int           `yaml:"event-queue"`
	ReadTimeout             *time.Duration `yaml:"read-timeout"`
	WriteTimeout            *time.Duration `yaml:"write-timeout"`
	IdleTimeout             *time.Duration `yaml:"idle-timeout"`
	ShutdownTimeout         *time.Duration `yaml:"shutdown-timeout"`
}

// Apply overrides c with the keys the file gives.
func (f File) Apply(c *Config) {
	set(&c.Addr, f.Addr)
	set(&c.DataDir, f.DataDir)
	set(&c.Database, f.Database)
	set(&c.MasterKeyFile, f.MasterKeyFile)
	set(&c.Prefix, f.Prefix)
	set(&c.TLSCertFile, f.TLSCertFile)
	set(&c.TLSKeyFile, f.TLSKeyFile)
	set(&c.OIDCIssuer, f.OIDCIssuer)
	set(&c.OIDCAudience, f.OIDCAudience)
	set(&c.OIDCUserClaim, f.OIDCUserClaim)
	set(&c.OIDCGroupsClaim, f.OIDCGroupsClaim)
	set(&c.OIDCAutoCreate, f.OIDCAutoCreate)
	set(&c.PprofAddr, f.PprofAddr)
	set(&c.AuditCheckpointFile, f.AuditCheckpointFile)
	set(&c.AuditCheckpointRecords, f.AuditCheckpointRecords)
	set(&c.AuditCheckpointInterval, f.AuditCheckpointInterval)
	set(&c.MaxFailedSignIns, f.MaxFailedSignIns)
	set(&c.EventGridKeyFile, f.EventGridKeyFile)
	set(&c.EventGridEntraIssuer, f.EventGridEntraIssuer)
	set(&c.EventGridEntraAudience, f.EventGridEntraAudience)
	set(&c.OIDCRedirectURL, f.OIDCRedirectURL)
	set(&c.OIDCClientSecretFile, f.OIDCClientSecretFile)
	set(&c.LogFormat, f.LogFormat)
	set(&c.LogLevel, f.LogLevel)
	set(&c.AccessLog, f.AccessLog)
	set(&c.MetricsAddr, f.MetricsAddr)
	set(&c.Limits.MaxRequestBody, f.MaxRequestBody)
	set(&c.Limits.CacheMaxEntries, f.CacheMaxEntries)
	set(&c.Limits.StoreCallTimeout, f.StoreCallTimeout)
	set(&c.Limits.StoreMaxCalls, f.StoreMaxCalls)
	set(&c.Limits.EventQueue, f.EventQueue)
	set(&c.Limits.ReadTimeout, f.ReadTimeout)
	set(&c.Limits.WriteTimeout, f.WriteTimeout)
	set(&c.Limits.IdleTimeout, f.IdleTimeout)
	set(&c.Limits.ShutdownTimeout, f.ShutdownTimeout)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// FileKeys lists the keys a configuration file may hold.
func FileKeys() []string {
	t := reflect.TypeFor[File]()
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		keys = append(keys, t.Field(i).Tag.Get("yaml"))
	}
	return keys
}

// inlineSecrets are keys someone might try for a secret itself, and where
// the secret goes instead.
var inlineSecrets = map[string]string{
	"master-key":    "master-key-file (or $" + EnvMasterKeyFile + ")",
	"eventgrid-key": "eventgrid-key-file, or $" + EnvEventGridKey,
	"tls-key":       "tls-key-file",
	"token":         "nothing: the server takes no token; clients use $CREDFLOW_TOKEN",
	"password":      "the database's password in $PGPASSWORD or a PostgreSQL password file",
}

// LoadFile reads and decodes the configuration file at path (ParseFile).
func LoadFile(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("config file: %w", err)
	}
	return ParseFile(data)
}

// ParseFile decodes a configuration file strictly: an unknown or repeated
// key, a value of the wrong type and a secret written inline are refused,
// each as its own error naming the line (errors.Join, one per line).
func ParseFile(data []byte) (File, error) {
	var f File
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return f, err
	}
	if len(doc.Content) == 0 {
		return f, nil // an empty file changes nothing
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return f, fmt.Errorf("line %d: the file must be a mapping of keys to values (key: value)", root.Line)
	}
	var problems []error
	known := FileKeys()
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch where, secret := inlineSecrets[k.Value]; {
		case secret:
			problems = append(problems, fmt.Errorf("line %d: %s: secrets are not written in the configuration file; use %s", k.Line, k.Value, where))
		case !slices.Contains(known, k.Value):
			problems = append(problems, fmt.Errorf("line %d: unknown key %q (the keys are the serve flags' names, such as data-dir)", k.Line, k.Value))
		case v.Kind != yaml.ScalarNode:
			problems = append(problems, fmt.Errorf("line %d: %s: want a single value", v.Line, k.Value))
		case k.Value == "database" && hasPassword(v.Value):
			problems = append(problems, fmt.Errorf("line %d: database: the URL holds a password; give it in $PGPASSWORD or a PostgreSQL password file, or the whole URL in $%s", v.Line, EnvDatabase))
		}
	}
	if len(problems) > 0 {
		return f, errors.Join(problems...)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				problems = append(problems, errors.New(e))
			}
			return File{}, errors.Join(problems...)
		}
		return File{}, err
	}
	return f, nil
}

// hasPassword reports whether a database URL holds a password, in its user
// information or as a password parameter.
func hasPassword(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil {
		return strings.Contains(dsn, "@") // unparseable: assume the worst
	}
	if _, ok := u.User.Password(); ok {
		return true
	}
	return u.Query().Has("password")
}
