-- A login role per process, each able to touch only what it owns (docs/decisions.md, "Service
-- boundaries"). Roles belong to the whole cluster, so they are created only if missing (another
-- database of the same cluster may have made them); grants, row policies and search paths belong
-- to this database. No passwords here: `deno task setup` sets them from the environment where a
-- deployment needs them (docs/configuration.md); the local stack trusts loopback.
-- Names are schema-qualified from here on: this session's search path predates 0008's.
do $$
declare
  r text;
begin
  foreach r in array array['shop_api', 'shop_ops', 'shop_inventory', 'shop_coupon_issuer',
                           'shop_coupon_redeemer', 'shop_payment', 'shop_order_saga'] loop
    if not exists (select from pg_roles where rolname = r) then
      begin
        execute format('create role %I login', r);
      exception
        -- Two databases of one cluster migrating at once: both saw no role, one created it.
        when duplicate_object or unique_violation then null;
      end;
    end if;
  end loop;
end $$;

-- Nothing in `public` for anyone but the owner (PostgreSQL 15 already revokes CREATE there).
revoke all on schema public from public;

-- Workers: their service's schema, whole; the outbox, insert only; their own inbox and dead-letter
-- rows (row policies below). The two coupon groups share the coupons service's schema.
grant usage on schema inventory, platform to shop_inventory;
grant select, insert, update, delete on all tables in schema inventory to shop_inventory;
grant usage on schema coupons, platform to shop_coupon_issuer, shop_coupon_redeemer;
grant select, insert, update, delete on all tables in schema coupons
  to shop_coupon_issuer, shop_coupon_redeemer;
grant usage on schema wallet, platform to shop_payment;
grant select, insert, update, delete on all tables in schema wallet to shop_payment;
grant usage on schema orders, platform to shop_order_saga;
grant select, insert, update, delete on all tables in schema orders to shop_order_saga;

grant insert on platform.outbox
  to shop_inventory, shop_coupon_issuer, shop_coupon_redeemer, shop_payment, shop_order_saga;
grant select, insert, delete on platform.inbox
  to shop_inventory, shop_coupon_issuer, shop_coupon_redeemer, shop_payment, shop_order_saga;
grant select, insert, update on platform.dead_letter_log
  to shop_inventory, shop_coupon_issuer, shop_coupon_redeemer, shop_payment, shop_order_saga;

-- A group claims, reads and purges only its own inbox and dead-letter rows.
alter table platform.inbox enable row level security;
alter table platform.dead_letter_log enable row level security;
do $$
declare
  g text;
begin
  foreach g in array array['inventory', 'coupon-issuer', 'coupon-redeemer', 'payment',
                           'order-saga'] loop
    execute format(
      'create policy %I on platform.inbox to %I using (consumer_group = %L)',
      'own_' || g, 'shop_' || replace(g, '-', '_'), g);
    execute format(
      'create policy %I on platform.dead_letter_log to %I using (consumer_group = %L)',
      'own_' || g, 'shop_' || replace(g, '-', '_'), g);
  end loop;
end $$;

-- The API: what its routes need. Placing an order reads prices and the user's coupon through
-- the inventory and coupons modules' exported functions, in the API's own transaction.
grant usage on schema orders, inventory, coupons, wallet, platform to shop_api;
grant select, insert on orders.orders, orders.order_items to shop_api;
grant select, insert on inventory.products to shop_api;
grant select, insert on coupons.coupons, coupons.coupon_requests to shop_api;
grant select on coupons.user_coupons to shop_api;
grant select, insert, update on wallet.wallets to shop_api;
grant select, insert on wallet.wallet_charges to shop_api;
-- The outbox purge (retention) runs in the API; it reads the slot's position first.
grant insert, select, delete on platform.outbox to shop_api;
grant select, insert, update, delete on platform.idempotency_keys to shop_api;

-- The ops console and the API's gauges: an operator's view, reading every service; writes only
-- its own records of dead letters replayed or discarded.
grant usage on schema orders, inventory, coupons, wallet, platform to shop_ops;
grant select on all tables in schema orders, inventory, coupons, wallet, platform to shop_ops;
-- (a replay of a record replayed before stamps it again: insert ... on conflict do update)
grant insert, update on platform.dead_letter_replays to shop_ops;
grant insert on platform.dead_letter_discards to shop_ops;
create policy ops_reads on platform.inbox for select to shop_ops using (true);
create policy ops_reads on platform.dead_letter_log for select to shop_ops using (true);

-- Each role sees its own schemas by their table names; the owner sees all (0008).
do $$
declare
  db text := current_database();
begin
  execute format('alter role shop_inventory in database %I set search_path = inventory, platform', db);
  execute format('alter role shop_coupon_issuer in database %I set search_path = coupons, platform', db);
  execute format('alter role shop_coupon_redeemer in database %I set search_path = coupons, platform', db);
  execute format('alter role shop_payment in database %I set search_path = wallet, platform', db);
  execute format('alter role shop_order_saga in database %I set search_path = orders, platform', db);
  execute format(
    'alter role shop_api in database %I set search_path = orders, inventory, coupons, wallet, platform', db);
  execute format(
    'alter role shop_ops in database %I set search_path = orders, inventory, coupons, wallet, platform', db);
end $$;
