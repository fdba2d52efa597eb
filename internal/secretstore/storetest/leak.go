package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
)

// renderings prints x every way a value could escape: fmt verbs, JSON, and
// slog's text and JSON handlers.
func renderings(x any) map[string]string {
	out := map[string]string{
		"%v":  fmt.Sprintf("%v", x),
		"%+v": fmt.Sprintf("%+v", x),
		"%#v": fmt.Sprintf("%#v", x),
		"%s":  fmt.Sprintf("%s", x),
		"%q":  fmt.Sprintf("%q", x),
	}
	if b, err := json.Marshal(x); err == nil {
		out["json"] = string(b)
	} else {
		out["json"] = err.Error()
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("msg", "x", x)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("msg", "x", x)
	out["slog text"] = text.String()
	out["slog json"] = js.String()
	return out
}

// noLeak fails when any rendering of x shows one of the values.
func noLeak(t *testing.T, what string, x any, values ...string) {
	t.Helper()
	for how, s := range renderings(x) {
		if v, ok := contains(s, values); ok {
			t.Errorf("%s printed with %s shows a secret value (%d bytes)", what, how, len(v))
		}
	}
}

// noLeakErr is noLeak for an error, which is also checked through its
// Error method and with slog's error attribute.
func noLeakErr(t *testing.T, what string, err error, values ...string) {
	t.Helper()
	if err == nil {
		return
	}
	noLeak(t, what+" error", err, values...)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Error("msg", "err", err)
	if v, ok := contains(err.Error()+buf.String(), values); ok {
		t.Errorf("%s error shows a secret value (%d bytes)", what, len(v))
	}
}
