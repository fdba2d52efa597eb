package builtin

import (
	"bytes"
	"crypto/rand"
	"testing"
)

func TestAssociatedDataIsUnambiguous(t *testing.T) {
	inputs := []struct {
		purpose, name string
		version       int
	}{
		{purposeValue, "ab", 1},
		{purposeValue, "a", 1},
		{purposeValue + "a", "b", 1},
		{purposeKey, "ab", 1},
		{purposeValue, "ab", 2},
		{purposeValue, "ab", 1 << 32},
	}
	seen := map[string]int{}
	for i, in := range inputs {
		ad := string(associatedData(in.purpose, in.name, in.version))
		if j, ok := seen[ad]; ok {
			t.Errorf("inputs %d and %d encode alike", j, i)
		}
		seen[ad] = i
	}
}

func TestEncryptDecrypt(t *testing.T) {
	key := make([]byte, KeySize)
	rand.Read(key)
	master, err := newGCM(key)
	if err != nil {
		t.Fatal(err)
	}
	plaintext := []byte("hunter2")
	wrapped, ct, err := encrypt(master, "db", 3, plaintext)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, plaintext) || bytes.Contains(wrapped, plaintext) {
		t.Fatal("ciphertext holds the plaintext")
	}
	got, err := decrypt(master, "db", 3, wrapped, ct)
	if err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("decrypt: %q, %v", got, err)
	}

	wrapped2, ct2, err := encrypt(master, "db", 3, plaintext)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(wrapped, wrapped2) || bytes.Equal(ct, ct2) {
		t.Fatal("two encryptions of one value are alike: nonce or data key reused")
	}

	otherKey := make([]byte, KeySize)
	rand.Read(otherKey)
	other, err := newGCM(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		label       string
		master      []byte
		name        string
		version     int
		wrapped, ct []byte
	}{
		{"other name", key, "db2", 3, wrapped, ct},
		{"other version", key, "db", 4, wrapped, ct},
		{"other master key", otherKey, "db", 3, wrapped, ct},
		{"wrapped key and value swapped", key, "db", 3, ct, wrapped},
		{"value from another encryption", key, "db", 3, wrapped, ct2},
		{"empty value", key, "db", 3, wrapped, nil},
		{"empty wrapped key", key, "db", 3, nil, ct},
	} {
		t.Run(tc.label, func(t *testing.T) {
			m := master
			if bytes.Equal(tc.master, otherKey) {
				m = other
			}
			if got, err := decrypt(m, tc.name, tc.version, tc.wrapped, tc.ct); err == nil {
				t.Fatalf("decrypt succeeded: %q", got)
			}
		})
	}
}

func TestKeyID(t *testing.T) {
	a, b := make([]byte, KeySize), make([]byte, KeySize)
	b[0] = 1
	if len(KeyID(a)) != 16 || KeyID(a) == KeyID(b) || KeyID(a) != KeyID(bytes.Clone(a)) {
		t.Fatalf("KeyID: %s, %s", KeyID(a), KeyID(b))
	}
}
