-- Deadlines: every order and every FCFS request reaches a terminal state in bounded time.

-- The instant the saga gives up on a PENDING order (cancelReason TIMEOUT). Stored per order, so
-- the sweep, the API and the participants all compare the same value with the database clock.
alter table orders add column deadline_at timestamptz;
update orders set deadline_at = created_at + interval '30 seconds' where deadline_at is null;
alter table orders alter column deadline_at set not null;
-- The sweep reads only overdue PENDING orders: cheap when nothing is overdue.
create index orders_pending_deadline on orders (deadline_at) where status = 'PENDING';

alter table coupon_requests drop constraint coupon_requests_reason_check;
alter table coupon_requests
  add constraint coupon_requests_reason_check check (reason in ('SOLD_OUT', 'EXPIRED', 'TIMEOUT'));
-- The issuer's deadline sweep reads only old PENDING requests.
create index coupon_requests_pending_created on coupon_requests (created_at)
  where status = 'PENDING';
