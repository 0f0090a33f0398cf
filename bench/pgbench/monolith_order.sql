-- The monolith limit (deno task bench orders): an order's whole business work in ONE transaction,
-- as the synchronous design the services replaced would do it, on the services' own tables: the
-- order and its line, the coupon used (for a share of orders), the wallet debited, the stock
-- decremented, the order CONFIRMED. No outbox, no inbox: nothing to relay or consume, and no step
-- rows (reservations, payments, redemptions, order steps), which exist to make each step of the
-- event-driven design happen at most once; one transaction gives that here.
--
-- Each guard is the one its service applies (a failed guard would roll the order back):
-- coupon: AVAILABLE, the user's, not expired (src/coupons/redeemer.ts); wallet: balance >= the
-- amount (src/wallet/payment.ts); stock: stock >= the quantity (src/inventory/reservations.ts).
-- Here the fixtures are large enough that no guard fails: a guard's UPDATE returning no row
-- fails its gset (one row expected), which aborts the client and fails the run, so every
-- transaction counted is a confirmed order.
--
-- Locks in one order for every transaction (user coupon, wallet, product: no deadlock), and the
-- one every order shares, the product's stock row, last: it is held from its update to the
-- commit, so taking it last keeps that hold short (the inventory worker takes it for a run).
--
-- Variables (-D): product (uuid), users (the run's user-name prefix), user_count (users
-- <users>-1 .. <users>-<user_count> have wallets), coupon_percent (share of orders that use one
-- of the user's AVAILABLE fixed-amount coupons; none left: the order goes without). Ids are
-- UUIDv7 as in the API. The deadline is the API's default (ORDER_DEADLINE_MS=30000).
\set u random(1, :user_count)
\set want_coupon random(1, 100) <= :coupon_percent
\set has_coupon 0
BEGIN;
-- The price, as the API reads it (src/orders/store.ts placeOrder).
SELECT price FROM inventory.products WHERE id = :product::uuid \gset
\if :want_coupon
-- One of the user's usable coupons and its discount, as the API reads the coupon it is given;
-- locked, so that two clients never pick the same one.
SELECT count(*) AS has_coupon, coalesce(max(x.id::text), '') AS user_coupon,
       coalesce(max(x.amount), 0) AS discount
FROM (
  SELECT uc.id, c.discount_value AS amount
  FROM coupons.user_coupons uc JOIN coupons.coupons c ON c.id = uc.coupon_id
  WHERE uc.user_id = :users || '-' || :u AND uc.status = 'AVAILABLE'
    AND c.discount_type = 'fixed' AND (c.expires_at IS NULL OR c.expires_at > now())
  LIMIT 1
  FOR NO KEY UPDATE OF uc SKIP LOCKED
) x \gset
\endif
\if :has_coupon
WITH o AS (
  INSERT INTO orders.orders (id, user_id, user_coupon_id, total_amount, discount_amount, payment_amount, deadline_at)
  VALUES (encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid, :users || '-' || :u, :user_coupon::uuid, :price::bigint, least(:discount::bigint, :price::bigint), :price::bigint - least(:discount::bigint, :price::bigint), clock_timestamp() + interval '30 seconds')
  RETURNING id, payment_amount
), items AS (
  INSERT INTO orders.order_items (order_id, position, product_id, quantity, unit_price)
  SELECT id, 1, :product::uuid, 1, :price::bigint FROM o
)
SELECT id AS order_id, payment_amount AS payment FROM o \gset
-- The coupon used: the redeemer's guard.
UPDATE coupons.user_coupons uc SET status = 'USED', order_id = :order_id::uuid, used_at = now()
FROM coupons.coupons c
WHERE uc.id = :user_coupon::uuid AND uc.user_id = :users || '-' || :u AND uc.status = 'AVAILABLE'
  AND c.id = uc.coupon_id AND (c.expires_at IS NULL OR c.expires_at > now())
RETURNING uc.id AS used_coupon \gset
\else
WITH o AS (
  INSERT INTO orders.orders (id, user_id, user_coupon_id, total_amount, discount_amount, payment_amount, deadline_at)
  VALUES (encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid, :users || '-' || :u, NULL, :price::bigint, 0, :price::bigint, clock_timestamp() + interval '30 seconds')
  RETURNING id, payment_amount
), items AS (
  INSERT INTO orders.order_items (order_id, position, product_id, quantity, unit_price)
  SELECT id, 1, :product::uuid, 1, :price::bigint FROM o
)
SELECT id AS order_id, payment_amount AS payment FROM o \gset
\endif
-- The debit: the payment service's guard.
UPDATE wallet.wallets SET balance = balance - :payment::bigint, updated_at = now()
WHERE user_id = :users || '-' || :u AND balance >= :payment::bigint
RETURNING balance \gset
-- The stock: inventory's guard.
UPDATE inventory.products SET stock = stock - 1 WHERE id = :product::uuid AND stock >= 1
RETURNING stock \gset
UPDATE orders.orders SET status = 'CONFIRMED', updated_at = now() WHERE id = :order_id::uuid;
COMMIT;
