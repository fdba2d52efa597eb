package webui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// TestBrowserCredentialLifecycle is a maker's whole path in the browser:
// sign in, run the New credential wizard creating both variables in
// place (one save refused by the store, the error next to its field),
// share the credential with a second user who then sees it, bind it to a
// runner group, show a variable's dependencies, disable it, and delete it
// past the warning about the connection that breaks.
func TestBrowserCredentialLifecycle(t *testing.T) {
	needBrowser(t)
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	admin := apiClient{t: t, base: inst.URL, token: inst.AdminToken}
	admin.must(201, "PUT", "/api/v1/stores/local/secrets/billing-password", map[string]any{"value": secretValue})
	admin.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "build"})
	bobToken := admin.newUser("bob", "maker")
	runner := apiClient{t: t, base: inst.URL, token: admin.newUser("build-01", "runner", "build")}

	b := newTab(t, inst.URL)
	b.signIn(inst.AdminToken, true)
	b.check("credentials-empty")

	// Step 1: name and description.
	b.submit("a[href='/credentials/new']")
	b.check("wizard-1-name")
	b.typeInto("#f-name", "Billing DB")
	b.typeInto("#f-description", "The billing database's service account")
	b.submit("form.wizard button[type=submit]")

	// Step 2: the store.
	b.wantText("2. Credential store")
	b.choose("#f-store", "local")
	b.check("wizard-2-store")
	b.submit("form.wizard button[type=submit]:not([name=back])")

	// Step 3: both variables new. The unique name follows the display
	// name as it is typed.
	b.wantText("3. Username and password")
	if eval[bool](b, `!document.querySelector("[data-shown-when='f-username']").hidden`) {
		t.Error("the New variable fields show before New variable is chosen")
	}
	b.choose("#f-username", "+new")
	b.typeInto("#f-username-displayName", "Billing User")
	if got := eval[string](b, `document.getElementById("f-username-schemaName").value`); got != "cf_BillingUser" {
		t.Errorf("generated unique name %q, want cf_BillingUser", got)
	}
	b.choose("#f-username-type", "text")
	b.typeInto("#f-username-value", "svc_billing")
	b.choose("#f-password", "+new")
	b.typeInto("#f-password-displayName", "Billing Password")
	b.typeInto("#f-password-ref", "no-such-secret")
	b.check("wizard-3-variables")
	b.submit("form.wizard button[type=submit]:not([name=back])")

	// The store refused the password's reference: the server's message is
	// next to the field, and the username variable made meanwhile is kept
	// as the choice.
	got := eval[string](b, `(document.getElementById("f-password-ref-error") || {}).innerText || ""`)
	if got != `The secret "no-such-secret" was not found in store "local".` {
		t.Fatalf("error next to the reference: %q\n%s", got, b.text())
	}
	if eval[string](b, `document.getElementById("f-password-ref").getAttribute("aria-describedby")`) != "f-password-ref-error" {
		t.Error("the field is not described by its error")
	}
	if got := eval[string](b, `document.getElementById("f-username").value`); got != "cf_BillingUser" {
		t.Errorf("username choice after the failed save %q, want the variable just made", got)
	}
	b.check("wizard-3-save-error")
	b.clear("#f-password-ref")
	b.typeInto("#f-password-ref", "billing-password")
	b.submit("form.wizard button[type=submit]:not([name=back])")
	b.wantText("Created the credential Billing DB.", "cf_BillingUser", "cf_BillingPassword", "cannot be changed once the credential exists")
	credURL := eval[string](b, `location.pathname`)
	admin.must(200, "GET", "/api/v1/environment-variables/cf_BillingUser", nil)

	// Share with bob, who then sees it on his Credentials page.
	b.typeInto("#f-principal", "user:bob")
	b.choose("#f-role", "user")
	b.submit("form[action$='/share'] button[type=submit]")
	b.wantText("Shared with user:bob as user.")
	b.check("credential")
	bob := newTab(t, inst.URL)
	bob.signIn(bobToken, false)
	bob.wantText("Billing DB", "user")
	bob.check("credentials-shared")

	// A connection binds it to the build runners; a runner resolves it.
	b.open("/connections")
	b.typeInto("#f-name", "billing-job")
	b.choose("#f-credential", "Billing DB")
	b.choose("#f-runnerGroup", "build")
	b.submit("form[action='/connections/new'] button[type=submit]")
	b.wantText("Created the connection billing-job.", "No runner has resolved it yet.")
	runner.must(200, "POST", "/api/v1/connections/billing-job/resolve", nil)
	b.open(eval[string](b, `location.pathname`))
	b.wantText("build-01", "latest", "connected")
	b.check("connection")
	b.open("/connections")
	b.wantText("billing-job", "Billing DB", "build", "connected")
	b.check("connections")

	// The password variable's dependencies and who can use it.
	b.open(credURL)
	b.open(eval[string](b, `document.querySelectorAll("dd a[href^='/variables/']")[1].getAttribute("href")`))
	b.wantText("Billing Password", "cf_BillingPassword", "Show dependencies")
	if eval[bool](b, `document.querySelector("ul.deps").checkVisibility()`) {
		t.Error("the dependencies show before Show dependencies is chosen")
	}
	b.do("show dependencies", chromedp.Click(chromedp.CSS("details > summary")))
	deps := eval[[]string](b, `Array.from(document.querySelectorAll("ul.deps li")).filter(li => li.checkVisibility()).map(li => li.innerText)`)
	if strings.Join(deps, ",") != "Billing DB,billing-job" {
		t.Errorf("dependencies shown: %q", deps)
	}
	b.wantText("Who can use it", "user:bob", "through credential Billing DB", "build through connection billing-job")
	b.check("variable")

	// Disable: the kill switch.
	b.open(credURL)
	b.submit("form[action$='/disable'] button")
	b.wantText("Disabled: every resolve of it is refused", "disabled", "Enable")
	if c := admin.must(200, "GET", "/api/v1/credentials/Billing%20DB", nil); c["enabled"] != false {
		t.Fatalf("not disabled: %v", c)
	}

	// Delete warns of the connection that breaks, and needs it confirmed.
	b.submit("a[href$='/delete']")
	b.wantText("Delete Billing DB?", "These connections use it and will break", "billing-job")
	b.check("credential-delete")
	b.do("confirm", chromedp.Click(chromedp.CSS("#f-force")))
	b.submit("form[action$='/delete'] button[type=submit]")
	b.wantText("Deleted the credential. Its variables stay.")
	if c := admin.must(200, "GET", "/api/v1/connections/billing-job", nil); c["status"] != "broken" {
		t.Fatalf("connection after the delete: %v", c["status"])
	}
	admin.must(404, "GET", "/api/v1/credentials/Billing%20DB", nil)
}

