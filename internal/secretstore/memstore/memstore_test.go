package memstore_test

import (
	"fmt"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/memstore"
	"github.com/credflow/credflow/internal/secretstore/storetest"
)

type harness struct{ s *memstore.Store }

func (h harness) Store() secretstore.Store                       { return h.s }
func (h harness) Seed(t *testing.T, name, value string) string   { return h.s.Set(name, value) }
func (h harness) AbsentVersion(t *testing.T, name string) string { return fmt.Sprint(1000) }
func (h harness) Disable(t *testing.T, name, version string)     { h.s.Disable(name, version) }
func (h harness) Deny(t *testing.T, name string)                 { h.s.Deny(name) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness { return harness{memstore.New()} })
}
