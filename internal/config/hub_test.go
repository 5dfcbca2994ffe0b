package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHubConfig(t *testing.T) {
	const gh = "github: {owner: acme, repo: db-roles}\n"
	for _, tc := range []struct {
		name, yaml string
		env        map[string]string
		enabled    bool
		want       string // "" = valid
	}{
		{"off by default", "", nil, false, ""},
		{"on api.listen, which is off", "api: {listen: \"off\"}\nhub: {local_token_env: T}\n", nil, true, "api.listen, which is off"},
		{"github", gh + "hub: {github: {client_id: Iv1.x, client_secret_env: HUB_SECRET}}\n", nil, true, ""},
		{"github without the repository", "hub: {github: {client_id: Iv1.x, client_secret_env: HUB_SECRET}}\n", nil, true, "github.owner"},
		{"github without the secret", gh + "hub: {github: {client_id: Iv1.x}}\n", nil, true, "client_secret_env"},
		{"proxy", "hub: {proxy: {header: X-Forwarded-User, from: [10.1.0.0/16, 192.0.2.7]}}\n", nil, true, ""},
		{"proxy without addresses", "hub: {proxy: {header: X-Forwarded-User}}\n", nil, true, "go together"},
		{"proxy with a bad address", "hub: {proxy: {header: X-User, from: [10.1.0.0/99]}}\n", nil, true, "neither an address nor a CIDR"},
		{"proxy permission", "hub: {proxy: {header: X-User, from: [10.0.0.1], permission: owner}}\n", nil, true, "not a GitHub permission"},
		{"local token from env", "", map[string]string{"ROLECD_HUB_LOCAL_TOKEN_ENV": "DEMO_TOKEN", "ROLECD_HUB_INSECURE_COOKIES": "true"}, true, ""},
		{"insecure cookies off loopback", "api: {listen: 0.0.0.0:8081}\nhub: {insecure_cookies: true, local_token_env: T}\n", nil, true, "loopback"},
		{"insecure cookies with a public base url", "hub: {base_url: https://hub.example.com, insecure_cookies: true, local_token_env: T}\n", nil, true, "base_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rolecd.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path, false, func(k string) string { return tc.env[k] })
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Load: %v, want an error with %q", err, tc.want)
			case err == nil && c.HubEnabled() != tc.enabled:
				t.Errorf("HubEnabled = %v, want %v", c.HubEnabled(), tc.enabled)
			}
		})
	}
}

// The hub's secrets are rolecd's own: never an admin password source.
func TestHubSecretsAreReserved(t *testing.T) {
	c := Defaults()
	c.Hub.CookieKeyEnv, c.Hub.GitHub.ClientSecretEnv, c.Hub.LocalTokenEnv = "HUB_KEY", "HUB_CLIENT_SECRET", "HUB_TOKEN"
	reserved := strings.Join(c.ReservedEnv(), " ")
	for _, name := range []string{"HUB_KEY", "HUB_CLIENT_SECRET", "HUB_TOKEN"} {
		if !strings.Contains(" "+reserved+" ", " "+name+" ") {
			t.Errorf("%s is not reserved: %s", name, reserved)
		}
	}
}
