package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/credflow/credflow/internal/logging"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A handler that panics answers 500 internal_error with the request id;
// the log has the stack and what kind of panic it was, never the panic's
// value, which could have been built from a secret.
func TestHandlerPanicIsContained(t *testing.T) {
	const secret = "hunter2-the-secret-value"
	cases := []struct {
		name     string
		panicker func(w http.ResponseWriter)
		wantLog  string // what the log must say of the panic
	}{
		{"value", func(http.ResponseWriter) { panic("cannot use " + secret) }, "value of type string"},
		{"runtime error", func(http.ResponseWriter) {
			var m map[string]string
			m[secret] = secret // assignment to a nil map
		}, "assignment to entry in nil map"},
		{"after the header", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"partial":`)
			panic(secret)
		}, "value of type string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var log lockedBuffer
			a := &API{Log: logging.New(&log, logging.FormatJSON, slog.LevelInfo)}
			rt := route{method: "GET", path: "/boom", public: true, handle: func(w http.ResponseWriter, r *http.Request) error {
				c.panicker(w)
				return nil
			}}
			mux := http.NewServeMux()
			mux.Handle("GET /boom", a.wrap(rt))
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// As Handler does: the request id, and a recorder of what was written.
				r = r.WithContext(logging.WithRequestID(r.Context(), "rid-42"))
				mux.ServeHTTP(&statusRecorder{ResponseWriter: w, status: http.StatusOK}, r)
			}))
			srv.Config.ErrorLog = slog.NewLogLogger(slog.NewJSONHandler(&log, nil), slog.LevelWarn)
			srv.Start()
			defer srv.Close()

			res, err := http.Get(srv.URL + "/boom")
			if c.name == "after the header" {
				// The connection is cut: the client must not take the
				// partial body for a whole answer.
				if err == nil {
					_, err = io.ReadAll(res.Body)
					res.Body.Close()
				}
				if err == nil {
					t.Fatal("a response cut by a panic read as complete")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				var p map[string]any
				if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
					t.Fatal(err)
				}
				if res.StatusCode != 500 || p["code"] != "internal_error" || p["requestId"] != "rid-42" ||
					res.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("answer %d %s %v, want a 500 internal_error problem with the request id", res.StatusCode, res.Header.Get("Content-Type"), p)
				}
			}
			srv.Close() // flushes the server's own log lines
			got := log.String()
			if strings.Contains(got, "hunter2") {
				t.Errorf("the panic's value reached the log:\n%s", got)
			}
			if !strings.Contains(got, "handler panicked") || !strings.Contains(got, "rid-42") || !strings.Contains(got, c.wantLog) ||
				!strings.Contains(got, "panic_test.go") {
				t.Errorf("log should name the request, the kind of panic (%q) and the stack:\n%s", c.wantLog, got)
			}
		})
	}
}
