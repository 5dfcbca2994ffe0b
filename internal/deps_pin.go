//go:build tools

// Package internal pins modules that packages under construction use, so
// that concurrent work does not race on go.mod.
package internal

import (
	_ "github.com/go-git/go-git/v5"
	_ "github.com/google/go-github/v60/github"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/robfig/cron/v3"
)
