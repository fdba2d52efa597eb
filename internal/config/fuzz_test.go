package config

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseFile feeds the configuration file decoder arbitrary bytes: it
// never panics, it decides the same way twice, a decoded file applies to
// the defaults without a panic, and a refusal never repeats the password
// of a database URL it was given.
func FuzzParseFile(f *testing.F) {
	for _, seed := range []string{
		"",
		"data-dir: /var/lib/credflow\naddr: 127.0.0.1:8080\n",
		"database: postgres://credflow:hunter2secret@db/credflow\n",
		"database: postgres://db/credflow?password=hunter2secret\n",
		"cache-max-entries: 500\nstore-call-timeout: 3s\n",
		"unknown: 1\ndata-dir: [a, b]\n",
		"- a\n- b\n",
		"addr: &a x\nlog-level: *a\n",
		"master-key: abc\n",
		"access-log: maybe\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseFile(data)
		again, err2 := ParseFile(data)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) || !reflect.DeepEqual(got, again) {
			t.Fatalf("two decodes differ: %v / %v", err, err2)
		}
		if err == nil {
			c := Defaults()
			got.Apply(&c)
			return
		}
		for _, line := range strings.Split(string(data), "\n") {
			v, ok := strings.CutPrefix(line, "database:")
			if !ok {
				continue
			}
			u, perr := url.Parse(strings.TrimSpace(v))
			if perr != nil {
				continue
			}
			pass, _ := u.User.Password()
			if pass == "" {
				pass = u.Query().Get("password")
			}
			if len(pass) >= 6 && strings.Contains(err.Error(), pass) {
				t.Fatalf("the refusal repeats the database password: %v", err)
			}
		}
	})
}
