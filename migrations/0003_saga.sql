-- The saga participants' own records. Each is keyed by order id, so a step happens at most once
-- per order, and a cancellation that arrives before the step leaves a CANCELLED row that makes
-- the later step a no-op.

create table inventory_reservations (
  order_id uuid primary key,
  status text not null check (status in ('RESERVED', 'REJECTED', 'RELEASED', 'CANCELLED')),
  -- what was taken from stock, to give back exactly that on release
  items jsonb not null default '[]',
  updated_at timestamptz not null default now()
);

create table coupon_redemptions (
  order_id uuid primary key,
  user_coupon_id uuid not null,
  status text not null check (status in ('REDEEMED', 'REJECTED', 'RESTORED', 'CANCELLED')),
  updated_at timestamptz not null default now()
);

create table payments (
  order_id uuid primary key,
  user_id text not null,
  amount bigint not null check (amount >= 0),
  status text not null check (status in ('PAID', 'FAILED', 'REFUNDED', 'CANCELLED')),
  updated_at timestamptz not null default now()
);

-- The saga's view of each step's reply.
create table order_steps (
  order_id uuid not null references orders (id),
  step text not null check (step in ('inventory', 'coupon', 'payment')),
  ok boolean not null,
  reason text,
  at timestamptz not null default now(),
  primary key (order_id, step)
);

-- Pending FCFS requests per coupon and old PENDING orders are watched (metrics, tests).
create index coupon_requests_pending on coupon_requests (coupon_id) where status = 'PENDING';
create index orders_pending on orders (created_at) where status = 'PENDING';