// TestBrowserStoresVariablesAndAudit is an admin's tour of the other
// pages: a store check with its steps, the store forms, the variables,
// the audit trail and its verification, and a narrow window.
func TestBrowserStoresVariablesAndAudit(t *testing.T) {
	needBrowser(t)
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	s := newScene(t, inst)
	s.admin.must(200, "PUT", "/api/v1/stores/local/grants/user:bob", map[string]any{"prefix": "team-"})
	b := newTab(t, inst.URL)
	b.signIn(inst.AdminToken, false)
	b.check("credentials")

	b.open("/stores")
	b.wantText("local", "builtin")
	b.check("stores")
	b.submit("a[href='/stores/local']")
	b.typeInto("#f-secret", "sql-password")
	b.submit("form[action$='/check'] button")
	b.wantText("Every step passed.", "pass")
	b.check("store-check")
	b.typeInto("#f-secret", "missing-secret")
	b.submit("form[action$='/check'] button")
	b.wantText("A step failed.", "fail")
	b.open("/stores/new?kind=azure-keyvault")
	b.wantText("Tenant id", "Vault name", "Authentication")
	b.check("store-new")

	b.open("/variables")
	b.wantText("SQL User", "cf_SQLPassword", "local: sql-password")
	b.check("variables")
	b.open("/variables/new")
	b.choose("#f-type", "secret")
	b.check("variable-new")
	b.open("/secrets/new")
	if eval[string](b, `document.getElementById("f-value").type`) != "password" {
		t.Error("a secret's value is typed into a field that shows it")
	}
	b.check("secret-new")

	b.open("/audit")
	b.check("audit")
	b.typeInto("#f-action", "credential.create")
	b.submit("form.filters button[name=verify]")
	b.wantText("The audit trail verifies", "credential.create", "credential:SQL reporting")
	if strings.Contains(b.text(), "environment-variable.create") {
		t.Error("the action filter let other actions through")
	}
	b.check("audit-verify")

	// A narrow window: nothing but tables scrolls sideways.
	b.do("narrow", chromedp.EmulateViewport(390, 800))
	for _, path := range []string{"/credentials", "/variables", "/stores/local", "/credentials/new"} {
		b.open(path)
		if eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
			t.Errorf("%s is wider than a narrow window", path)
		}
	}
	b.check("credentials-narrow")
}

// TestBrowserKeyboard signs in and reaches the pages with the keyboard
// alone: the skip link comes first, every control is reached by Tab in
// reading order, and Enter submits.
func TestBrowserKeyboard(t *testing.T) {
	needBrowser(t)
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	b := newTab(t, inst.URL)
	b.open("/signin")
	focused := func() string {
		return eval[string](b, `(document.activeElement.id || document.activeElement.innerText || document.activeElement.tagName).trim()`)
	}
	b.do("tab", chromedp.KeyEvent(kb.Tab))
	if got := focused(); got != "Skip to content" {
		t.Fatalf("first Tab stop %q, want the skip link", got)
	}
	b.do("tab", chromedp.KeyEvent(kb.Tab))
	if got := focused(); got != "f-token" {
		t.Fatalf("second Tab stop %q, want the token field", got)
	}
	eval[bool](b, `window.__cfOld = true`)
	b.do("type and press Enter", chromedp.KeyEvent(inst.AdminToken+kb.Enter))
	deadline := time.Now().Add(15 * time.Second)
	for !eval[bool](b, `window.__cfOld !== true && document.readyState === "complete"`) {
		if time.Now().After(deadline) {
			t.Fatalf("Enter did not sign in:\n%s", b.text())
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.wantText("Credentials", "Sign out")
	// Tab order on the list: skip link, then the navigation in order.
	var stops []string
	for range 5 {
		b.do("tab", chromedp.KeyEvent(kb.Tab))
		stops = append(stops, focused())
	}
	if strings.Join(stops, "|") != "Skip to content|Credentials|Environment variables|Connections|Stores" {
		t.Errorf("Tab stops %q", stops)
	}
	// Every control has a visible focus outline.
	if !eval[bool](b, `getComputedStyle(document.activeElement).outlineStyle !== "none"`) {
		t.Error("the focused link shows no outline")
	}
}
