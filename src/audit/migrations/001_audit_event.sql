-- The append-only, hash-chained audit log (see src/audit/README.md).
-- Applied by src/audit/migrate.ts with the OWNER role, inside one transaction, under an advisory lock.
-- Grants to the writer role are not here: migrate.ts (re)applies them on every run, for the role named in
-- audit.databaseUrl, so that a change of writer role needs no new migration.

CREATE TABLE audit_event (
  seq         bigserial   PRIMARY KEY,
  event_id    text        NOT NULL UNIQUE,
  subject     text        NOT NULL,
  kind        text        NOT NULL,
  actor       text        NOT NULL,
  at          timestamptz NOT NULL,
  details     jsonb       NOT NULL DEFAULT '{}'::jsonb,
  -- The seq and hash of the row before this one (0 and 64 zeros for the first row). prev_seq makes a deleted
  -- row visible as such: a rolled-back insert also leaves a gap in seq, but never a row whose prev_seq is missing.
  prev_seq    bigint      NOT NULL,
  prev_hash   text        NOT NULL,
  hash        text        NOT NULL UNIQUE,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT audit_event_hash_format CHECK (hash ~ '^[0-9a-f]{64}$' AND prev_hash ~ '^[0-9a-f]{64}$'),
  CONSTRAINT audit_event_prev_before CHECK (prev_seq < seq)
);

CREATE INDEX audit_event_subject_idx ON audit_event (subject, seq);

REVOKE ALL ON audit_event FROM PUBLIC;
REVOKE ALL ON SEQUENCE audit_event_seq_seq FROM PUBLIC;

-- Nobody edits the log, not even its owner: UPDATE, DELETE and TRUNCATE raise. (A superuser or the owner can
-- still disable or drop the trigger; that is what `steward audit verify` detects through the hash chain.)
CREATE FUNCTION audit_event_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_event is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Audit events are never changed or removed; append a correcting event instead.';
END;
$$;

CREATE TRIGGER audit_event_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_event
  FOR EACH ROW EXECUTE FUNCTION audit_event_immutable();

CREATE TRIGGER audit_event_no_truncate
  BEFORE TRUNCATE ON audit_event
  FOR EACH STATEMENT EXECUTE FUNCTION audit_event_immutable();
