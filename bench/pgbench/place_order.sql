-- The SQL of POST /orders without a coupon or Idempotency-Key (src/orders/store.ts placeOrder):
-- the price read, then one statement with the order, its line and its outbox row. For
-- pgbench: the hardware limit the API is compared with. Ids are UUIDv7 as in the API.
-- :users is the bench run's user-name prefix, so that its cleanup finds these rows. The deadline
-- is the API's default (ORDER_DEADLINE_MS=30000).
\set uid random(1, 2000000000)
SELECT id, price FROM products WHERE id = ANY(ARRAY[:product::uuid]);
WITH o AS (
  INSERT INTO orders (id, user_id, user_coupon_id, total_amount, discount_amount, payment_amount, deadline_at)
  VALUES (encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid, :users || '-' || :uid, NULL, 1000, 0, 1000, clock_timestamp() + interval '30 seconds')
  RETURNING id, user_id, deadline_at
), items AS (
  INSERT INTO order_items (order_id, position, product_id, quantity, unit_price)
  SELECT id, 1, :product::uuid, 1, 1000 FROM o
)
INSERT INTO outbox (id, aggregatetype, aggregateid, type, version, payload, traceparent)
SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid, 'order', id::text, 'OrderCreated', 1,
       jsonb_build_object('orderId', id, 'userId', user_id,
         'items', jsonb_build_array(jsonb_build_object('productId', :product::text, 'quantity', 1, 'unitPrice', 1000)),
         'userCouponId', NULL, 'totalAmount', 1000, 'discountAmount', 0, 'paymentAmount', 1000,
         'deadlineAt', deadline_at), NULL
FROM o;
