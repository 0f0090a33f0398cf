-- Service boundaries: each service owns its tables in its own schema; the bookkeeping every
-- service shares (outbox, inbox, idempotency keys, dead letters) lives in `platform`. Roles and
-- grants (0010) make the boundary one the database enforces: a service's role can use only its
-- own schema plus the outbox and its inbox rows.
create schema orders;
create schema inventory;
create schema coupons;
create schema wallet;
create schema if not exists platform; -- the migration runner may have created it

-- Foreign keys never cross a boundary: an order refers to a user coupon and to products by id
-- only. Whether they exist at order time is asked of the owning module (src/orders/store.ts);
-- the invariant checker, which may read everything, proves invariants 1-6 without them.
alter table orders drop constraint orders_user_coupon_id_fkey;
alter table order_items drop constraint order_items_product_id_fkey;

alter table orders set schema orders;
alter table order_items set schema orders;
alter table order_steps set schema orders;

alter table products set schema inventory;
alter table inventory_reservations set schema inventory;

alter table coupons set schema coupons;
alter table coupon_requests set schema coupons;
alter table user_coupons set schema coupons;
alter table coupon_redemptions set schema coupons;
-- A cancellation seen before the order's OrderCreated records that the step must not happen;
-- OrderCancelled written before it carried the order's user coupon names none.
alter table coupons.coupon_redemptions alter column user_coupon_id drop not null;

alter table wallets set schema wallet;
alter table wallet_charges set schema wallet;
alter table payments set schema wallet;

-- The publication holds the outbox by identity, so it follows the table; the connector's
-- table.include.list names `platform.outbox` (relay/connector.json).
alter table outbox set schema platform;
alter table inbox set schema platform;
alter table idempotency_keys set schema platform;
alter table dead_letter_log set schema platform;
alter table dead_letter_replays set schema platform;
alter table dead_letter_discards set schema platform;

-- Sessions of roles without a search path of their own (the owner: migrations, the invariant
-- checker, tests, benchmarks) see every schema; each service role gets only its own (0010).
do $$
begin
  execute format(
    'alter database %I set search_path = orders, inventory, coupons, wallet, platform, public',
    current_database());
end $$;
