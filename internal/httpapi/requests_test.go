package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

func TestAuthenticationFailuresLookAlike(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		good := a.token
		// A token with a real id and a wrong secret, and one with the
		// right shape and an unknown id.
		wrongSecret := good[:len(good)-4] + "AAAA"
		unknownID := "cft_" + strings.Repeat("0", 32) + good[len(good)-44:]
		cases := []struct{ name, header string }{
			{"no header", ""},
			{"not bearer", "Basic YWRtaW46YWRtaW4="},
			{"empty bearer", "Bearer "},
			{"garbage", "Bearer not-a-token"},
			{"wrong secret", "Bearer " + wrongSecret},
			{"unknown id", "Bearer " + unknownID},
		}
		var bodies []string
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := a.do("GET", "/api/v1/environment-variables", nil, "Authorization", c.header)
				wantProblem(t, r, http.StatusUnauthorized, "unauthenticated", "")
				if r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				delete(r.body, "requestId")
				bodies = append(bodies, strings.Join([]string{r.str("type"), r.str("title"), r.str("detail"), r.str("code")}, "|"))
			})
		}
		for _, b := range bodies[1:] {
			if b != bodies[0] {
				t.Errorf("401 bodies differ by cause:\n%s\n%s", bodies[0], b)
			}
		}
		a.must(http.StatusOK, "GET", "/api/v1/environment-variables", nil)
	})
}

func TestTokensAreStoredAsHashes(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst, _ := start(t, e)
		rows, err := inst.Server.DB().SQL().Query(`SELECT id, name, hash FROM api_tokens`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var id, name string
			var hash []byte
			if err := rows.Scan(&id, &name, &hash); err != nil {
				t.Fatal(err)
			}
			n++
			secret := inst.AdminToken[len(inst.AdminToken)-43:]
			if strings.Contains(string(hash), secret) || len(hash) != 32 {
				t.Errorf("token row holds %d bytes that are not a SHA-256 hash of the secret", len(hash))
			}
		}
		if n != 1 {
			t.Fatalf("%d token rows, want 1", n)
		}
	})
}

func TestRequestBodyErrors(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		const path = "/api/v1/environment-variables"
		big := `{"displayName":"x","type":"text","value":"` + strings.Repeat("a", 1<<20) + `"}`
		cases := []struct {
			name        string
			body        string
			contentType string
			status      int
			code, field string
		}{
			{"no content type", `{"displayName":"A","type":"text","value":"v"}`, "-", 415, "unsupported_media_type", ""},
			{"text/plain", `{"displayName":"A","type":"text","value":"v"}`, "text/plain", 415, "unsupported_media_type", ""},
			{"too large", big, "", 413, "body_too_large", ""},
			{"unknown field", `{"displayName":"A","type":"text","value":"v","colour":"red"}`, "", 400, "invalid_request", "colour"},
			{"wrong type", `{"displayName":5,"type":"text","value":"v"}`, "", 400, "invalid_request", "displayName"},
			{"nested wrong type", `{"displayName":"A","type":"secret","secretRef":{"store":1,"ref":"x"}}`, "", 400, "invalid_request", "secretRef.store"},
			{"not an object", `[1,2]`, "", 400, "invalid_request", ""},
			{"malformed", `{"displayName":`, "", 400, "invalid_request", ""},
			{"syntax error", `{"displayName" "A"}`, "", 400, "invalid_request", ""},
			{"empty", ``, "", 400, "invalid_request", ""},
			{"two values", `{"displayName":"A","type":"text","value":"v"} {}`, "", 400, "invalid_request", ""},
			{"json with charset", `{"displayName":"A","type":"bogus"}`, "application/json; charset=utf-8", 422, "validation_failed", "type"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				hdr := []string{}
				switch c.contentType {
				case "-":
					hdr = append(hdr, "Content-Type", "")
				case "":
				default:
					hdr = append(hdr, "Content-Type", c.contentType)
				}
				r := a.do("POST", path, c.body, hdr...)
				if c.body == "" {
					// do() sets no content type for a nil body; force one.
					r = a.do("POST", path, []byte{}, "Content-Type", "application/json")
				}
				wantProblem(t, r, c.status, c.code, c.field)
			})
		}
		// Nothing was created by any of them.
		if l := a.must(200, "GET", path, nil); len(l.body["items"].([]any)) != 0 {
			t.Errorf("failed requests left variables behind: %s", l.raw)
		}
	})
}

func TestRoutingErrorsAndRequestIDs(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		r := a.do("GET", "/api/v1/nothing-here", nil)
		wantProblem(t, r, 404, "not_found", "")
		r = a.do("POST", "/api/v1/credentials/some-id", map[string]any{})
		wantProblem(t, r, 405, "method_not_allowed", "")
		if allow := r.header.Get("Allow"); !strings.Contains(allow, "PATCH") || !strings.Contains(allow, "DELETE") {
			t.Errorf("Allow %q", allow)
		}
		r = a.do("GET", "/api/v1/credentials/missing", nil, "X-Request-Id", "trace-123")
		wantProblem(t, r, 404, "not_found", "")
		if r.str("requestId") != "trace-123" || r.header.Get("X-Request-Id") != "trace-123" {
			t.Errorf("request id not echoed: header %q body %q", r.header.Get("X-Request-Id"), r.str("requestId"))
		}
		r = a.do("GET", "/api/v1/credentials/missing", nil, "X-Request-Id", "bad id with spaces")
		if id := r.str("requestId"); id == "" || id == "bad id with spaces" {
			t.Errorf("unsafe request id accepted: %q", id)
		}
	})
}

func TestHealthAndReadiness(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		a.token = "" // neither needs a token
		if r := a.must(200, "GET", "/healthz", nil); r.str("status") != "ok" {
			t.Errorf("healthz %s", r.raw)
		}
		r := a.must(200, "GET", "/readyz", nil)
		if r.str("status") != "ready" || r.str("database") != "ok" || !strings.Contains(string(r.raw), `{"name":"local","status":"ready"}`) {
			t.Errorf("readyz %s", r.raw)
		}
	})
}
