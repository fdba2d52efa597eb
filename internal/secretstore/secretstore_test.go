package secretstore_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
)

func TestValueRedactsItself(t *testing.T) {
	const raw = "correct-horse-battery-staple"
	v := secretstore.NewValue(raw)
	s := secretstore.Secret{Value: v, Meta: secretstore.Meta{Version: "3"}}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%10s"} {
		fmt.Fprintf(&out, verb+"\n", v)
		fmt.Fprintf(&out, verb+"\n", s)
	}
	fmt.Fprintln(&out, v, s, &s)
	j, _ := json.Marshal(s)
	out.Write(j)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "value", v, "secret", s)
	slog.New(slog.NewTextHandler(&out, nil)).Info("x", "value", v)
	if strings.Contains(out.String(), raw) || strings.Contains(out.String(), fmt.Sprintf("%x", raw)) {
		t.Fatalf("value leaked:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "[redacted]") {
		t.Fatal("no redaction marker printed")
	}
	if v.Reveal() != raw || v.Len() != len(raw) || v.IsZero() {
		t.Error("Reveal/Len/IsZero")
	}
}

func TestErrorsMatchTheirSentinels(t *testing.T) {
	thr := fmt.Errorf("read: %w", &secretstore.ThrottledError{RetryAfter: 2 * time.Second})
	if !errors.Is(thr, secretstore.ErrThrottled) {
		t.Error("ThrottledError does not match ErrThrottled")
	}
	ref := fmt.Errorf("save: %w", &secretstore.RefError{Ref: "x y", Rule: "no spaces"})
	if !errors.Is(ref, secretstore.ErrInvalidRef) || !strings.Contains(ref.Error(), "no spaces") {
		t.Error("RefError does not match ErrInvalidRef")
	}
}

func TestRegistry(t *testing.T) {
	r := secretstore.NewRegistry()
	r.Add(secretstore.Info{ID: "id-1", Name: "Local", Kind: "builtin"}, nil)
	r.Add(secretstore.Info{ID: "id-2", Name: "azure", Kind: "azure-keyvault"}, nil)
	for _, key := range []string{"local", "LOCAL", "id-1"} {
		if _, info, err := r.Lookup(key); err != nil || info.ID != "id-1" {
			t.Errorf("Lookup(%q) = %v, %v", key, info, err)
		}
	}
	if _, _, err := r.Lookup("nope"); !errors.Is(err, secretstore.ErrStoreNotFound) {
		t.Errorf("Lookup(nope) = %v", err)
	}
	if l := r.List(); len(l) != 2 || l[0].Name != "Local" || l[1].Name != "azure" {
		t.Errorf("List = %v", l)
	}
}
