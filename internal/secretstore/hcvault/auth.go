package hcvault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/credflow/credflow/internal/secretstore"
)

// token is one Vault token credflow holds, with what Vault said of it.
type token struct {
	client    *api.Client // a copy of the base client carrying the token
	ttl       time.Duration
	expires   time.Time // zero: the token does not expire
	renewAt   time.Time // zero: never renewed nor replaced ahead of time
	renewable bool
	// who names the identity for people: never the token.
	who string
}

// due reports whether the token should be renewed or replaced now.
func (t *token) due(now time.Time) bool { return !t.renewAt.IsZero() && !now.Before(t.renewAt) }

func (t *token) expired(now time.Time) bool { return !t.expires.IsZero() && !now.Before(t.expires) }

// session holds the store's current token: it signs in on first use,
// renews the token once two thirds of its lease have passed while Vault
// lets it, signs in again (AppRole) or reads the token again (token) when
// renewal is no longer possible or Vault refuses the token, one sign-in at
// a time.
type session struct {
	st  *Store
	sem chan struct{}

	mu  sync.Mutex
	cur *token
}

func newSession(st *Store) *session {
	return &session{st: st, sem: make(chan struct{}, 1)}
}

func (s *session) current() *token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *session) set(t *token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = t
}

// drop forgets t, if it is still the current token.
func (s *session) drop(t *token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == t {
		s.cur = nil
	}
}

// token returns a token that is valid as far as credflow knows, signing in
// or renewing first when needed.
func (s *session) token(ctx context.Context) (*token, error) {
	for {
		t := s.current()
		now := s.st.opts.Now()
		if t != nil && !t.due(now) {
			return t, nil
		}
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if s.current() != t {
			<-s.sem // another reader renewed or signed in meanwhile
			continue
		}
		nt, err := s.refresh(ctx, t)
		if err == nil {
			s.set(nt)
		}
		<-s.sem
		switch {
		case err == nil:
			return nt, nil
		case t != nil && !t.expired(s.st.opts.Now()) && ctx.Err() == nil:
			// Renewal failed but the token still lives: use it, and try
			// again at the next read.
			return t, nil
		}
		return nil, err
	}
}

// refresh renews t when it is renewable, and otherwise (or when renewal
// fails) signs in again. A token read from a file or variable that is
// still the same token is kept until it expires.
func (s *session) refresh(ctx context.Context, t *token) (*token, error) {
	if t != nil && t.renewable && !t.expired(s.st.opts.Now()) {
		if nt, err := s.renew(ctx, t); err == nil {
			return nt, nil
		}
	}
	nt, err := s.signIn(ctx)
	if err != nil {
		return nil, err
	}
	if t != nil && s.st.settings.Auth.Kind == AuthToken && nt.client.Token() == t.client.Token() {
		// Nothing new to read: keep the token until Vault refuses it.
		nt.renewAt = time.Time{}
	}
	return nt, nil
}

// do runs fn with a valid token. When Vault answers 403 it asks whether the
// token itself is still valid; if not, it signs in again and runs fn once
// more, so that an expired or revoked token is replaced, while a policy's
// refusal stays a refusal.
func (s *session) do(ctx context.Context, fn func(*api.Client) error) error {
	t, err := s.token(ctx)
	if err != nil {
		return err
	}
	err = fn(t.client)
	if status(err) != http.StatusForbidden {
		return err
	}
	switch _, lerr := t.client.Auth().Token().LookupSelfWithContext(ctx); {
	case lerr == nil:
		return &deniedError{err: err, who: t.who}
	case status(lerr) != http.StatusForbidden:
		return lerr // Vault could not say: report that, not a refusal
	}
	s.drop(t)
	if t, err = s.token(ctx); err != nil {
		return err
	}
	if err = fn(t.client); status(err) == http.StatusForbidden {
		return &deniedError{err: err, who: t.who}
	}
	return err
}

// deniedError is a 403 on a read with a token Vault still accepts: its
// policies do not allow the read.
type deniedError struct {
	err error
	who string
}

func (e *deniedError) Error() string { return e.err.Error() }
func (e *deniedError) Unwrap() error { return e.err }

// status is the HTTP status of a Vault answer that is an error, or 0.
func status(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// withToken is a copy of the base client carrying tok.
func (s *session) withToken(tok string) *api.Client {
	c := s.st.base.WithNamespace(s.st.settings.Namespace)
	c.SetToken(tok)
	return c
}

// signIn gets a new token: from the token file or variable, checked with a
// lookup of itself, or by an AppRole login.
func (s *session) signIn(ctx context.Context) (*token, error) {
	a := s.st.settings.Auth
	if a.Kind == AuthAppRole {
		return s.loginAppRole(ctx)
	}
	tok, err := s.st.readCredential("token", a.TokenFile, a.TokenEnv)
	if err != nil {
		return nil, err
	}
	c := s.withToken(tok)
	sec, err := c.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		if status(err) == http.StatusForbidden {
			return nil, &AuthError{Step: StepAuth, kind: secretstore.ErrUnauthenticated,
				Detail: fmt.Sprintf("Vault refused the token from %s: it is invalid, expired or revoked", a.source()),
				hint:   fmt.Sprintf("Create a new token for credflow with its policy (vault token create -policy=credflow -period=24h) and put it in %s.", a.source())}
		}
		return nil, s.st.transportAuthError(ctx, "look up the token", err)
	}
	t := &token{client: c, who: tokenWho(sec)}
	if sec != nil && sec.Data != nil {
		ttl, _ := sec.Data["ttl"].(json.Number)
		secs, _ := ttl.Int64()
		renewable, _ := sec.Data["renewable"].(bool)
		s.st.lease(t, time.Duration(secs)*time.Second, renewable)
	}
	return t, nil
}

