// Package cluster is how rolecd reaches the live PostgreSQL clusters:
// connect, inspect many, plan many.
//
// Connect: Dialer opens connections to a resource's cluster with its admin
// credentials: from the environment variable, file or operator-configured
// command the resource names (each allowed by the operator's credential
// policy, checked again here at use), else the store, else libpq's usual
// sources (PGPASSWORD, ~/.pgpass, trust). Passwords never appear in its
// errors, and never go to a server that asks for them in cleartext or as
// MD5 unless the resource allows it (see AuthRefusedError).
//
// Inspect and plan many: Plan plans a tree of role files against the live
// clusters: it inspects every resource (several at once, with a bound), runs
// the pure planner on each snapshot and assembles one plan document. One
// resource that cannot be reached or planned is reported in its own entry
// and does not hide the others. Planner is Plan with fixed settings over a
// Dialer: the daemon's planner, wired by cmd/rolecd.
package cluster
