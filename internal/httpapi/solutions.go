package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/credflow/credflow/internal/solution"
	"github.com/credflow/credflow/internal/solution/pkgzip"
)

type solutionJSON struct {
	ID          string                  `json:"id"`
	Name        string                  `json:"name"`
	Description string                  `json:"description"`
	Version     string                  `json:"version"`
	Publisher   string                  `json:"publisher"`
	Owner       string                  `json:"owner"`
	Components  []solutionComponentJSON `json:"components"`
	CreatedAt   time.Time               `json:"createdAt"`
	UpdatedAt   time.Time               `json:"updatedAt"`
}

type solutionComponentJSON struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name"`
	// Required is true for a component that lives in another solution.
	Required bool `json:"required"`
}

type solutionList struct {
	Items      []solutionJSON `json:"items"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

type createSolutionRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Version     string `json:"version"`
	Publisher   string `json:"publisher"`
}

type updateSolutionRequest struct {
	Version     *string `json:"version,omitempty"`
	Description *string `json:"description,omitempty"`
}

type addComponentRequest struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// settingsJSON is solution.Settings on the wire.
type settingsJSON struct {
	Solution  string                          `json:"solution,omitempty"`
	Variables map[string]variableSettingsJSON `json:"variables"`
}

type variableSettingsJSON struct {
	Value     *string        `json:"value,omitempty"`
	SecretRef *pkgRefJSON    `json:"secretRef,omitempty"`
	FromStore *fromStoreJSON `json:"fromStore,omitempty"`
}

type pkgRefJSON struct {
	Store string `json:"store"`
	Ref   string `json:"ref"`
}

type importResultJSON struct {
	Solution        solutionJSON `json:"solution"`
	Unchanged       bool         `json:"unchanged"`
	Created         []string     `json:"created"`
	Updated         []string     `json:"updated"`
	Pending         []string     `json:"pendingValidation"`
	PreviousVersion string       `json:"previousVersion,omitempty"`
}

func toSolutionJSON(s solution.Solution) solutionJSON {
	out := solutionJSON{ID: s.ID, Name: s.Name, Description: s.Description, Version: s.Version.String(), Publisher: s.Publisher,
		Owner: s.Owner, Components: []solutionComponentJSON{}, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	for _, c := range s.Components {
		out.Components = append(out.Components, solutionComponentJSON{Kind: string(c.Kind), ID: c.ID, Name: c.Name, Required: c.Required})
	}
	return out
}

func (a *API) createSolution(w http.ResponseWriter, r *http.Request) error {
	var req createSolutionRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	s, err := a.Solutions.Create(r.Context(), principal(r), solution.CreateInput{
		Name: req.Name, Description: req.Description, Version: req.Version, Publisher: req.Publisher})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/solutions/"+s.ID)
	writeJSON(w, http.StatusCreated, toSolutionJSON(s))
	return nil
}

func (a *API) listSolutions(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := pageQuery(r)
	if err != nil {
		return err
	}
	sols, err := a.Solutions.List(r.Context(), principal(r), after, limit+1)
	if err != nil {
		return err
	}
	out := solutionList{Items: []solutionJSON{}}
	out.NextCursor = page(sols, limit, func(s solution.Solution) string { return s.ID }, func(s solution.Solution) {
		out.Items = append(out.Items, toSolutionJSON(s))
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getSolution(w http.ResponseWriter, r *http.Request) error {
	s, err := a.Solutions.Get(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSolutionJSON(s))
	return nil
}

func (a *API) updateSolution(w http.ResponseWriter, r *http.Request) error {
	var req updateSolutionRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	s, err := a.Solutions.Update(r.Context(), principal(r), r.PathValue("id"), solution.UpdateInput{Version: req.Version, Description: req.Description})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSolutionJSON(s))
	return nil
}

func (a *API) addSolutionComponent(w http.ResponseWriter, r *http.Request) error {
	var req addComponentRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	s, err := a.Solutions.Add(r.Context(), principal(r), r.PathValue("id"), solution.Kind(req.Kind), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSolutionJSON(s))
	return nil
}

func (a *API) removeSolutionComponent(w http.ResponseWriter, r *http.Request) error {
	s, err := a.Solutions.Remove(r.Context(), principal(r), r.PathValue("id"), solution.Kind(r.PathValue("kind")), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSolutionJSON(s))
	return nil
}

func (a *API) exportSolution(w http.ResponseWriter, r *http.Request) error {
	without, err := queryBool(r, "withoutValues")
	if err != nil {
		return err
	}
	name, zip, err := a.Solutions.Export(r.Context(), principal(r), r.PathValue("id"), solution.ExportOptions{WithoutValues: without})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("Content-Length", strconv.Itoa(len(zip)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(zip)
	return nil
}

func (a *API) solutionSettings(w http.ResponseWriter, r *http.Request) error {
	s, err := a.Solutions.SettingsTemplate(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := settingsJSON{Solution: s.Solution, Variables: map[string]variableSettingsJSON{}}
	for name, v := range s.Variables {
		vs := variableSettingsJSON{Value: v.Value}
		if v.SecretRef != nil {
			vs.SecretRef = &pkgRefJSON{Store: v.SecretRef.Store, Ref: v.SecretRef.Ref}
		}
		if v.FromStore != nil {
			vs.FromStore = &fromStoreJSON{Store: v.FromStore.Store, Ref: v.FromStore.Ref, Field: v.FromStore.Field}
		}
		out.Variables[name] = vs
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// maxPackageBytes bounds an uploaded package (the archive, compressed);
// pkgzip bounds what it may unpack to.
const maxPackageBytes = pkgzip.MaxTotal + 1<<20

// importSolution reads the multipart parts package (the zip) and settings
// (optional deployment settings) into memory, never onto disk.
func (a *API) importSolution(w http.ResponseWriter, r *http.Request) error {
	allowDowngrade, err := queryBool(r, "allowDowngrade")
	if err != nil {
		return err
	}
	deferValidation, err := queryBool(r, "deferValidation")
	if err != nil {
		return err
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return &requestError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
			detail: "The request body must be multipart/form-data with a part named package (the zip) and, optionally, settings."}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPackageBytes)
	parts, err := r.MultipartReader()
	if err != nil {
		return badRequest("", "The multipart body could not be read.")
	}
	var pkg, settings []byte
	for {
		part, err := parts.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return mbe
			}
			return badRequest("", "The multipart body could not be read.")
		}
		name := part.FormName()
		var dst *[]byte
		switch name {
		case "package":
			dst = &pkg
		case "settings":
			dst = &settings
		default:
			return badRequest(name, fmt.Sprintf("Unknown part %q: send package and, optionally, settings.", name))
		}
		if *dst != nil {
			return badRequest(name, fmt.Sprintf("Part %s is given twice.", name))
		}
		b, err := io.ReadAll(part)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return mbe
			}
			return badRequest(name, "Part "+name+" could not be read.")
		}
		*dst = b
	}
	if pkg == nil {
		return badRequest("package", "Part package, the solution's zip, is required.")
	}
	opts := solution.ImportOptions{AllowDowngrade: allowDowngrade, DeferValidation: deferValidation}
	if settings != nil {
		if opts.Settings, err = solution.DecodeSettings(bytes.NewReader(settings)); err != nil {
			return badRequest("settings", "The deployment settings are not valid: "+err.Error()+".")
		}
	}
	res, err := a.Solutions.Import(r.Context(), principal(r), pkg, opts)
	if err != nil {
		return err
	}
	out := importResultJSON{Solution: toSolutionJSON(res.Solution), Unchanged: res.Unchanged, PreviousVersion: res.PreviousVersion,
		Created: nonNil(res.Created), Updated: nonNil(res.Updated), Pending: nonNil(res.Pending)}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (a *API) validateVariable(w http.ResponseWriter, r *http.Request) error {
	v, err := a.Variables.Validate(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toVariableJSON(v))
	return nil
}
