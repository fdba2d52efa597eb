package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// TestSeedScale seeds a small population into a real server: the counts
// are the ones asked for, the first maker sees the credentials shared with
// them, and the runner resolves a seeded connection.
func TestSeedScale(t *testing.T) {
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	client := &http.Client{Timeout: time.Minute}
	admin := apiCaller{base: inst.URL + "/api/v1", token: inst.AdminToken, client: client}
	const n = 60
	sc, err := seedScale(admin, n, population{Users: 30, Groups: 4}, 8)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Items []map[string]any `json:"items"`
	}
	if err := admin.call("GET", "/environment-variables?limit=200", nil, &page); err != nil {
		t.Fatal(err)
	}
	if got := len(page.Items); got != n {
		t.Errorf("%d variables, want %d", got, n)
	}
	if err := admin.call("GET", "/users?limit=200", nil, &page); err != nil || len(page.Items) != 30+2 {
		t.Errorf("%d users (30 makers, the runner and the admin), %v", len(page.Items), err)
	}
	maker := apiCaller{base: admin.base, token: sc.MakerToken, client: client}
	if err := maker.call("GET", "/credentials?limit=200", nil, &page); err != nil {
		t.Fatal(err)
	}
	if got := len(page.Items); got != n/2 {
		t.Errorf("the maker sees %d credentials, want %d", got, n/2)
	}
	runner := apiCaller{base: admin.base, token: sc.RunnerToken, client: client}
	var res struct {
		Password string `json:"password"`
	}
	if err := runner.call("POST", "/connections/scale-0000029/resolve", nil, &res); err != nil || res.Password != "scale-password-value" {
		t.Errorf("resolve a seeded connection: %v", err)
	}
	if _, err := seedScale(admin, 3, population{Users: 1, Groups: 1}, 1); err == nil {
		t.Error("an odd scale was accepted")
	}
}
