-- Dead letters an operator chose not to replay (a poison record that can never apply, a test
-- record). Kafka keeps the record until the DLQ topic's retention; this row only hides it from
-- the console's list of open dead letters and records who decided, and when.
create table dead_letter_discards (
  dlq_topic text not null,
  dlq_partition integer not null,
  dlq_offset bigint not null,
  event_id uuid,
  discarded_by text not null,
  discarded_at timestamptz not null default now(),
  primary key (dlq_topic, dlq_partition, dlq_offset)
);
