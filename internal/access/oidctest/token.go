package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// Key is a signing key and the key id it is published and signs under.
type Key struct {
	id     string
	alg    jose.SignatureAlgorithm
	signer crypto.Signer
}

// NewRSAKey returns a 2048-bit RSA key that signs RS256 under key id kid.
func NewRSAKey(t testing.TB, kid string) *Key {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	return &Key{id: kid, alg: jose.RS256, signer: k}
}

// NewECKey returns a P-256 key that signs ES256 under key id kid.
func NewECKey(t testing.TB, kid string) *Key {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	return &Key{id: kid, alg: jose.ES256, signer: k}
}

// NewEdKey returns an Ed25519 key that signs EdDSA under key id kid.
func NewEdKey(t testing.TB, kid string) *Key {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	return &Key{id: kid, alg: jose.EdDSA, signer: k}
}

// ID is the key id k is published and signs under.
func (k *Key) ID() string { return k.id }

// WithID returns the same key material under key id kid; "" signs tokens
// whose header has no kid. Signing with another published key's id makes a
// token that names one key and is signed by another.
func (k *Key) WithID(kid string) *Key {
	c := *k
	c.id = kid
	return &c
}

// Public is k's public key.
func (k *Key) Public() crypto.PublicKey { return k.signer.Public() }

func (k *Key) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.signer.Public(), KeyID: k.id, Algorithm: string(k.alg), Use: "sig"}
}

// Sign returns claims as a compact JWS signed by k, with typ JWT and k's key
// id in the header. Signing with a key the provider does not publish gives
// an unknown-kid token.
func (k *Key) Sign(t testing.TB, claims Claims) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("oidctest: marshal claims: %v", err)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.id != "" {
		opts = opts.WithHeader("kid", k.id)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.signer}, opts)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatalf("oidctest: sign: %v", err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	return raw
}

// PublicDER is k's public key as PKIX DER.
func (k *Key) PublicDER(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.signer.Public())
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	return der
}

// PublicPEM is k's public key as a PEM "PUBLIC KEY" block: what an attacker
// most often uses as the HMAC secret of an algorithm-confusion forgery.
func (k *Key) PublicPEM(t testing.TB) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: k.PublicDER(t)})
}

// HS256WithPublicKey returns claims signed with HS256 keyed by k's public
// key PEM, under k's key id: the algorithm-confusion forgery, which passes a
// verifier that lets the token choose its algorithm.
func (k *Key) HS256WithPublicKey(t testing.TB, claims Claims) string {
	t.Helper()
	h := map[string]any{"alg": "HS256", "typ": "JWT"}
	if k.id != "" {
		h["kid"] = k.id
	}
	return Forge(t, h, claims, HS256(k.PublicPEM(t)))
}

// Forge returns the compact JWT header.payload.signature built by hand, so
// that header and signature can be anything: the signature is sign applied
// to the signing input (header.payload), or empty when sign is nil.
func Forge(t testing.TB, header map[string]any, claims Claims, sign func(signingInput []byte) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatalf("oidctest: marshal header: %v", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("oidctest: marshal claims: %v", err)
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64.EncodeToString(sig)
}

var b64 = base64.RawURLEncoding

// HS256 returns a signing function for Forge: HMAC-SHA256 keyed with secret.
func HS256(secret []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil)
	}
}

// AlgNone returns claims as an unsigned token: alg "none" and an empty
// signature.
func AlgNone(t testing.TB, claims Claims) string {
	t.Helper()
	return Forge(t, map[string]any{"alg": "none", "typ": "JWT"}, claims, nil)
}

// TamperClaims returns token with its payload replaced by claims, keeping the
// original header and signature: a signature that no longer matches.
func TamperClaims(t testing.TB, token string, claims Claims) string {
	t.Helper()
	seg := split(t, token)
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("oidctest: marshal claims: %v", err)
	}
	return seg[0] + "." + b64.EncodeToString(c) + "." + seg[2]
}

// TamperSignature returns token with one bit of its signature flipped. The
// bit is in the decoded signature, not in its base64 text, whose last
// character may carry bits that decoding ignores.
func TamperSignature(t testing.TB, token string) string {
	t.Helper()
	seg := split(t, token)
	sig, err := b64.DecodeString(seg[2])
	if err != nil || len(sig) == 0 {
		t.Fatalf("oidctest: token has no signature to tamper with")
	}
	sig[0] ^= 1
	return seg[0] + "." + seg[1] + "." + b64.EncodeToString(sig)
}

func split(t testing.TB, token string) []string {
	t.Helper()
	seg := strings.Split(token, ".")
	if len(seg) != 3 {
		t.Fatalf("oidctest: not a compact JWT: %d segments", len(seg))
	}
	return seg
}
