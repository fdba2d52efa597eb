package webui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's chromium through chromedp: one browser
// process for the whole package, a fresh browser context (its own cookies)
// per signed-in person. Without chromium they are skipped, with a note;
// under CI=true they fail instead.

// EnvScreenshots, set to 1, makes the browser tests write a screenshot of
// every page they check to docs/screenshots.
const EnvScreenshots = "CREDFLOW_SCREENSHOTS"

var (
	// browserCtx is the shared browser; nil when there is none.
	browserCtx context.Context
	// browserErr says why there is none.
	browserErr error
	// axeSource is axe-core, injected into every page checked.
	axeSource string
)

func TestMain(m *testing.M) {
	os.Exit(runWithBrowser(m))
}

func runWithBrowser(m *testing.M) int {
	path := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		browserErr = fmt.Errorf("no chromium on PATH (apt-get install chromium)")
		fmt.Fprintln(os.Stderr, "NOTE: webui browser tests skipped:", browserErr)
		return m.Run()
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "axe-core", "axe.min.js"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	axeSource = string(raw)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("password-store", "basic"), chromedp.WindowSize(1280, 800))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		browserErr = fmt.Errorf("chromium at %s did not start: %w", path, err)
		fmt.Fprintln(os.Stderr, "NOTE: webui browser tests skipped:", browserErr)
		return m.Run()
	}
	browserCtx = ctx
	return m.Run()
}

// needBrowser skips a test without a browser, or fails it under CI=true.
func needBrowser(t *testing.T) {
	t.Helper()
	if browserCtx != nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true requires the browser tests to run: %v", browserErr)
	}
	t.Skipf("NOTE: browser test skipped: %v", browserErr)
}

// tab is one person's browser: a tab in a browser context of its own.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func newTab(t *testing.T, base string) *tab {
	t.Helper()
	needBrowser(t)
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &tab{t: t, ctx: ctx, base: base}
}

// do runs actions with a deadline.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\npage text:\n%s", what, err, b.textNoFail())
	}
}

func eval[T any](b *tab, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %.60q: %v", js, err)
	}
	return v
}

func (b *tab) textNoFail() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// open loads a page of the server.
func (b *tab) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("main")))
}

// text is what the page shows.
func (b *tab) text() string {
	b.t.Helper()
	return eval[string](b, `document.body.innerText`)
}

// typeInto types into a field as a person does, key by key.
func (b *tab) typeInto(sel, text string) {
	b.t.Helper()
	b.do("type into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// clear empties a field.
func (b *tab) clear(sel string) {
	b.t.Helper()
	js, _ := json.Marshal(sel)
	if !eval[bool](b, fmt.Sprintf(`(function(s){var e=document.querySelector(s); if(!e){return false} e.value=""; return true})(%s)`, js)) {
		b.t.Fatalf("no field %s", sel)
	}
}

// choose picks an option of a select, as a change by a person would.
func (b *tab) choose(sel, value string) {
	b.t.Helper()
	js, _ := json.Marshal([]string{sel, value})
	ok := eval[bool](b, fmt.Sprintf(`(function(a){var s=document.querySelector(a[0]); if(!s){return false}
		s.value=a[1]; s.dispatchEvent(new Event("change",{bubbles:true})); return s.value===a[1]})(%s)`, js))
	if !ok {
		b.t.Fatalf("select %s has no option %q:\n%s", sel, value, b.text())
	}
}

// submit clicks a button and waits for the page it leads to.
func (b *tab) submit(sel string) {
	b.t.Helper()
	eval[bool](b, `window.__cfOld = true`)
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
	deadline := time.Now().Add(15 * time.Second)
	for !eval[bool](b, `window.__cfOld !== true && document.readyState === "complete"`) {
		if time.Now().After(deadline) {
			b.t.Fatalf("clicking %s led to no new page:\n%s", sel, b.text())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantText fails unless the page shows every part.
func (b *tab) wantText(parts ...string) {
	b.t.Helper()
	text := b.text()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			b.t.Errorf("the page does not show %q:\n%s", p, text)
		}
	}
}

// axeViolation is one failed axe rule.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// check runs axe-core on the page, failing on any serious or critical
// violation, and writes its screenshot when asked to.
func (b *tab) check(name string) {
	b.t.Helper()
	if !eval[bool](b, `typeof window.axe === "object"`) {
		eval[chromedp.Void](b, axeSource+";undefined")
	}
	var res struct {
		Violations []axeViolation `json:"violations"`
	}
	raw := eval[[]byte](b, `axe.run(document, {resultTypes: ["violations"]}).then(r => ({violations: r.violations}))`)
	if err := json.Unmarshal(raw, &res); err != nil {
		b.t.Fatalf("axe result: %v", err)
	}
	for _, v := range res.Violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, fmt.Sprint(n.Target...))
			}
			b.t.Errorf("page %s: accessibility violation %s (%s): %s at %s", name, v.ID, v.Impact, v.Help, strings.Join(where, ", "))
		}
	}
	if os.Getenv(EnvScreenshots) != "1" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshots", name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// signIn types the token into the sign-in form.
func (b *tab) signIn(token string, shot bool) {
	b.t.Helper()
	b.open("/signin")
	if shot {
		b.check("signin")
	}
	b.typeInto("#f-token", token)
	b.submit("form[action='/signin'] button[type=submit]")
	b.wantText("Credentials", "Sign out")
}
