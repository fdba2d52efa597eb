package webui

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestSessionsAreBounded(t *testing.T) {
	now := time.Now()
	s := NewSessions(SessionOptions{Max: 3, Now: func() time.Time { return now }})
	var ids []string
	for range 4 {
		_, id := s.start("u")
		ids = append(ids, id)
		now = now.Add(time.Second)
	}
	lookup := func(id string) *session {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: id})
		return s.fromRequest(r)
	}
	if lookup(ids[0]) != nil {
		t.Error("the oldest session outlived the bound")
	}
	for _, id := range ids[1:] {
		if lookup(id) == nil {
			t.Error("a newer session went")
		}
	}
	if len(s.byID) != 3 {
		t.Errorf("%d sessions held", len(s.byID))
	}
	for range 5 {
		s.startSignIn(pendingSignIn{})
	}
	if len(s.pending) > 3 {
		t.Errorf("%d sign-ins held", len(s.pending))
	}
}

func TestSignInsExpire(t *testing.T) {
	now := time.Now()
	s := NewSessions(SessionOptions{Now: func() time.Time { return now }})
	state := s.startSignIn(pendingSignIn{next: "/x"})
	late := s.startSignIn(pendingSignIn{})
	if p, ok := s.finishSignIn(state); !ok || p.next != "/x" {
		t.Fatal("a fresh sign-in was not found")
	}
	if _, ok := s.finishSignIn(state); ok {
		t.Fatal("a sign-in finished twice")
	}
	now = now.Add(pendingTTL)
	if _, ok := s.finishSignIn(late); ok {
		t.Fatal("a sign-in outlived its time")
	}
}
