-- The SQL of POST /coupons/:id/issue-requests (src/coupons/store.ts requestIssue): one
-- statement, the request row and its outbox row. For pgbench: the hardware limit the API is
-- compared with. Ids are UUIDv7 as in the API (time-ordered: the same index locality).
-- :users is the bench run's user-name prefix, so that its cleanup finds these rows.
\set uid random(1, 2000000000)
WITH req AS (
  INSERT INTO coupon_requests (id, coupon_id, user_id)
  SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid, c.id, :users || '-' || :client_id || '-' || :uid
  FROM coupons c WHERE c.id = :coupon::uuid
  ON CONFLICT (coupon_id, user_id) DO NOTHING
  RETURNING id, coupon_id, user_id
), events AS (
  INSERT INTO outbox (id, aggregatetype, aggregateid, type, version, payload, traceparent)
  SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid, 'coupon-issue', coupon_id::text, 'CouponIssueRequested', 1,
         jsonb_build_object('requestId', id, 'couponId', coupon_id, 'userId', user_id), NULL
  FROM req
)
SELECT exists (SELECT 1 FROM req) AS created;