func (s *session) loginAppRole(ctx context.Context) (*token, error) {
	a := s.st.settings.Auth
	secretID, err := s.st.readCredential("secret id", a.SecretIDFile, a.SecretIDEnv)
	if err != nil {
		return nil, err
	}
	c := s.withToken("")
	c.ClearToken()
	sec, err := c.Logical().WriteWithContext(ctx, "auth/"+a.mount()+"/login", map[string]any{"role_id": a.RoleID, "secret_id": secretID})
	if err != nil {
		if st := status(err); st == http.StatusBadRequest || st == http.StatusForbidden {
			return nil, &AuthError{Step: StepAuth, kind: secretstore.ErrUnauthenticated,
				Detail: fmt.Sprintf("Vault refused the AppRole login of role id %q at auth/%s: the secret id from %s is wrong, revoked, expired or used up, or the role id is wrong", a.RoleID, a.mount(), a.source()),
				hint:   fmt.Sprintf("Generate a new secret id for the role (vault write -f auth/%s/role/<role>/secret-id) and put it in %s.", a.mount(), a.source())}
		}
		return nil, s.st.transportAuthError(ctx, "log in with AppRole", err)
	}
	if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
		return nil, &AuthError{Step: StepAuth, kind: secretstore.ErrUnavailable,
			Detail: fmt.Sprintf("Vault's answer to the AppRole login at auth/%s holds no token", a.mount())}
	}
	t := &token{client: s.withToken(sec.Auth.ClientToken), who: appRoleWho(a.RoleID, sec.Auth)}
	s.st.lease(t, time.Duration(sec.Auth.LeaseDuration)*time.Second, sec.Auth.Renewable)
	return t, nil
}

// renew extends t's lease by its original TTL.
func (s *session) renew(ctx context.Context, t *token) (*token, error) {
	sec, err := t.client.Auth().Token().RenewSelfWithContext(ctx, int(t.ttl.Seconds()))
	if err != nil {
		return nil, err
	}
	if sec == nil || sec.Auth == nil {
		return nil, errors.New("hcvault: the renewal answer holds no lease")
	}
	nt := &token{client: t.client, who: t.who}
	lease := time.Duration(sec.Auth.LeaseDuration) * time.Second
	// A lease cut short by the token's maximum TTL cannot grow any more:
	// the next step is a new sign-in.
	s.st.lease(nt, lease, sec.Auth.Renewable && lease*3 >= t.ttl)
	nt.ttl = max(t.ttl, lease)
	return nt, nil
}

// lease fills t's expiry from a lease of d (0: no expiry).
func (st *Store) lease(t *token, d time.Duration, renewable bool) {
	t.ttl, t.renewable = d, renewable
	if d <= 0 {
		return
	}
	now := st.opts.Now()
	t.expires = now.Add(d)
	t.renewAt = now.Add(d * 2 / 3)
}

func tokenWho(sec *api.Secret) string {
	if sec == nil || sec.Data == nil {
		return "credflow's token"
	}
	name, _ := sec.Data["display_name"].(string)
	return describe("the token "+quoteOr(name), stringsOf(sec.Data["policies"]))
}

func appRoleWho(roleID string, a *api.SecretAuth) string {
	who := fmt.Sprintf("the AppRole token of role id %q", roleID)
	if role := a.Metadata["role_name"]; role != "" {
		who = fmt.Sprintf("the AppRole token of role %q", role)
	}
	return describe(who, a.Policies)
}

func describe(who string, policies []string) string {
	sort.Strings(policies)
	if len(policies) == 0 {
		return who
	}
	return fmt.Sprintf("%s (policies %s)", who, strings.Join(policies, ", "))
}

func quoteOr(name string) string {
	if name == "" {
		return "credflow uses"
	}
	return fmt.Sprintf("%q", name)
}

func stringsOf(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// source names where the credential is read from, for messages.
func (a Auth) source() string {
	switch {
	case a.TokenFile != "":
		return "file " + a.TokenFile
	case a.TokenEnv != "":
		return "environment variable " + a.TokenEnv
	case a.SecretIDFile != "":
		return "file " + a.SecretIDFile
	case a.SecretIDEnv != "":
		return "environment variable " + a.SecretIDEnv
	}
	return "the settings"
}

// readCredential reads a token or secret id from its file or variable,
// trimming a final line break. Errors never hold the content.
func (st *Store) readCredential(what, file, env string) (string, error) {
	var v string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", &AuthError{Step: StepAuth, kind: secretstore.ErrUnauthenticated,
				Detail: fmt.Sprintf("cannot read the %s from file %s: %v", what, file, unwrapPathError(err)),
				hint:   fmt.Sprintf("Write the %s to %s, readable by the user credflow runs as.", what, file)}
		}
		v = string(b)
	} else {
		s, ok := st.opts.lookupEnv(env)
		if !ok {
			return "", &AuthError{Step: StepAuth, kind: secretstore.ErrUnauthenticated,
				Detail: fmt.Sprintf("the environment variable %s that should hold the %s is not set", env, what),
				hint:   fmt.Sprintf("Set %s in credflow's environment.", env)}
		}
		v = s
	}
	v = strings.TrimRight(v, "\r\n")
	if strings.TrimSpace(v) == "" {
		return "", &AuthError{Step: StepAuth, kind: secretstore.ErrUnauthenticated,
			Detail: fmt.Sprintf("the %s from %s is empty", what, Auth{TokenFile: file, TokenEnv: env}.source())}
	}
	return v, nil
}
