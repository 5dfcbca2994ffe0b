package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/store"
)

// command is a /rolecd comment on a pull request.
type command struct {
	pr   int
	user string
	verb string // plan or apply
	arg  string // apply: the digest
	id   string // the delivery, which keys the reply
}

// parseCommand reads a comment whose first line is "/rolecd plan" or
// "/rolecd apply <digest>"; ok is false for any other comment. An unknown
// /rolecd verb is returned as is (answered with help).
func parseCommand(body string) (verb, arg string, ok bool) {
	line, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
	fields := strings.Fields(line)
	if len(fields) == 0 || fields[0] != "/rolecd" {
		return "", "", false
	}
	if len(fields) == 1 {
		return "help", "", true
	}
	verb = strings.ToLower(fields[1])
	if len(fields) > 2 {
		arg = fields[2]
	}
	return verb, arg, true
}

// grants reports whether permission have is at least want, in any case and
// with GitHub's legacy names (pull = read, push = write) accepted.
func grants(have, want string) bool {
	return forge.AtLeast(forge.CanonicalPermission(have), forge.CanonicalPermission(want))
}

// runCommand runs a /rolecd command.
func (r *Reconciler) runCommand(ctx context.Context, c *command) error {
	log := r.log.With().Int("pr", c.pr).Str("user", c.user).Str("command", c.verb).Logger()
	log.Info().Msg("comment command")
	switch c.verb {
	case "plan":
		return r.reconcilePR(ctx, c.pr, true)
	case "apply":
		return r.approve(ctx, c)
	default:
		return r.reply(ctx, c, fmt.Sprintf("@%s, rolecd understands `/rolecd plan` (plan this pull request again) and "+
			"`/rolecd apply <digest>` (apply a merged plan that waits for approval).", c.user))
	}
}

// approve runs `/rolecd apply <digest>`: a user with at least the apply
// permission applies the plan of a merge waiting for approval, if digest is
// that plan's digest. Anyone else gets a polite refusal and nothing runs.
func (r *Reconciler) approve(ctx context.Context, c *command) error {
	log := r.log.With().Int("pr", c.pr).Str("user", c.user).Logger()
	perm, err := r.opts.Forge.Permission(ctx, c.user)
	if err != nil {
		return r.forgeError("permission", err)
	}
	if !grants(perm, r.opts.ApplyPermission) {
		r.metrics.refusals.WithLabelValues("permission").Inc()
		log.Warn().Str("permission", perm).Msg("apply refused: permission too low")
		return r.reply(ctx, c, fmt.Sprintf("@%s, thank you, but applying needs the `%s` permission on this repository and yours is `%s`. "+
			"Nothing was applied; someone with `%s` access can approve with the same comment.", c.user, r.opts.ApplyPermission, orNone(perm), r.opts.ApplyPermission))
	}
	rec, found, err := r.loadPR(ctx, c.pr)
	if err != nil {
		return err
	}
	if !found || rec.State != store.PRWaitingApproval {
		r.metrics.refusals.WithLabelValues("not-waiting").Inc()
		state := "not planned by rolecd"
		if found {
			state = string(rec.State)
		}
		return r.reply(ctx, c, fmt.Sprintf("@%s, nothing on this pull request waits for approval (state: %s). Nothing was applied.", c.user, state))
	}
	if c.arg == "" || !strings.EqualFold(c.arg, rec.MergeDigest) {
		r.metrics.refusals.WithLabelValues("digest").Inc()
		log.Warn().Str("digest", c.arg).Msg("apply refused: digest does not match")
		return r.reply(ctx, c, fmt.Sprintf("@%s, `%s` is not the digest of the plan waiting for approval; that plan's digest is `%s`. Nothing was applied.",
			c.user, c.arg, rec.MergeDigest))
	}
	sess, err := r.opts.Store.GetSession(ctx, rec.MergePlanSID)
	if err != nil {
		return waiting("reading the plan waiting for approval", err)
	}
	var doc planner.Document
	if err := json.Unmarshal(sess.Detail, &doc); err != nil {
		return stalled("reading the plan waiting for approval", err)
	}
	if doc.Digest() != rec.MergeDigest {
		return stalled("plan waiting for approval", errors.New("its stored document does not match its digest"))
	}
	tree, problems, err := r.loadTree(rec.MergeSHA)
	if err != nil {
		return err
	}
	if problems != nil {
		return stalled("role files of the merge", errors.New(strings.Join(problems, "; ")))
	}
	log.Info().Str("digest", rec.MergeDigest).Str("permission", perm).Msg("apply approved")
	return r.applyMerge(ctx, &rec, tree, &doc, r.opts.Actor+" (approved by "+c.user+")", "approval")
}

func orNone(p string) string {
	if p == "" {
		return "none"
	}
	return p
}

// reply answers a command with a new comment, posted once.
func (r *Reconciler) reply(ctx context.Context, c *command, body string) error {
	return r.comment(ctx, c.pr, "reply/"+c.id, body)
}
