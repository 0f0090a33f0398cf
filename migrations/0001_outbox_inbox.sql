-- The transactional outbox, in Debezium's column convention, and the consumers' inbox.

-- Every event the system publishes is one row here, inserted in the same transaction as the
-- business change it describes. Rows are never updated; a scheduled purge deletes old ones
-- (the publication below carries inserts only, so purges never reach Kafka).
create table outbox (
  id uuid primary key,                -- event id, UUIDv7; Kafka header `id`
  aggregatetype text not null,        -- decides the topic
  aggregateid text not null,          -- Kafka record key (per-key order)
  type text not null,                 -- event type; Kafka header `eventType`
  version smallint not null default 1,-- event schema version; Kafka header `eventVersion`
  payload jsonb not null,             -- Kafka record value (the JSON text)
  traceparent text,                   -- W3C trace context; Kafka header `traceparent`
  -- `timestamp` (not timestamptz) because the Outbox Event Router takes the Kafka record
  -- timestamp from it only for Debezium's (Micro)Timestamp logical types.
  created_at timestamp not null default (clock_timestamp() at time zone 'utc')
);
create index outbox_created_at on outbox (created_at);

-- Idempotent consumers: a handler's transaction first claims (group, event id) here; a
-- duplicate delivery finds the row and is skipped.
create table inbox (
  consumer_group text not null,
  event_id uuid not null,
  processed_at timestamptz not null default now(),
  primary key (consumer_group, event_id)
);
create index inbox_processed_at on inbox (processed_at);

-- Only inserts are streamed: purging old outbox rows must not produce change events.
-- Debezium runs with publication.autocreate.mode=filtered and finds this publication in place.
create publication shop_outbox for table outbox with (publish = 'insert');
