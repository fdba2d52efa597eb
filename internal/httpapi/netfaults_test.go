package httpapi_test

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/hcvault/fakevault"
)

// netKind is one network store kind on its fake server, seen from the HTTP
// API: how to register a store on the fake, put a secret in it, and break
// the way the store reaches the fake.
type netKind struct {
	kind  string
	admin api
	log   func() string
	// settings are a store's settings on the healthy fake.
	settings func() map[string]any
	// put stores value under a fresh secret and returns its reference.
	put func(name, value string) string
	// url is the settings field holding the store's address.
	url string
	// untrusted turns settings into ones whose TLS certificate check
	// fails: the fake's own certificate, no longer trusted.
	untrusted func(s map[string]any)
	// secrets are the store's own credentials (token, API key, secret id),
	// which no answer or log line may hold.
	secrets []string
}

func startNetKinds(t *testing.T, e metadbtest.Engine) []netKind {
	t.Helper()
	k := startKeyVault(t, e)
	// The vault client trusts only the emulator's certificate: another TLS
	// server's is not trusted.
	other := httptest.NewTLSServer(nil)
	t.Cleanup(other.Close)
	v := startVault(t, e, fakevault.Options{Namespace: "team-a", Mount: "kv"})
	cj := startConjur(t, e)
	ccp := startCCP(t, e)
	n := 0
	fresh := func(prefix string) string { n++; return fmt.Sprintf("%s%d", prefix, n) }
	return []netKind{
		{
			kind: "azure-keyvault", admin: k.admin, log: k.inst.Log, url: "vaultUrl",
			settings: func() map[string]any { return k.settings(nil) },
			put: func(_, value string) string {
				name := fresh("secret-")
				k.vault.Set(name, value)
				return kvPath(name)
			},
			// Key Vault has no CA setting (it trusts the system's roots): the
			// nearest failure is a vault URL whose server presents a
			// certificate the client does not trust.
			untrusted: func(s map[string]any) { s["vaultUrl"] = other.URL + "/" },
		},
		{
			kind: "hashicorp-vault", admin: v.admin, log: v.inst.Log, url: "address",
			settings: v.appRoleSettings,
			put: func(_, value string) string {
				path := fresh("robots/net-")
				v.vault.Put(path, map[string]string{"password": value})
				return path + "#password"
			},
			untrusted: func(s map[string]any) { delete(s, "caFile") },
			secrets:   []string{v.secretID},
		},
		{
			kind: "cyberark-conjur", admin: cj.admin, log: cj.inst.Log, url: "url",
			settings: func() map[string]any { return cj.settings(nil) },
			put: func(_, value string) string {
				id := fresh("robots/net-")
				cj.conjur.Set(id, value)
				return id
			},
			untrusted: func(s map[string]any) { delete(s, "caFile") },
			secrets:   []string{cj.key},
		},
		{
			kind: "cyberark-ccp", admin: ccp.admin, log: ccp.inst.Log, url: "url",
			settings: func() map[string]any { return ccp.settings(nil) },
			put: func(_, value string) string {
				object := fresh("net-")
				ccp.ccp.Set("Robots", "", object, value, nil)
				return object
			},
			untrusted: func(s map[string]any) { delete(s, "caFile") },
		},
	}
}

// unresolvable replaces the host of the address in field with one under
// the reserved .invalid domain, which never resolves (RFC 6761), keeping
// the scheme, port and path.
func unresolvable(t *testing.T, field string) func(map[string]any) {
	return func(s map[string]any) {
		u, err := url.Parse(fmt.Sprint(s[field]))
		if err != nil {
			t.Fatal(err)
		}
		u.Host = "credflow-store.invalid"
		if p := u.Port(); p != "" {
			u.Host += ":" + p
		}
		s[field] = u.String()
	}
}

