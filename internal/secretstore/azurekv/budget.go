package azurekv

import (
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/credflow/credflow/internal/secretstore/budget"
)

// Budget bounds the requests credflow sends one vault: at most Reads in any
// window of length Per.
type Budget = budget.Budget

// budgetPolicy spends the budget on every request sent to the vault,
// including the unauthenticated one that draws the challenge and retries.
type budgetPolicy struct{ b *budget.Limiter }

func (p budgetPolicy) Do(req *policy.Request) (*http.Response, error) {
	if err := p.b.Take(req.Raw().Context()); err != nil {
		return nil, nonRetriable{err}
	}
	return req.Next()
}

// nonRetriable marks an error the azcore retry policy must not retry (it
// looks for this method).
type nonRetriable struct{ error }

func (nonRetriable) NonRetriable() {}

func (e nonRetriable) Unwrap() error { return e.error }
