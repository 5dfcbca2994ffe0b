-- Lease fencing: every time a lease changes hands its generation grows;
-- writes of pull-request state and reports name the generation they were
-- made under and are refused once it moved on (a stale leader's write).
-- Released leases keep their row (and generation), with no holder.
ALTER TABLE leases ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
