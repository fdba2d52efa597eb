package builtin

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// KeySize is the length of the master key and of each data key: AES-256.
const KeySize = 32

// Purpose labels keep a wrapped key and a value ciphertext from standing in
// for each other; the v1 suffix leaves room for another format later.
const (
	purposeValue = "credflow/builtin/value/v1"
	purposeKey   = "credflow/builtin/key/v1"
	purposeKeyID = "credflow/builtin/key-id/v1"
)

// KeyID names a master key without revealing it: the first 16 hex
// characters of SHA-256 over a label and the key. It is stored on every row,
// so that a row written under another key is told apart from a damaged one.
func KeyID(key []byte) string {
	h := sha256.New()
	h.Write([]byte(purposeKeyID))
	h.Write([]byte{0})
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// associatedData binds a ciphertext to its purpose, secret name and version,
// each length-prefixed so that no two inputs encode alike. A ciphertext
// copied onto another row then fails its authentication.
func associatedData(purpose, name string, version int) []byte {
	b := make([]byte, 0, 4+len(purpose)+4+len(name)+8)
	b = binary.BigEndian.AppendUint32(b, uint32(len(purpose)))
	b = append(b, purpose...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	return binary.BigEndian.AppendUint64(b, uint64(version))
}

// newGCM returns AES-GCM that draws a random 12-byte nonce for every Seal and
// prepends it to the ciphertext (nonce || ciphertext || tag), so that no
// caller can reuse a nonce by mistake.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// encrypt makes a fresh data key, encrypts plaintext with it and wraps the
// data key with the master key, both bound to (name, version).
func encrypt(master cipher.AEAD, name string, version int, plaintext []byte) (wrappedKey, ciphertext []byte, err error) {
	dataKey := make([]byte, KeySize)
	rand.Read(dataKey)
	defer clear(dataKey)
	aead, err := newGCM(dataKey)
	if err != nil {
		return nil, nil, err
	}
	ciphertext = aead.Seal(nil, nil, plaintext, associatedData(purposeValue, name, version))
	wrappedKey = master.Seal(nil, nil, dataKey, associatedData(purposeKey, name, version))
	return wrappedKey, ciphertext, nil
}

// decrypt unwraps the data key and opens the value. The caller owns the
// returned plaintext and should clear it.
func decrypt(master cipher.AEAD, name string, version int, wrappedKey, ciphertext []byte) ([]byte, error) {
	dataKey, err := master.Open(nil, nil, wrappedKey, associatedData(purposeKey, name, version))
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	defer clear(dataKey)
	if len(dataKey) != KeySize {
		return nil, fmt.Errorf("unwrap data key: %d bytes, want %d", len(dataKey), KeySize)
	}
	aead, err := newGCM(dataKey)
	if err != nil {
		return nil, err
	}
	plaintext, err := aead.Open(nil, nil, ciphertext, associatedData(purposeValue, name, version))
	if err != nil {
		return nil, fmt.Errorf("decrypt value: %w", err)
	}
	return plaintext, nil
}

// Purposes of what a master key wraps besides data keys: another master key
// (during a rotation) and named values kept wrapped in the database.
const (
	purposeMasterKey = "credflow/builtin/master-key/v1"
	purposeWrapped   = "credflow/builtin/wrapped/v1"
)

// rewrap opens a data key wrapped under from and wraps it under to, bound
// to the same name and version; the value's ciphertext does not change.
func rewrap(from, to cipher.AEAD, name string, version int, wrappedKey []byte) ([]byte, error) {
	ad := associatedData(purposeKey, name, version)
	dataKey, err := from.Open(nil, nil, wrappedKey, ad)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	defer clear(dataKey)
	return to.Seal(nil, nil, dataKey, ad), nil
}
