package rotation

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
)

// PollIntervals gives a store's poll interval (0: never);
// *storeadmin.Service implements it.
type PollIntervals interface {
	PollInterval(ctx context.Context, store string) (time.Duration, error)
}

// StoreList lists the registered stores; *secretstore.Registry implements
// it.
type StoreList interface {
	List() []secretstore.Info
}

// Poller finds the changes no event announced: per store, every poll
// interval (jittered by ±10% so that replicas and stores spread out), it
// reads the metadata of the latest version of every secret a variable
// references, one read at a time so that polling takes a small share of the
// store's read budget, and applies a new version as an event would. Only
// stores that can look a secret up without its value (secretstore.Stater)
// are polled; credflow's own store announces its writes itself.
type Poller struct {
	svc       *Service
	intervals PollIntervals
	list      StoreList
	// Polled hears of each finished poll (the event status shows it).
	polled func(store string, at time.Time)
	tick   time.Duration
	now    func() time.Time

	mu    sync.Mutex
	known map[string]map[string]string // store -> secret (lower-cased) -> latest version seen
	next  map[string]time.Time         // store -> when to poll it next (zero: never)
	every map[string]time.Duration     // store -> the interval next was set by
}

// PollerOption adjusts a Poller.
type PollerOption func(*Poller)

// WithTick sets how often the poller looks for stores that are due (1 s).
func WithTick(d time.Duration) PollerOption { return func(p *Poller) { p.tick = d } }

// WithClock replaces the clock that decides when a store is due (tests).
func WithClock(now func() time.Time) PollerOption { return func(p *Poller) { p.now = now } }

// OnPolled sets what hears of each finished poll.
func OnPolled(fn func(store string, at time.Time)) PollerOption {
	return func(p *Poller) { p.polled = fn }
}

// NewPoller returns a Poller applying changes through svc.
func NewPoller(svc *Service, intervals PollIntervals, list StoreList, opts ...PollerOption) *Poller {
	p := &Poller{svc: svc, intervals: intervals, list: list, polled: func(string, time.Time) {}, tick: time.Second, now: time.Now,
		known: map[string]map[string]string{}, next: map[string]time.Time{}, every: map[string]time.Duration{}}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Run polls the stores as they fall due until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(p.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.due(ctx)
		}
	}
}

// due polls every store whose time has come. A store seen for the first
// time, or whose interval has changed since its poll was scheduled, is next
// polled at a random point of its (new) interval, so that servers started
// together do not poll together, and so that shortening a long interval
// takes effect within the short one rather than after the long one. The
// first poll records the versions later polls compare with (until then the
// cache's TTL bounds the age of a value).
func (p *Poller) due(ctx context.Context) {
	for _, info := range p.list.List() {
		now := p.now()
		interval, err := p.intervals.PollInterval(ctx, info.Name)
		if err != nil || interval < 0 {
			// Unknown here yet: never polled until it is known.
			interval = 0
		}
		p.mu.Lock()
		next, seen := p.next[info.Name]
		every := p.every[info.Name]
		p.mu.Unlock()
		switch {
		case interval == 0:
			p.schedule(info.Name, time.Time{}, 0)
			continue
		case !seen || every != interval:
			p.schedule(info.Name, now.Add(time.Duration(rand.Float64()*float64(interval))), interval)
			continue
		case now.Before(next):
			continue
		}
		if err := p.pollContained(ctx, info.Name); err != nil && ctx.Err() == nil {
			p.svc.log.LogAttrs(ctx, slog.LevelWarn, "could not poll a store's secret versions",
				slog.String("store", info.Name), slog.String("error", err.Error()))
		}
		p.schedule(info.Name, p.now().Add(jitter(interval)), interval)
	}
}

// pollContained polls store in the background, where a store client's
// panic would end the process: it fails that poll instead.
func (p *Poller) pollContained(ctx context.Context, store string) (err error) {
	defer secretstore.ContainPanic("poll store "+store, &err)
	_, err = p.Poll(ctx, store)
	return err
}

func (p *Poller) schedule(store string, at time.Time, every time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next[store], p.every[store] = at, every
}

// jitter spreads d by ±10%.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

// Poll reads the latest version of every secret of store that a variable
// references without pinning a version, and applies each that differs from
// the version the previous poll saw. It returns the secrets that changed.
// A secret that cannot be read now is skipped until the next poll.
func (p *Poller) Poll(ctx context.Context, store string) ([]string, error) {
	st, info, err := p.svc.stores.Lookup(store)
	if err != nil {
		return nil, err
	}
	stater, ok := st.(secretstore.Stater)
	if _, written := st.(secretstore.Writer); !ok || written {
		// A store credflow writes to announces its new versions itself.
		return nil, nil
	}
	vars, err := p.svc.vars.ReferencingSecret(ctx, info.ID, "")
	if err != nil {
		return nil, err
	}
	names := map[string]string{} // lower-cased -> as first spelled
	for _, v := range vars {
		if v.Secret == nil {
			continue
		}
		ref, err := st.ParseRef(v.Secret.Ref)
		if err != nil || ref.Version != "" {
			continue
		}
		if _, ok := names[strings.ToLower(ref.Name)]; !ok {
			names[strings.ToLower(ref.Name)] = ref.Name
		}
	}
	p.mu.Lock()
	known := p.known[info.Name]
	if known == nil {
		known = map[string]string{}
		p.known[info.Name] = known
	}
	p.mu.Unlock()
	var changed []string
	for key, name := range names {
		if ctx.Err() != nil {
			return changed, ctx.Err()
		}
		meta, err := stater.Stat(ctx, secretstore.Ref{Name: name})
		if err != nil {
			continue
		}
		p.mu.Lock()
		prev, seen := known[key]
		known[key] = meta.Version
		p.mu.Unlock()
		if !seen || prev == meta.Version {
			continue
		}
		if _, err := p.svc.SecretChanged(ctx, Change{Store: info.Name, Secret: name, Kind: NewVersion, Source: SourcePoll}); err != nil {
			return changed, err
		}
		changed = append(changed, name)
	}
	p.mu.Lock()
	for key := range known {
		if _, ok := names[key]; !ok {
			delete(known, key) // no longer referenced
		}
	}
	p.mu.Unlock()
	p.polled(info.Name, p.now())
	return changed, nil
}
