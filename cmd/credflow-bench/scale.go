package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// scale is what a scale seed made: a maker who sees (up to) 1,000
// credentials, and a runner of every connection's group.
type scale struct {
	MakerToken, RunnerToken string
}

// apiCaller sends admin requests to one server.
type apiCaller struct {
	base, token string
	client      *http.Client
}

func (c apiCaller) call(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		return &statusError{method: method, path: path, status: res.StatusCode, body: raw}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// statusError is an answer other than 2xx.
type statusError struct {
	method, path string
	status       int
	body         []byte
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.body)
}

// seedTries bounds the attempts at one seeding request.
const seedTries = 5

// ensure is call for a request that makes an object the seed names: it is
// tried again after a failure of the server (5xx) or the connection, and
// an object that exists already (409, when an earlier attempt or an
// earlier, interrupted seed made it) counts as made. A seed can so be run
// again to finish one that stopped.
func (c apiCaller) ensure(method, path string, body any) error {
	var err error
	for try := range seedTries {
		if try > 0 {
			time.Sleep(time.Duration(100<<try) * time.Millisecond)
		}
		err = c.call(method, path, body, nil)
		var se *statusError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &se) && se.status == http.StatusConflict && method == "POST":
			return nil
		case errors.As(err, &se) && se.status < 500:
			return err
		}
	}
	return err
}

// parallel runs do(i) for i in [0, n) from workers goroutines and returns
// the first error.
func parallel(n, workers int, do func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := do(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n)) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// makerSees is how many credentials the first maker is given.
const makerSees = 1000

// population is who a scale seed creates besides the objects.
type population struct {
	Users, Groups int // makers, and the groups they are spread over
}

// seedScale creates, through the API, n variables (half text, half secret
// on the built-in store), n/2 credentials and n/2 connections, the makers
// spread over the groups, a share of every credential with a group, and
// shares that let the first maker see up to 1,000 credentials.
func seedScale(c apiCaller, n int, pop population, workers int) (scale, error) {
	var out scale
	if n < 2 || n%2 != 0 {
		return out, fmt.Errorf("scale %d: want an even number of variables, at least 2", n)
	}
	if pop.Users < 1 || pop.Groups < 1 {
		return out, fmt.Errorf("want at least one user and one group, not %d and %d", pop.Users, pop.Groups)
	}
	pairs := n / 2
	if err := c.ensure("PUT", "/stores/local/secrets/scale-password", map[string]string{"value": "scale-password-value"}); err != nil {
		return out, err
	}
	steps := []struct {
		what  string
		count int
		do    func(i int) error
	}{
		{"groups", pop.Groups, func(i int) error {
			return c.ensure("POST", "/groups", map[string]any{"name": fmt.Sprintf("scale-group-%03d", i)})
		}},
		{"users", pop.Users, func(i int) error {
			name := fmt.Sprintf("scale-user-%04d", i)
			if err := c.ensure("POST", "/users", map[string]any{"name": name, "role": "maker"}); err != nil {
				return err
			}
			return c.ensure("PUT", fmt.Sprintf("/groups/scale-group-%03d/members/%s", i%pop.Groups, name), nil)
		}},
		{"variables", n, func(i int) error {
			if i%2 == 0 {
				return c.ensure("POST", "/environment-variables", map[string]any{"schemaName": fmt.Sprintf("cf_ScaleU%07d", i/2),
					"displayName": fmt.Sprintf("scale user %d", i/2), "type": "text", "value": fmt.Sprintf("svc_%d", i/2)})
			}
			return c.ensure("POST", "/environment-variables", map[string]any{"schemaName": fmt.Sprintf("cf_ScaleP%07d", i/2),
				"displayName": fmt.Sprintf("scale password %d", i/2), "type": "secret",
				"secretRef": map[string]string{"store": "local", "ref": "scale-password"}})
		}},
		{"runner group", 1, func(int) error {
			return c.ensure("POST", "/runner-groups", map[string]any{"name": "scale-runners"})
		}},
		{"credentials and connections", pairs, func(i int) error {
			name := fmt.Sprintf("scale-%07d", i)
			if err := c.ensure("POST", "/credentials", map[string]any{"name": name, "username": fmt.Sprintf("cf_ScaleU%07d", i),
				"password": fmt.Sprintf("cf_ScaleP%07d", i)}); err != nil {
				return err
			}
			if err := c.ensure("PUT", fmt.Sprintf("/credentials/%s/shares/group:scale-group-%03d", name, i%pop.Groups), map[string]any{"role": "user"}); err != nil {
				return err
			}
			if i < makerSees {
				if err := c.ensure("PUT", fmt.Sprintf("/credentials/%s/shares/user:scale-user-0000", name), map[string]any{"role": "user"}); err != nil {
					return err
				}
			}
			return c.ensure("POST", "/connections", map[string]any{"name": name, "credential": name, "runnerGroup": "scale-runners"})
		}},
	}
	for _, s := range steps {
		if err := parallel(s.count, workers, s.do); err != nil {
			return out, fmt.Errorf("seed %s: %w", s.what, err)
		}
	}
	if err := c.ensure("POST", "/users", map[string]any{"name": "scale-runner", "role": "runner", "runnerGroup": "scale-runners"}); err != nil {
		return out, err
	}
	for _, t := range []struct {
		user string
		dst  *string
	}{{"scale-user-0000", &out.MakerToken}, {"scale-runner", &out.RunnerToken}} {
		var tok struct {
			Token string `json:"token"`
		}
		if err := c.call("POST", "/tokens", map[string]any{"name": "scale", "user": t.user}, &tok); err != nil {
			return out, err
		}
		*t.dst = tok.Token
	}
	return out, nil
}
