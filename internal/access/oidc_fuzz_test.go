package access_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/access/oidctest"
)

// FuzzOIDCVerify signs any claims set with the provider's real key, and
// also hands the raw input over as a token: Verify never panics, refuses
// with ErrUnauthenticated, and what it accepts names a user and expires.
func FuzzOIDCVerify(f *testing.F) {
	key := oidctest.NewRSAKey(f, "rsa-1")
	idp := oidctest.New(f, key)
	o, err := access.NewOIDC(context.Background(), access.OIDCConfig{Issuer: idp.Issuer(), Audience: oidctest.Audience, HTTPClient: idp.Client()})
	if err != nil {
		f.Fatal(err)
	}
	valid, err := json.Marshal(idp.Claims(time.Now()))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(valid), `{}`, `{"iss":1}`, `{"aud":[1,2]}`, `{"exp":"soon"}`, `{"groups":{"a":1}}`, `eyJhbGciOiJub25lIn0.e30.`, `a.b.c`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		check := func(raw string) {
			id, err := o.Verify(context.Background(), raw)
			if err != nil {
				if !errors.Is(err, access.ErrUnauthenticated) {
					t.Fatalf("Verify: %v, want ErrUnauthenticated", err)
				}
				return
			}
			if id.Name == "" || id.ExpiresAt.IsZero() {
				t.Fatalf("accepted a token naming nobody or never expiring: %+v", id)
			}
		}
		check(string(in))
		var claims map[string]any
		if json.Unmarshal(in, &claims) == nil && claims != nil {
			check(key.Sign(t, claims))
		}
	})
}
