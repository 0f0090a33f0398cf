-- `Prefer: wait` (docs/decisions.md): the API's waiting requests are woken by a notification on
-- commit of the decision, instead of polling. A trigger, not a `pg_notify` in each statement that
-- decides: every path out of PENDING (the saga's confirm and cancel, its deadline sweep, the
-- issuer's batch and its sweep, anything added later) then notifies, and nothing can forget to.
-- Payload: the row's id; the API's one listening connection wakes that id's waiters, who read
-- the row again through the pool (a notification is a hint, never the data).
--
-- Only the transition out of PENDING notifies: a later update of a decided row wakes nobody.
-- The functions run as the role that updates the row (the saga's, the issuer's): pg_notify
-- needs no privilege, and the functions sit in the schema of the service that owns the table.

create function orders.notify_order_decided() returns trigger
language plpgsql as $$
begin
  perform pg_notify('order_decided', new.id::text);
  return null;
end $$;

create trigger order_decided
  after update of status on orders.orders
  for each row
  when (old.status = 'PENDING' and new.status <> 'PENDING')
  execute function orders.notify_order_decided();

create function coupons.notify_coupon_request_decided() returns trigger
language plpgsql as $$
begin
  perform pg_notify('coupon_request_decided', new.id::text);
  return null;
end $$;

create trigger coupon_request_decided
  after update of status on coupons.coupon_requests
  for each row
  when (old.status = 'PENDING' and new.status <> 'PENDING')
  execute function coupons.notify_coupon_request_decided();
