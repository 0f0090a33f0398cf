-- FCFS "passed over" is judged by the log, not by a clock (docs/decisions.md, "FCFS: passed over
-- by offsets"). The log order of a coupon's requests is the order their transactions committed,
-- which `created_at` (the statement's start) does not tell.

-- The event a request was announced with, so its record's fate in the log (e.g. dead-lettered
-- by the issuer at a known offset, `platform.dead_letter_log`) can be tied back to it. Requests
-- made before this migration have none and are never judged passed over.
alter table coupons.coupon_requests add column event_id uuid;
create index coupon_requests_event on coupons.coupon_requests (event_id);

-- The issuer's high-water mark per coupon: the partition and offset of the last request record
-- it decided. A request whose record it saw below the mark on that partition was passed over;
-- a request it has not seen is never passed over.
alter table coupons.coupons add column decided_partition integer;
alter table coupons.coupons add column decided_offset bigint;

-- The sweep looks dead letters up by event id.
create index dead_letter_log_event on platform.dead_letter_log (event_id);
