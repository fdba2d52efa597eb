package webui

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
)

// OIDCOptions configure the sign-in with the server's OpenID Connect
// issuer (the authorization code flow with PKCE); the issuer and the
// client id (its audience) are the API's.
type OIDCOptions struct {
	// RedirectURL is the callback as the issuer knows it; "" derives it
	// from the request's host.
	RedirectURL string
	// ClientSecret is a confidential client's secret; "" for a public
	// client.
	ClientSecret string
}

// oidcCookie binds a sign-in in progress to the browser that started it.
const oidcCookie = "credflow_oidc"

// oidcPath is where the sign-in starts; the issuer sends the browser back
// to oidcPath + "/callback".
const oidcPath = "/signin/oidc"

// pendingSignIn is a sign-in sent to the issuer and not back yet.
type pendingSignIn struct {
	verifier, nonce, next, redirect string
	created                         time.Time
}

// pendingTTL is how long the issuer may take to send the browser back.
const pendingTTL = 10 * time.Minute

func (u *UI) redirectURL(r *http.Request) string {
	if u.OIDC.RedirectURL != "" {
		return u.OIDC.RedirectURL
	}
	scheme := "http"
	if u.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host + oidcPath + "/callback"
}

func (u *UI) oauthConfig(flow access.OIDCFlow, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: flow.ClientID, ClientSecret: u.OIDC.ClientSecret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: flow.AuthURL, TokenURL: flow.TokenURL}, Scopes: []string{"openid", "profile", "email"}}
}

// oidcStart sends the browser to the issuer with a fresh state, nonce and
// PKCE verifier, which it keeps until the browser comes back.
func (u *UI) oidcStart(w http.ResponseWriter, r *http.Request, t *templates) {
	flow, err := u.Access.OIDCFlow(r.Context())
	if errors.Is(err, access.ErrNoOIDC) {
		u.signInPage(w, r, t, "Single sign-on is not configured on this server: sign in with an API token.", http.StatusNotFound)
		return
	}
	if err != nil {
		u.Log.Warn("oidc sign-in: issuer unavailable", "error", err.Error())
		u.signInPage(w, r, t, "The identity provider could not be reached; try again in a moment, or sign in with an API token.", http.StatusBadGateway)
		return
	}
	p := pendingSignIn{verifier: oauth2.GenerateVerifier(), nonce: randomToken(), next: localPath(r.URL.Query().Get("next")),
		redirect: u.redirectURL(r)}
	state := u.Sessions.startSignIn(p)
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: state, Path: oidcPath, HttpOnly: true, Secure: u.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(pendingTTL.Seconds())})
	to := u.oauthConfig(flow, p.redirect).AuthCodeURL(state, oauth2.S256ChallengeOption(p.verifier), oauth2.SetAuthURLParam("nonce", p.nonce))
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// oidcCallback takes the browser back from the issuer: the state must be
// the one this browser was sent with, the code is exchanged with the
// verifier, and the ID token must verify and carry the nonce.
func (u *UI) oidcCallback(w http.ResponseWriter, r *http.Request, t *templates) {
	q := r.URL.Query()
	state := q.Get("state")
	c, err := r.Cookie(oidcCookie)
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: oidcPath, MaxAge: -1, HttpOnly: true, Secure: u.secure(r), SameSite: http.SameSiteLaxMode})
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		u.signInPage(w, r, t, "This sign-in was not started by this browser, or took too long. Start again.", http.StatusForbidden)
		return
	}
	p, ok := u.Sessions.finishSignIn(state)
	if !ok {
		u.signInPage(w, r, t, "This sign-in was not started by this browser, or took too long. Start again.", http.StatusForbidden)
		return
	}
	if e := q.Get("error"); e != "" {
		u.signInPage(w, r, t, "The identity provider did not sign you in ("+e+").", http.StatusUnauthorized)
		return
	}
	flow, err := u.Access.OIDCFlow(r.Context())
	if err != nil {
		u.signInPage(w, r, t, "The identity provider could not be reached; try again in a moment.", http.StatusBadGateway)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), oauth2.HTTPClient, flow.HTTPClient), 15*time.Second)
	defer cancel()
	tok, err := u.oauthConfig(flow, p.redirect).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		u.Log.Warn("oidc sign-in: code exchange failed", "error", err.Error())
		u.signInPage(w, r, t, "The identity provider did not accept the sign-in's code. Start again.", http.StatusUnauthorized)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	pr, err := u.Access.SignInOIDC(r.Context(), raw, p.nonce)
	if err == nil && pr.Role == access.RoleRunner {
		err = errRunner
	}
	if err != nil {
		msg := "The identity provider's answer was not accepted: your account may be unknown to credflow."
		switch {
		case errors.Is(err, errRunner):
			msg = "A runner cannot sign in to the web interface."
		case errors.Is(err, access.ErrUnauthenticated) && u.SignIns != nil:
			_ = u.SignIns.Failed(r.Context(), audit.RequestFrom(r.Context()).Client, err.Error())
		case !errors.Is(err, access.ErrUnauthenticated):
			u.Log.Error("oidc sign-in failed", "error", err.Error())
			msg = "Signing in failed on the server; try again, or ask the administrator to look at the server log."
		}
		u.signInPage(w, r, t, msg, http.StatusUnauthorized)
		return
	}
	_, id := u.Sessions.start(pr.ID)
	u.setCookie(w, r, id)
	http.Redirect(w, r, p.next, http.StatusSeeOther)
}
