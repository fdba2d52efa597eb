package builtin

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/secretstore"
)

// Errors checked with errors.Is.
var (
	// ErrKeyChanged: a write was made under a master key that is no
	// longer the database's (a rotation began meanwhile). Put reloads the
	// keys and writes again.
	ErrKeyChanged = errors.New("builtin: the database's master key changed")
	// ErrRotationInProgress: another rotation, to another key, has not
	// finished; it must be finished first.
	ErrRotationInProgress = errors.New("builtin: another master-key rotation has not finished")
	// ErrSameKey: the new master key is the current one.
	ErrSameKey = errors.New("builtin: the new master key is the current one")
	// ErrBadKeyFile: a key file given for a rotation cannot be used.
	ErrBadKeyFile = errors.New("builtin: the key file cannot be used")
	// ErrKeyUnknown: a row or value is wrapped under a master key this
	// store does not hold.
	ErrKeyUnknown = errors.New("builtin: wrapped under a master key that is not loaded")
)

// Rotation is a master-key rotation under way: every row wrapped under From
// is being wrapped under To. While it lasts, each key is kept wrapped under
// the other, so that a server holding either can read every row; both are
// removed when it finishes, after which From opens nothing.
type Rotation struct {
	From, To    string
	FromUnderTo []byte
	ToUnderFrom []byte
}

// Cursor is a position in the rows' (name, version) order; the zero Cursor
// is before the first.
type Cursor struct {
	Name    string
	Version int
}

// KeyState is what the database records about its master keys.
type KeyState struct {
	// Bound is the ID of the key new rows are written under ("" before
	// the first).
	Bound string
	// Rotation is the rotation under way, or nil.
	Rotation *Rotation
}

// KeyRepository is the optional capability of a Repository that rotation
// and wrapped values need. metadb implements it.
type KeyRepository interface {
	// KeyState returns the master-key state.
	KeyState(ctx context.Context) (KeyState, error)
	// BeginRotation records r, binds the database to r.To and rewraps
	// every wrapped value with rewrap, with the audit entry e, in one
	// transaction. A rotation to r.To already under way is returned as it
	// is (resumed true); one to another key gives ErrRotationInProgress.
	BeginRotation(ctx context.Context, r Rotation, rewrap func(name string, wrapped []byte) ([]byte, error), e audit.Entry) (cur Rotation, resumed bool, err error)
	// RewrapBatch rewraps, in one transaction, up to n rows wrapped under
	// r.From that come after after in (name, version) order, and returns
	// the last one's position and how many it rewrapped (0: none is left).
	RewrapBatch(ctx context.Context, r Rotation, after Cursor, n int, rewrap func(Record) ([]byte, error)) (Cursor, int, error)
	// FinishRotation checks that no row is wrapped under another key than
	// r.To, forgets the rotation (and so both cross-wrapped keys) and adds
	// the audit entry e, in one transaction.
	FinishRotation(ctx context.Context, r Rotation, e audit.Entry) error
	// PutWrapped keeps a value wrapped under the key keyID under name,
	// unless name is taken; GetWrapped returns it (ok false when absent).
	PutWrapped(ctx context.Context, name, keyID string, wrapped []byte) error
	GetWrapped(ctx context.Context, name string) (keyID string, wrapped []byte, ok bool, err error)
}

// keyring returns the store's keys and the ID of the one new rows are
// written under.
func (s *Store) keyring() (map[string]cipher.AEAD, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys, s.keyID
}

