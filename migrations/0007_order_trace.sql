-- The trace an order was placed in, so events the saga emits later on its own (the deadline
-- sweep's OrderCancelled) continue that trace instead of starting one no reader can follow.
alter table orders add column traceparent text;
