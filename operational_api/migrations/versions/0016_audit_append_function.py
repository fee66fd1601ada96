"""PostgreSQL: the audit chain's append as one server-side call (`audit_append`), so the chain lock is held for
one statement and the commit, with no client round trip (and no Python thread waiting for the GIL) in between.

The function takes the chain lock, reads the last row, and for each event computes the same digest as
operational_api.audit.row_digest: sha256 over "<previous hash>\\n<canonical JSON of the row>", where the caller
sends the canonical JSON split around the row's id (`head` + id + `tail`), the one part only known under the
lock. The hash is checked by `mentalspace audit verify` in Python like every other row's. SQLite keeps the
in-process append (one writer at a time there anyway).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64  # = operational_api.audit.GENESIS_HASH (a migration must not import app code)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # VOLATILE (the default): each statement takes a new snapshot, so the read after the lock sees the row the
    # previous holder committed. SECURITY INVOKER (the default): it inserts with the caller's grants.
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION audit_append(lock_key bigint, events jsonb)
        RETURNS TABLE (event_id bigint, event_prev_hash varchar, event_row_hash varchar)
        LANGUAGE plpgsql AS $$
        DECLARE
            last_id bigint;
            last_hash varchar;
            e jsonb;
        BEGIN
            PERFORM pg_advisory_xact_lock(lock_key);
            SELECT a.id, a.row_hash INTO last_id, last_hash FROM audit_events a ORDER BY a.id DESC LIMIT 1;
            IF last_id IS NULL THEN
                last_id := 0;
                last_hash := '{GENESIS_HASH}';
            END IF;
            FOR e IN SELECT value FROM jsonb_array_elements(events) LOOP
                last_id := last_id + 1;
                event_id := last_id;
                event_prev_hash := last_hash;
                event_row_hash := encode(
                    sha256(convert_to(last_hash || E'\\n' || (e->>'head') || last_id::text || (e->>'tail'), 'UTF8')),
                    'hex'
                );
                INSERT INTO audit_events (
                    id, occurred_at, actor_user_id, actor_role, source, action, outcome, entity, entity_id,
                    client_ids, detail, prev_hash, row_hash
                ) VALUES (
                    last_id, (e->>'occurred_at')::timestamp, (e->>'actor_user_id')::integer, e->>'actor_role',
                    e->>'source', e->>'action', e->>'outcome', e->>'entity', e->>'entity_id', e->>'client_ids',
                    CASE WHEN jsonb_typeof(e->'detail') = 'null' THEN NULL ELSE (e->'detail')::json END,
                    event_prev_hash, event_row_hash
                );
                last_hash := event_row_hash;
                RETURN NEXT;
            END LOOP;
        END $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_append(bigint, jsonb)")
