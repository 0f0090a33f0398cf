-- Dead letters of any shape, replayed through the outbox (docs/decisions.md, "Dead letters:
-- named by coordinates, settled once, replayed through the outbox").

-- A replay writes the dead-lettered event into the outbox again under its own id (the contract:
-- same id, same payload; only the relay writes a business topic), so the outbox holds an event id
-- once per write: `replayed_from` names the dead letter a row replays
-- (`<dlq topic>/<partition>@<offset>`), '' for an original write. The relay ignores the column.
alter table platform.outbox add column replayed_from text not null default '';
alter table platform.outbox drop constraint outbox_pkey;
alter table platform.outbox add primary key (id, replayed_from);

-- Any record can be discarded: its id header is kept as it was, which for a poison record may be
-- anything but a UUID.
alter table platform.dead_letter_discards alter column event_id type text;
-- Who replayed (an operator's sub, or `cli:<user>`), as for discards; null for older replays.
alter table platform.dead_letter_replays add column replayed_by text;

-- Where each dead letter landed in `<topic>.dlq` (the origin's partition), stamped with
-- `produced_at`: a dead letter named by its origin coordinates or event id is read at once.
alter table platform.dead_letter_log add column dlq_offset bigint;

-- The console replays through the outbox. A replay or a discard is recorded once and never
-- changed (a second one of the same dead letter is refused), so no UPDATE any more.
grant insert on platform.outbox to shop_ops;
revoke update on platform.dead_letter_replays from shop_ops;
