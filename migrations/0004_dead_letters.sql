-- Dead letters, kept once. A consumer writes the origin coordinates of a record here before it
-- produces the record to `<topic>.dlq`, and stamps `produced_at` after Kafka took it; the offset
-- commit follows. A record redelivered after a crash between the produce and the offset commit
-- finds its stamped row and is not dead-lettered a second time.
create table dead_letter_log (
  consumer_group text not null,
  topic text not null,
  partition integer not null,
  "offset" bigint not null,
  event_id uuid,
  error_class text not null,
  produced_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (consumer_group, topic, partition, "offset")
);

-- What `deno task dlq replay` (and the ops console) already sent back, so a replay of "all"
-- never re-sends a dead letter twice.
create table dead_letter_replays (
  dlq_topic text not null,
  dlq_partition integer not null,
  dlq_offset bigint not null,
  event_id uuid,
  replayed_at timestamptz not null default now(),
  primary key (dlq_topic, dlq_partition, dlq_offset)
);
