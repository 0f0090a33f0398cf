-- The shop's business tables. Money and prices are integers (KRW).

create table products (
  id uuid primary key,
  name text not null,
  price bigint not null check (price >= 0),
  stock integer not null check (stock >= 0),
  -- Kept to check invariant 1: initial_stock = stock + sum of CONFIRMED quantities.
  initial_stock integer not null check (initial_stock >= 0),
  created_at timestamptz not null default now()
);

create table coupons (
  id uuid primary key,
  name text not null,
  discount_type text not null check (discount_type in ('fixed', 'percent')),
  -- the fixed amount, or the percent (1..100)
  discount_value bigint not null check (discount_value > 0),
  total_quantity integer not null check (total_quantity > 0),
  issued_quantity integer not null default 0,
  expires_at timestamptz,
  created_at timestamptz not null default now(),
  check (issued_quantity between 0 and total_quantity),
  check (discount_type = 'fixed' or discount_value <= 100)
);

-- One FCFS request per (coupon, user), enforced here and not only in code.
create table coupon_requests (
  id uuid primary key,
  coupon_id uuid not null references coupons (id),
  user_id text not null,
  status text not null default 'PENDING' check (status in ('PENDING', 'ISSUED', 'REJECTED')),
  reason text check (reason in ('SOLD_OUT', 'EXPIRED')),
  user_coupon_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (coupon_id, user_id)
);

-- A user holds a coupon at most once (invariant 4), by constraint.
create table user_coupons (
  id uuid primary key,
  coupon_id uuid not null references coupons (id),
  user_id text not null,
  status text not null default 'AVAILABLE' check (status in ('AVAILABLE', 'USED')),
  order_id uuid,
  issued_at timestamptz not null default now(),
  used_at timestamptz,
  unique (coupon_id, user_id)
);
create index user_coupons_user on user_coupons (user_id, issued_at desc);

create table wallets (
  user_id text primary key,
  balance bigint not null default 0 check (balance >= 0),
  updated_at timestamptz not null default now()
);

create table wallet_charges (
  id uuid primary key,
  user_id text not null,
  amount bigint not null check (amount between 1 and 1000000000),
  created_at timestamptz not null default now()
);
create index wallet_charges_user on wallet_charges (user_id);

create table orders (
  id uuid primary key,
  user_id text not null,
  status text not null default 'PENDING' check (status in ('PENDING', 'CONFIRMED', 'CANCELLED')),
  user_coupon_id uuid references user_coupons (id),
  total_amount bigint not null check (total_amount >= 0),
  discount_amount bigint not null check (discount_amount >= 0),
  payment_amount bigint not null check (payment_amount >= 0),
  cancel_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (payment_amount = total_amount - discount_amount)
);
-- Own orders, newest first: ids are UUIDv7, so id order is creation order and the cursor.
create index orders_user_newest on orders (user_id, id desc);

create table order_items (
  order_id uuid not null references orders (id),
  position smallint not null, -- the line's place in the request, kept for reads
  product_id uuid not null references products (id),
  quantity integer not null check (quantity between 1 and 1000),
  unit_price bigint not null check (unit_price >= 0),
  primary key (order_id, product_id)
);

-- Idempotency-Key: the first response of (user, route, key) replayed to repeats. The row is
-- inserted in the same transaction as the effect, so a concurrent duplicate waits on it.
create table idempotency_keys (
  user_id text not null,
  route text not null,
  key text not null,
  request_hash text not null,
  status_code integer not null,
  response jsonb not null,
  created_at timestamptz not null default now(),
  primary key (user_id, route, key)
);
create index idempotency_keys_created on idempotency_keys (created_at);
