package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"time"
)

// Solution is a named, versioned set of credentials and environment
// variables that moves between credflow instances as a package.
type Solution struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Description string              `json:"description"`
	Version     string              `json:"version"` // major.minor.build.revision
	Publisher   string              `json:"publisher"`
	Owner       string              `json:"owner"`
	Components  []SolutionComponent `json:"components"`
	CreatedAt   time.Time           `json:"createdAt"`
	UpdatedAt   time.Time           `json:"updatedAt"`
}

// SolutionComponent is one object of a solution: Kind "variable" or
// "credential". A Required one lives in another solution: packages name it
// and the target must have it.
type SolutionComponent struct {
	Kind     string `json:"kind"`
	ID       string `json:"id"`
	Name     string `json:"name"`
	Required bool   `json:"required"`
}

// CreateSolutionRequest describes a new, empty solution.
type CreateSolutionRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Version     string `json:"version"`
	Publisher   string `json:"publisher"`
}

// UpdateSolutionRequest changes the fields that are not nil.
type UpdateSolutionRequest struct {
	Version     *string `json:"version,omitempty"`
	Description *string `json:"description,omitempty"`
}

// ImportOptions tune ImportSolution.
type ImportOptions struct {
	// Settings are deployment settings (the JSON of a settings file), nil
	// for none.
	Settings []byte
	// AllowDowngrade lets a lower version replace the installed one.
	AllowDowngrade bool
	// DeferValidation imports secret variables whose store cannot be read
	// now in state pending-validation.
	DeferValidation bool
}

// ImportResult says what an import did. Unchanged is true when the target
// already was as the package says and nothing was written.
type ImportResult struct {
	Solution          Solution `json:"solution"`
	Unchanged         bool     `json:"unchanged"`
	Created           []string `json:"created"`
	Updated           []string `json:"updated"`
	PendingValidation []string `json:"pendingValidation"`
	PreviousVersion   string   `json:"previousVersion,omitempty"`
}

const solutionsPath = "/api/v1/solutions"

// CreateSolution creates an empty solution.
func (c *Client) CreateSolution(ctx context.Context, req CreateSolutionRequest) (*Solution, error) {
	var s Solution
	if err := c.do(ctx, http.MethodPost, solutionsPath, req, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ListSolutions returns one page of the caller's solutions (all, for
// admins). opts.Type is ignored.
func (c *Client) ListSolutions(ctx context.Context, opts ListOptions) (*Page[Solution], error) {
	var p Page[Solution]
	if err := c.do(ctx, http.MethodGet, solutionsPath+opts.query(false), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetSolution returns a solution by id or name, with its components.
func (c *Client) GetSolution(ctx context.Context, idOrName string) (*Solution, error) {
	return c.solutionCall(ctx, http.MethodGet, idOrName, "", nil)
}

// UpdateSolution changes a solution's version or description.
func (c *Client) UpdateSolution(ctx context.Context, idOrName string, req UpdateSolutionRequest) (*Solution, error) {
	return c.solutionCall(ctx, http.MethodPatch, idOrName, "", req)
}

// AddSolutionComponent adds a credential (with its two variables) or a
// variable, by kind ("credential" or "variable") and name.
func (c *Client) AddSolutionComponent(ctx context.Context, idOrName, kind, name string) (*Solution, error) {
	return c.solutionCall(ctx, http.MethodPost, idOrName, "/components", map[string]string{"kind": kind, "name": name})
}

// RemoveSolutionComponent takes a component out of a solution.
func (c *Client) RemoveSolutionComponent(ctx context.Context, idOrName, kind, name string) (*Solution, error) {
	if err := need("component name", name); err != nil {
		return nil, err
	}
	return c.solutionCall(ctx, http.MethodDelete, idOrName, "/components/"+escape(kind)+"/"+escape(name), nil)
}

func (c *Client) solutionCall(ctx context.Context, method, idOrName, sub string, body any) (*Solution, error) {
	if err := need("solution id or name", idOrName); err != nil {
		return nil, err
	}
	var s Solution
	if err := c.do(ctx, method, solutionsPath+"/"+escape(idOrName)+sub, body, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ExportSolution returns a solution's package, a zip; withoutValues leaves
// text values out too. It never holds a secret value.
func (c *Client) ExportSolution(ctx context.Context, idOrName string, withoutValues bool) ([]byte, error) {
	if err := need("solution id or name", idOrName); err != nil {
		return nil, err
	}
	path := solutionsPath + "/" + escape(idOrName) + "/export"
	if withoutValues {
		path += "?withoutValues=true"
	}
	return c.download(ctx, path)
}

// SolutionSettings returns the deployment-settings template of a solution,
// as JSON ready to be written to a file and edited.
func (c *Client) SolutionSettings(ctx context.Context, idOrName string) ([]byte, error) {
	if err := need("solution id or name", idOrName); err != nil {
		return nil, err
	}
	return c.download(ctx, solutionsPath+"/"+escape(idOrName)+"/settings")
}

func (c *Client) download(ctx context.Context, path string) ([]byte, error) {
	resp, err := c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	defer drainClose(resp.Body)
	if resp.StatusCode >= 400 {
		return nil, responseError(http.MethodGet, path, resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, fmt.Errorf("client: GET %s: read response: %w", path, err)
	}
	return b, nil
}

// ImportSolution imports a package (the zip ExportSolution gave). The
// server checks everything first and reports every problem at once in one
// *Error; otherwise it writes the whole package in one transaction.
func (c *Client) ImportSolution(ctx context.Context, pkg []byte, opts ImportOptions) (*ImportResult, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	parts := []struct {
		name, file string
		data       []byte
	}{{"package", "solution.zip", pkg}, {"settings", "settings.json", opts.Settings}}
	for _, p := range parts {
		if p.data == nil {
			continue
		}
		w, err := mw.CreateFormFile(p.name, p.file)
		if err != nil {
			return nil, fmt.Errorf("client: import: %w", err)
		}
		if _, err := w.Write(p.data); err != nil {
			return nil, fmt.Errorf("client: import: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("client: import: %w", err)
	}
	q := url.Values{}
	if opts.AllowDowngrade {
		q.Set("allowDowngrade", "true")
	}
	if opts.DeferValidation {
		q.Set("deferValidation", "true")
	}
	path := solutionsPath + "/import"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.sendRaw(ctx, http.MethodPost, path, mw.FormDataContentType(), &body)
	if err != nil {
		return nil, err
	}
	defer drainClose(resp.Body)
	if resp.StatusCode >= 400 {
		return nil, responseError(http.MethodPost, path, resp)
	}
	var res ImportResult
	if err := decodeBody(http.MethodPost, path, resp, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// ValidateEnvironmentVariable checks a variable's secret against its store
// now, as a save does: it completes the validation of a variable imported
// pending validation.
func (c *Client) ValidateEnvironmentVariable(ctx context.Context, idOrSchemaName string) (*EnvironmentVariable, error) {
	if err := need("environment variable id or schema name", idOrSchemaName); err != nil {
		return nil, err
	}
	var v EnvironmentVariable
	if err := c.do(ctx, http.MethodPost, "/api/v1/environment-variables/"+escape(idOrSchemaName)+"/validate", nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
