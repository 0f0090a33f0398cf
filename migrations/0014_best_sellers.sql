-- The best-sellers projection (docs/projections.md): a read model fed by the order topic's events,
-- with its own schema, its own login role and its own consumer group `best-sellers`. Nothing here
-- is a source of truth: `deno task projections:rebuild best-sellers` empties these tables and the
-- group's inbox rows, and the worker fills them again from the log.
create schema best_sellers;

-- An order seen on the log but not yet counted: OrderCreated brought its lines and its
-- OrderConfirmed has not been applied yet (the usual case), or a confirmation or cancellation
-- came first (a dead-letter replay puts OrderCreated after them; a replay from an offset may
-- start past it). A row is deleted when its order is counted or cancelled; rows left without
-- their partner are purged after the topics' retention (the partner can no longer arrive).
create table best_sellers.pending_orders (
  order_id uuid primary key,
  -- [{productId, quantity}] from OrderCreated; null until it is applied
  items jsonb,
  -- OrderConfirmed's time (its record's timestamp), when it came before OrderCreated
  confirmed_at timestamptz,
  -- OrderCancelled came before OrderCreated: the order is never counted
  cancelled boolean not null default false,
  -- the time of the newest event that touched the row (for the purge)
  seen_at timestamptz not null
);
create index pending_orders_seen_at on best_sellers.pending_orders (seen_at);

-- Units sold per product per hour of confirmation: the projection's answer.
create table best_sellers.hourly_units (
  product_id uuid not null,
  hour timestamptz not null,
  units bigint not null check (units > 0),
  primary key (product_id, hour)
);
-- The read sums a window of recent hours over every product.
create index hourly_units_hour on best_sellers.hourly_units (hour);

-- How far the projection has applied the log: per partition of the order topic, the time of the
-- newest event applied (its record's timestamp). `asOf` of the API is the newest of them.
create table best_sellers.applied_through (
  topic text not null,
  partition int not null,
  event_at timestamptz not null,
  primary key (topic, partition)
);

do $$
begin
  if not exists (select from pg_roles where rolname = 'shop_best_sellers') then
    begin
      create role shop_best_sellers login;
    exception
      when duplicate_object or unique_violation then null;
    end;
  end if;
end $$;

-- The projection's worker: its own schema (truncate too: the rebuild empties it as this role),
-- its own inbox and dead-letter rows. It publishes nothing, so no outbox grant.
grant usage on schema best_sellers, platform to shop_best_sellers;
grant select, insert, update, delete, truncate on all tables in schema best_sellers
  to shop_best_sellers;
grant select, insert, delete on platform.inbox to shop_best_sellers;
grant select, insert, update on platform.dead_letter_log to shop_best_sellers;
create policy own_best_sellers on platform.inbox to shop_best_sellers
  using (consumer_group = 'best-sellers');
create policy own_best_sellers on platform.dead_letter_log to shop_best_sellers
  using (consumer_group = 'best-sellers');

-- The API's route reads the answer through the projection's module (src/best_sellers/mod.ts):
-- the hourly units and how far the log is applied, nothing of the pending orders.
grant usage on schema best_sellers to shop_api;
grant select on best_sellers.hourly_units, best_sellers.applied_through to shop_api;
-- The console and the API's gauges read every service.
grant usage on schema best_sellers to shop_ops;
grant select on all tables in schema best_sellers to shop_ops;

do $$
declare
  db text := current_database();
begin
  execute format('alter role shop_best_sellers in database %I set search_path = best_sellers, platform', db);
  execute format(
    'alter role shop_api in database %I set search_path = orders, inventory, coupons, wallet, best_sellers, platform', db);
  execute format(
    'alter role shop_ops in database %I set search_path = orders, inventory, coupons, wallet, best_sellers, platform', db);
end $$;
