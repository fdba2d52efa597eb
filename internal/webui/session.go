package webui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Cookie and form field names.
const (
	sessionCookie = "credflow_session"
	// signInCookie carries the sign-in form's CSRF token (double submit):
	// there is no session yet to hold it.
	signInCookie = "credflow_signin"
	csrfField    = "csrf"
)

// Defaults of SessionOptions.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxAge      = 12 * time.Hour
	DefaultMaxSessions = 10000
)

// SessionOptions configure Sessions. Zero fields take the defaults.
type SessionOptions struct {
	// IdleTimeout ends a session that made no request for that long.
	IdleTimeout time.Duration
	// MaxAge ends a session that long after its sign-in, however busy.
	MaxAge time.Duration
	// Max bounds how many sessions are held; past it the oldest goes.
	Max int
	// Now is the clock (tests move it).
	Now func() time.Time
}

// Sessions holds the signed-in browsers of this process, in memory: a
// session is a random id in an HttpOnly cookie, known here only by its
// SHA-256, with the user it signed in, its CSRF token and its times. A
// restart signs everyone out, and replicas behind a load balancer need
// sticky sessions.
type Sessions struct {
	opts SessionOptions
	mu   sync.Mutex
	byID map[[32]byte]*session
	// pending are the single sign-ons sent to the issuer, by state.
	pending map[string]pendingSignIn
}

// session is one signed-in browser.
type session struct {
	key     [32]byte
	userID  string
	csrf    string
	created time.Time
	seen    time.Time
	// flash is a one-time message for the next page.
	flash string
}

// NewSessions returns an empty session table.
func NewSessions(opts SessionOptions) *Sessions {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Max <= 0 {
		opts.Max = DefaultMaxSessions
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sessions{opts: opts, byID: map[[32]byte]*session{}, pending: map[string]pendingSignIn{}}
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// start makes a session for userID and returns it with its cookie value.
func (s *Sessions) start(userID string) (*session, string) {
	id := randomToken()
	now := s.opts.Now()
	sess := &session{key: sha256.Sum256([]byte(id)), userID: userID, csrf: randomToken(), created: now, seen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	if len(s.byID) >= s.opts.Max {
		var oldest *session
		for _, o := range s.byID {
			if oldest == nil || o.created.Before(oldest.created) {
				oldest = o
			}
		}
		delete(s.byID, oldest.key)
	}
	s.byID[sess.key] = sess
	return sess, id
}

// sweep drops expired sessions and sign-ins; s.mu is held.
func (s *Sessions) sweep(now time.Time) {
	for k, o := range s.byID {
		if s.expired(o, now) {
			delete(s.byID, k)
		}
	}
	for k, p := range s.pending {
		if now.Sub(p.created) >= pendingTTL {
			delete(s.pending, k)
		}
	}
}

// startSignIn keeps a sign-in sent to the issuer and returns its state.
// Past the bound, the sign-ins in progress start over.
func (s *Sessions) startSignIn(p pendingSignIn) string {
	state := randomToken()
	now := s.opts.Now()
	p.created = now
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	if len(s.pending) >= s.opts.Max {
		clear(s.pending)
	}
	s.pending[state] = p
	return state
}

// finishSignIn returns, and forgets, the sign-in with state.
func (s *Sessions) finishSignIn(state string) (pendingSignIn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[state]
	delete(s.pending, state)
	if !ok || s.opts.Now().Sub(p.created) >= pendingTTL {
		return pendingSignIn{}, false
	}
	return p, true
}

func (s *Sessions) expired(o *session, now time.Time) bool {
	return now.Sub(o.seen) >= s.opts.IdleTimeout || now.Sub(o.created) >= s.opts.MaxAge
}

// fromRequest returns the live session the request's cookie names, seen
// now, or nil.
func (s *Sessions) fromRequest(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	key := sha256.Sum256([]byte(c.Value))
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.byID[key]
	if !ok {
		return nil
	}
	if s.expired(o, now) {
		delete(s.byID, key)
		return nil
	}
	o.seen = now
	return o
}

// end signs a session out.
func (s *Sessions) end(o *session) {
	s.mu.Lock()
	delete(s.byID, o.key)
	s.mu.Unlock()
}

// takeFlash returns the session's one-time message and forgets it.
func (s *Sessions) takeFlash(o *session) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := o.flash
	o.flash = ""
	return f
}

// setFlash leaves a message for the session's next page.
func (s *Sessions) setFlash(o *session, msg string) {
	s.mu.Lock()
	o.flash = msg
	s.mu.Unlock()
}

// checkCSRF compares a form's token with the session's in constant time.
func (o *session) checkCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(o.csrf)) == 1
}

// setCookie hands the browser its session id.
func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		Secure: u.secure(r), SameSite: http.SameSiteLaxMode})
}

// clearCookie makes the browser forget its session id.
func (u *UI) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: u.secure(r), SameSite: http.SameSiteLaxMode})
}