// loadKeys makes the keyring from the loaded key and the database's state:
// during a rotation the other key is unwrapped from the database.
func (s *Store) loadKeys(ctx context.Context) error {
	kr, ok := s.repo.(KeyRepository)
	if !ok || s.Sealed() {
		return nil
	}
	st, err := kr.KeyState(ctx)
	if err != nil {
		return fmt.Errorf("builtin: read master-key state: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := map[string]cipher.AEAD{s.loadedID: s.loaded}
	write := s.loadedID
	if r := st.Rotation; r != nil {
		var other string
		var wrapped []byte
		switch s.loadedID {
		case r.From:
			other, wrapped = r.To, r.ToUnderFrom
		case r.To:
			other, wrapped = r.From, r.FromUnderTo
		}
		if other != "" {
			k, err := s.loaded.Open(nil, nil, wrapped, associatedData(purposeMasterKey, other, 0))
			if err != nil {
				return fmt.Errorf("builtin: open master key %s, kept wrapped during the rotation: %w", other, err)
			}
			aead, err := newGCM(k)
			clear(k)
			if err != nil {
				return fmt.Errorf("builtin: %w", err)
			}
			keys[other] = aead
		}
	}
	// Keys learnt earlier stay: a server started with the old key file
	// goes on reading after the rotation finished, until it restarts.
	for id, k := range s.keys {
		if _, ok := keys[id]; !ok {
			keys[id] = k
		}
	}
	if _, ok := keys[st.Bound]; ok {
		write = st.Bound
	} else if st.Bound != "" && s.source != nil {
		// The database moved to a key this store never learnt: the key
		// file may hold it by now.
		if b, err := s.source(); err == nil {
			if KeyID(b) == st.Bound {
				if aead, err := newGCM(b); err == nil {
					keys[st.Bound], write = aead, st.Bound
				}
			}
			clear(b)
		}
	}
	s.keys, s.keyID = keys, write
	return nil
}

// Refresh reloads the master-key state from the database: another replica
// began or finished a rotation.
func (s *Store) Refresh(ctx context.Context) error { return s.loadKeys(ctx) }

// key returns the AEAD for keyID, reloading the state once when it is
// unknown.
func (s *Store) key(ctx context.Context, keyID string) (cipher.AEAD, error) {
	keys, _ := s.keyring()
	if k, ok := keys[keyID]; ok {
		return k, nil
	}
	if err := s.loadKeys(ctx); err != nil {
		return nil, err
	}
	keys, _ = s.keyring()
	if k, ok := keys[keyID]; ok {
		return k, nil
	}
	if k := s.fromSource(keyID); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("master key %s: %w", keyID, ErrKeyUnknown)
}

// SetKeySource gives the store a way to read its key file again: a server
// that missed a whole rotation (cut off from the database while it ran)
// then picks up the new key once the file holds it, without a restart.
func (s *Store) SetKeySource(read func() ([]byte, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.source = read
}

// fromSource reads the key file again and keeps its key when it is keyID.
func (s *Store) fromSource(keyID string) cipher.AEAD {
	s.mu.RLock()
	read := s.source
	s.mu.RUnlock()
	if read == nil {
		return nil
	}
	b, err := read()
	if err != nil || KeyID(b) != keyID {
		clear(b)
		return nil
	}
	aead, err := newGCM(b)
	clear(b)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := map[string]cipher.AEAD{keyID: aead}
	for id, k := range s.keys {
		keys[id] = k
	}
	s.keys = keys
	return aead
}

// Wrap keeps b wrapped under the database's master key as name, unless a
// value is kept under that name already; Unwrap returns the value kept as
// name. A rotation rewraps every such value with the rows.
func (s *Store) Wrap(ctx context.Context, name string, b []byte) error {
	kr, ok := s.repo.(KeyRepository)
	if !ok || s.Sealed() {
		return errors.New("builtin: wrap: needs the master key and a key repository")
	}
	keys, id := s.keyring()
	w := keys[id].Seal(nil, nil, b, associatedData(purposeWrapped, name, 0))
	return kr.PutWrapped(ctx, name, id, w)
}

// Unwrap returns the value kept wrapped as name, and whether there is one.
func (s *Store) Unwrap(ctx context.Context, name string) ([]byte, bool, error) {
	kr, ok := s.repo.(KeyRepository)
	if !ok || s.Sealed() {
		return nil, false, errors.New("builtin: unwrap: needs the master key and a key repository")
	}
	id, w, ok, err := kr.GetWrapped(ctx, name)
	if err != nil || !ok {
		return nil, false, err
	}
	k, err := s.key(ctx, id)
	if err != nil {
		return nil, false, fmt.Errorf("builtin: unwrap %s: %w", name, err)
	}
	b, err := k.Open(nil, nil, w, associatedData(purposeWrapped, name, 0))
	if err != nil {
		return nil, false, fmt.Errorf("builtin: unwrap %s: it does not open under master key %s: %w", name, id, ErrWrongKey)
	}
	return b, true, nil
}

// RotateOptions tune a rotation.
type RotateOptions struct {
	// Batch is how many rows one transaction rewraps (default 500).
	Batch int
	// Actor is who asked, for the audit records.
	Actor string
	// AfterBatch, when set, is called after each committed batch; an error
	// stops the rotation there, as a crash would (tests).
	AfterBatch func(batch int) error
}

// RotateResult says what a rotation did.
type RotateResult struct {
	From, To  string
	Resumed   bool
	Rewrapped int
	Batches   int
}

// Rotate rewraps every row (and every wrapped value) under newKey, in
// batches of their own transactions, so that the store serves throughout:
// from the first step on, new rows are written under newKey and rows under
// either key are read. current is the loaded master key (its bytes, which
// the store does not keep), needed to begin; a rotation stopped half-way (a
// crash) is resumed by calling Rotate again with the same new key, on a
// server started with either key. When it returns without error no row is
// wrapped under the old key, and the database no longer holds it in any form.
func (s *Store) Rotate(ctx context.Context, current, newKey []byte, opts RotateOptions) (RotateResult, error) {
	kr, ok := s.repo.(KeyRepository)
	if !ok {
		return RotateResult{}, errors.New("builtin: rotate: the repository cannot rotate keys")
	}
	if s.Sealed() {
		return RotateResult{}, fmt.Errorf("builtin: rotate: %w", secretstore.ErrSealed)
	}
	if len(newKey) != KeySize {
		return RotateResult{}, fmt.Errorf("builtin: rotate: the new master key is %d bytes, want %d", len(newKey), KeySize)
	}
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	to, err := newGCM(newKey)
	if err != nil {
		return RotateResult{}, fmt.Errorf("builtin: rotate: %w", err)
	}
	toID := KeyID(newKey)
	if err := s.loadKeys(ctx); err != nil {
		return RotateResult{}, err
	}
	st, err := kr.KeyState(ctx)
	if err != nil {
		return RotateResult{}, fmt.Errorf("builtin: rotate: %w", err)
	}
	var r Rotation
	switch {
	case st.Rotation != nil && st.Rotation.To != toID:
		return RotateResult{}, fmt.Errorf("builtin: rotate to %s: the rotation from %s to %s must be finished first: %w", toID, st.Rotation.From, st.Rotation.To, ErrRotationInProgress)
	case st.Rotation != nil:
		r = *st.Rotation
	case st.Bound == toID:
		return RotateResult{}, fmt.Errorf("builtin: rotate to %s: %w", toID, ErrSameKey)
	case KeyID(current) != st.Bound:
		return RotateResult{}, fmt.Errorf("builtin: rotate: the loaded master key is %s, the database's is %s: %w", KeyID(current), st.Bound, ErrWrongKey)
	default:
		cur, err := newGCM(current)
		if err != nil {
			return RotateResult{}, fmt.Errorf("builtin: rotate: %w", err)
		}
		r = Rotation{From: st.Bound, To: toID,
			FromUnderTo: to.Seal(nil, nil, current, associatedData(purposeMasterKey, st.Bound, 0)),
			ToUnderFrom: cur.Seal(nil, nil, newKey, associatedData(purposeMasterKey, toID, 0))}
	}
	fromID := r.From
	from, err := s.key(ctx, fromID)
	if err != nil {
		return RotateResult{}, fmt.Errorf("builtin: rotate: %w", err)
	}
	res := RotateResult{From: fromID, To: toID}
	r, res.Resumed, err = kr.BeginRotation(ctx, r, func(name string, w []byte) ([]byte, error) {
		ad := associatedData(purposeWrapped, name, 0)
		b, err := from.Open(nil, nil, w, ad)
		if err != nil {
			// Rewrapped already by an earlier, interrupted attempt.
			if _, err2 := to.Open(nil, nil, w, ad); err2 == nil {
				return w, nil
			}
			return nil, fmt.Errorf("wrapped value %s does not open under master key %s", name, fromID)
		}
		defer clear(b)
		return to.Seal(nil, nil, b, ad), nil
	}, audit.Entry{Actor: opts.Actor, Action: "master_key.rotate.begin", Resource: "master-key:" + toID, Outcome: audit.Success,
		Reason: fmt.Sprintf("rows wrapped under master key %s are rewrapped under %s; new rows are written under %s", fromID, toID, toID)})
	if err != nil {
		return res, fmt.Errorf("builtin: rotate: %w", err)
	}
	s.mu.Lock()
	nk := map[string]cipher.AEAD{toID: to}
	for id, k := range s.keys {
		nk[id] = k
	}
	s.keys, s.keyID = nk, toID
	s.mu.Unlock()
	var at Cursor
	for {
		var n int
		at, n, err = kr.RewrapBatch(ctx, r, at, opts.Batch, func(rec Record) ([]byte, error) {
			return rewrap(from, to, rec.Name, rec.Version, rec.WrappedKey)
		})
		if err != nil {
			return res, fmt.Errorf("builtin: rotate: batch %d: %w", res.Batches+1, err)
		}
		if n == 0 {
			break
		}
		res.Rewrapped += n
		res.Batches++
		if opts.AfterBatch != nil {
			if err := opts.AfterBatch(res.Batches); err != nil {
				return res, fmt.Errorf("builtin: rotate: stopped after batch %d: %w", res.Batches, err)
			}
		}
	}
	if err := kr.FinishRotation(ctx, r, audit.Entry{Actor: opts.Actor, Action: "master_key.rotate", Resource: "master-key:" + toID, Outcome: audit.Success,
		Reason: fmt.Sprintf("every row is wrapped under master key %s; master key %s opens nothing any more", toID, fromID)}); err != nil {
		return res, fmt.Errorf("builtin: rotate: %w", err)
	}
	return res, nil
}