// TestStoreDNSAndTLSFaults: for every network kind, a store whose address
// does not resolve, and one whose server presents a certificate credflow
// does not trust, fail the resolve with 503 store_unavailable saying which
// (the host that does not resolve; the certificate that failed
// verification), naming the store, holding no secret; the store check
// names the cause; the server stays healthy and another store of the same
// kind keeps serving.
func TestStoreDNSAndTLSFaults(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		for _, k := range startNetKinds(t, e) {
			for _, fault := range []struct {
				name  string
				spoil func(map[string]any)
				// words the problem's detail and the failing check step
				// must hold.
				detail, step []string
			}{
				{"dns", unresolvable(t, k.url), []string{"credflow-store.invalid", "does not resolve"}, []string{"credflow-store.invalid", "resolve"}},
				{"tls", k.untrusted, []string{"TLS", "certificate"}, []string{"certificate"}},
			} {
				t.Run(k.kind+"/"+fault.name, func(t *testing.T) {
					a := k.admin
					good, bad := k.kind+"-"+fault.name+"-good", k.kind+"-"+fault.name+"-bad"
					goodValue, badValue := "canary-good-"+good, "canary-bad-"+bad
					var answers []resp
					keep := func(r resp) resp { answers = append(answers, r); return r }
					group := "g-" + fault.name
					keep(a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": group}))
					runner := runnerIn(a, "r-"+bad, group)
					for _, st := range []struct{ store, value string }{{good, goodValue}, {bad, badValue}} {
						keep(a.must(201, "POST", "/api/v1/stores", map[string]any{"name": st.store, "kind": k.kind, "settings": k.settings(), "cacheTTL": "0s", "staleIfError": "0s"}))
						ref := k.put(st.store, st.value)
						keep(a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_" + strings.ReplaceAll(st.store, "-", "_"),
							"displayName": st.store, "type": "secret", "secretRef": map[string]string{"store": st.store, "ref": ref}}))
						keep(a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": st.store, "username": "cf_" + strings.ReplaceAll(st.store, "-", "_"),
							"password": "cf_" + strings.ReplaceAll(st.store, "-", "_")}))
						keep(a.must(201, "POST", "/api/v1/connections", map[string]any{"name": st.store, "credential": st.store, "runnerGroup": group}))
						if got := runner.must(200, "POST", "/api/v1/connections/"+st.store+"/resolve", nil).str("password"); got != st.value {
							t.Fatalf("resolve on the healthy %s: %q", st.store, got)
						}
					}

					s := k.settings()
					fault.spoil(s)
					keep(a.must(200, "PATCH", "/api/v1/stores/"+bad, map[string]any{"settings": s}))
					r := keep(runner.do("POST", "/api/v1/connections/"+bad+"/resolve", nil))
					wantProblem(t, r, 503, "store_unavailable", "")
					for _, w := range append([]string{`"` + bad + `"`}, fault.detail...) {
						if !strings.Contains(r.str("detail"), w) {
							t.Errorf("the problem does not say %q: %s", w, r.raw)
						}
					}
					c := keep(a.must(200, "POST", "/api/v1/stores/"+bad+"/check", nil))
					if c.body["ok"] != false {
						t.Errorf("check of the broken store: %s", c.raw)
					}
					if !failedStepSays(c, fault.step) {
						t.Errorf("no failing check step says %q: %s", fault.step, c.raw)
					}

					// The server stays healthy; the other store keeps serving.
					keep(a.must(200, "GET", "/healthz", nil))
					keep(a.must(200, "GET", "/readyz", nil))
					if got := runner.must(200, "POST", "/api/v1/connections/"+good+"/resolve", nil).str("password"); got != goodValue {
						t.Errorf("resolve on the healthy store during the fault: %q", got)
					}
					secrets := append([]string{goodValue, badValue}, k.secrets...)
					for _, r := range answers {
						for _, sec := range secrets {
							if sec != goodValue && strings.Contains(string(r.raw), sec) {
								t.Errorf("an answer holds a secret: %s", r.raw)
							}
						}
					}
					for _, sec := range secrets {
						if strings.Contains(k.log(), sec) {
							t.Errorf("the log holds a secret (%d bytes)", len(sec))
						}
					}
				})
			}
		}
	})
}

// failedStepSays reports whether a failing step of the check says every
// one of words.
func failedStepSays(c resp, words []string) bool {
	steps, _ := c.body["steps"].([]any)
	for _, s := range steps {
		m, _ := s.(map[string]any)
		if m["ok"] != false {
			continue
		}
		text := fmt.Sprint(m["detail"]) + " " + fmt.Sprint(m["hint"])
		all := true
		for _, w := range words {
			all = all && strings.Contains(text, w)
		}
		if all {
			return true
		}
	}
	return false
}
