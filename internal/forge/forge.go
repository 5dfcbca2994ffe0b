// Package forge holds the forge-neutral values the daemon exchanges with
// where pull requests live: a pull request, a webhook delivery as recorded,
// the event decoded from it, and the order of repository permissions.
//
// It is pure: no I/O and no forge SDK. reporter/github produces these
// values from GitHub's API and webhooks; the reconciler consumes them.
package forge

// PR is a pull request as the forge reports it.
type PR struct {
	Number         int
	Title          string
	State          string // open or closed
	BaseRef        string
	HeadRef        string
	HeadSHA        string
	Author         string
	Merged         bool
	MergeCommitSHA string
}

// Short abbreviates a commit SHA (or a plan digest) to the 12 characters
// comments, statuses, logs and pages show.
func Short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
