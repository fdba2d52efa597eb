package webui

import (
	"context"
	"strings"

	"github.com/credflow/credflow/internal/access"
)

// pages is the UI's route table: each page and the permission that its
// API route declares.
func (u *UI) pages() []route {
	return []route{
		{"GET /credentials", access.PermCredentialRead, u.listCredentials},
		{"GET /credentials/new", access.PermCredentialWrite, u.wizardStart},
		{"POST /credentials/new", access.PermCredentialWrite, u.wizardStep},
		{"GET /credentials/{id}", access.PermCredentialRead, u.showCredential},
		{"POST /credentials/{id}/edit", access.PermCredentialWrite, u.editCredential},
		{"POST /credentials/{id}/share", access.PermCredentialWrite, u.shareCredential},
		{"POST /credentials/{id}/unshare", access.PermCredentialWrite, u.unshareCredential},
		{"POST /credentials/{id}/disable", access.PermCredentialWrite, u.setCredentialEnabled(false)},
		{"POST /credentials/{id}/enable", access.PermCredentialWrite, u.setCredentialEnabled(true)},
		{"GET /credentials/{id}/delete", access.PermCredentialWrite, u.confirmDeleteCredential},
		{"POST /credentials/{id}/delete", access.PermCredentialWrite, u.deleteCredential},

		{"GET /variables", access.PermVariableRead, u.listVariables},
		{"GET /variables/new", access.PermVariableWrite, u.newVariablePage},
		{"POST /variables/new", access.PermVariableWrite, u.createVariable},
		{"GET /variables/{id}", access.PermVariableRead, u.showVariable},
		{"POST /variables/{id}/edit", access.PermVariableWrite, u.editVariable},
		{"POST /variables/{id}/delete", access.PermVariableWrite, u.deleteVariable},

		{"GET /secrets/new", access.PermSecretWrite, u.newSecretPage},
		{"POST /secrets/new", access.PermSecretWrite, u.putSecret},

		{"GET /connections", access.PermConnectionRead, u.listConnections},
		{"POST /connections/new", access.PermConnectionWrite, u.createConnection},
		{"GET /connections/{id}", access.PermConnectionRead, u.showConnection},
		{"POST /connections/{id}/delete", access.PermConnectionWrite, u.deleteConnection},

		{"GET /stores", access.PermAdmin, u.listStores},
		{"GET /stores/new", access.PermAdmin, u.newStorePage},
		{"POST /stores/new", access.PermAdmin, u.createStore},
		{"GET /stores/{store}", access.PermAdmin, u.showStore},
		{"POST /stores/{store}/edit", access.PermAdmin, u.editStore},
		{"POST /stores/{store}/check", access.PermAdmin, u.checkStore},
		{"POST /stores/{store}/grants", access.PermAdmin, u.putGrant},
		{"POST /stores/{store}/grants/delete", access.PermAdmin, u.deleteGrant},

		{"GET /audit", access.PermAdmin, u.listAudit},
	}
}

// pageSize is how many rows a list page shows.
const pageSize = 25

// scanBatch is how many items a search reads from a service at a time.
const scanBatch = 200

// searchPage returns the page of items matching match that follows the item
// with id after, and the id to continue after ("" when it is the last
// page). Without a search it is one read of the service's own pages; with
// one, it reads on until the page is full.
func searchPage[T any](ctx context.Context, list func(ctx context.Context, after string, limit int) ([]T, error),
	id func(T) string, match func(T) bool, after string) ([]T, string, error) {
	var out []T
	for {
		batch, err := list(ctx, after, scanBatch)
		if err != nil {
			return nil, "", err
		}
		for _, it := range batch {
			after = id(it)
			if !match(it) {
				continue
			}
			if len(out) == pageSize {
				return out, id(out[pageSize-1]), nil
			}
			out = append(out, it)
		}
		if len(batch) < scanBatch {
			return out, "", nil
		}
	}
}

// contains reports whether any of the texts holds q, regardless of case.
func contains(q string, texts ...string) bool {
	q = strings.ToLower(q)
	for _, t := range texts {
		if strings.Contains(strings.ToLower(t), q) {
			return true
		}
	}
	return false
}
