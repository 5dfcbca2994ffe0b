package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
)

// commandHelp is the example and the exit statuses of one command, shown
// by --help.
type commandHelp struct {
	example string
	exits   string
}

// exitsDefault is the exit status of commands that either work or fail.
const exitsDefault = "0 ok; 1 error (the reason on stderr)."

// helps are keyed by command path without the leading "rolecd ".
func helps() map[string]commandHelp {
	return map[string]commandHelp{
		"": {
			example: "  rolecd validate                  # check the role files, offline\n" +
				"  rolecd plan -o plan.json         # what would change, saved for review\n" +
				"  rolecd apply -f plan.json        # apply exactly that\n" +
				"  rolecd sessions list --kind apply",
			exits: "0 ok or no changes; 2 plan found changes; 3 apply refused (drift or checksum); 1 any other error.",
		},
		"version": {example: "  rolecd version\n  rolecd --version", exits: exitsDefault},
		"validate": {
			example: "  rolecd validate                       # the default location: git.path, roles/, or .\n" +
				"  rolecd validate roles.example\n" +
				"  rolecd validate --repo roles hoop-roles.csv",
			exits: "0 valid; 1 problems found (each with file and line on stdout) or an error.",
		},
		"health": {
			example: "  rolecd health\n  rolecd health --resource analytics --output json",
			exits:   "0 every resource answered; 1 a resource failed, there are no resources, or an error.",
		},
		"plan": {
			example: "  rolecd plan\n" +
				"  rolecd plan --resource analytics -o plan.json\n" +
				"  rolecd plan --resource analytics --role auditor --scopes legacy --privileges SELECT\n" +
				"  rolecd plan -f hoop-roles.csv          # a Hoop CSV or batch plan file, Hoop's meaning kept",
			exits: "0 nothing to change; 2 changes planned; 1 an error, or a resource (or Hoop batch item) could not be planned.",
		},
		"apply": {
			example: "  rolecd apply --sid 0b9d5c3e-6f1a-4c44-9a53-1f1e0c2d7a10\n  rolecd apply -f plan.json",
			exits:   "0 applied (or nothing to do); 3 refused: the live state drifted since the plan; 1 a role failed or an error.",
		},
		"sessions": {example: "  rolecd sessions list --kind plan --since 24h\n  rolecd sessions show SID", exits: exitsDefault},
		"sessions list": {
			example: "  rolecd sessions list\n" +
				"  rolecd sessions list --kind apply --status refused --since 2026-11-01\n" +
				"  rolecd sessions list --resource analytics --limit 10 --output json",
			exits: exitsDefault,
		},
		"sessions show": {example: "  rolecd sessions show 0b9d5c3e-6f1a-4c44-9a53-1f1e0c2d7a10", exits: "0 ok; 1 no such session or an error."},
		"creds":         {example: "  rolecd creds get rolecd_analytics_ro_6075a443", exits: exitsDefault},
		"creds get": {
			example: "  rolecd creds get rolecd_analytics_ro_6075a443\n" +
				"  psql \"$(rolecd --output json creds get rolecd_analytics_ro_6075a443 | jq -r .uri)\"",
			exits: "0 ok; 1 no stored credential for the role, or an error.",
		},
		"admin": {example: "  rolecd admin set --resource analytics --user postgres < password.txt\n  rolecd admin import admins.csv", exits: exitsDefault},
		"admin set": {
			example: "  printf %s \"$PW\" | rolecd admin set --resource analytics --user postgres",
			exits:   "0 stored after a successful connection test; 1 the test failed or an error.",
		},
		"admin import": {
			example: "  rolecd admin import admins.csv          # name,admin_user,password",
			exits:   "0 every row stored; 1 a row failed or an error.",
		},
		"daemon": {
			example: "  rolecd daemon --config rolecd.yaml\n  rolecd daemon --config rolecd.yaml --once",
			exits:   "0 stopped cleanly (--once: one pass done); 1 an error.",
		},
		"completion":            {example: "  source <(rolecd completion bash)", exits: exitsDefault},
		"completion bash":       {example: "  source <(rolecd completion bash)", exits: exitsDefault},
		"completion zsh":        {example: "  rolecd completion zsh > \"${fpath[1]}/_rolecd\"", exits: exitsDefault},
		"completion fish":       {example: "  rolecd completion fish > ~/.config/fish/completions/rolecd.fish", exits: exitsDefault},
		"completion powershell": {example: "  rolecd completion powershell | Out-String | Invoke-Expression", exits: exitsDefault},
		"help":                  {example: "  rolecd help plan", exits: exitsDefault},
	}
}

// exitStatusLine matches an "Exit status: ..." sentence already in a Long.
var exitStatusLine = regexp.MustCompile(`(?m)^Exit status:.*$`)

// addHelp gives every command of root its example and, at the end of its
// long description, its exit statuses.
func addHelp(root *cobra.Command) {
	h := helps()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		key := strings.TrimPrefix(strings.TrimPrefix(c.CommandPath(), root.Name()), " ")
		if help, ok := h[key]; ok {
			if c.Example == "" {
				c.Example = help.example
			}
			long := c.Long
			if long == "" {
				long = c.Short + "."
			}
			long = strings.TrimSpace(exitStatusLine.ReplaceAllString(long, ""))
			c.Long = fmt.Sprintf("%s\n\nExit status: %s", long, help.exits)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
