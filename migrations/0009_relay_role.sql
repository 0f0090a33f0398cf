-- The relay's own login: Debezium reads the WAL through the slot and needs nothing but the
-- outbox. It was the owner's user before, which could read and change every table; a leaked
-- Connect config or a compromised worker now exposes the outbox rows only.
--
-- REPLICATION lets it open the replication connection and create the slot. Debezium 3.6 with
-- pgoutput and publication.autocreate.mode=filtered finds the publication of 0001 in place and,
-- when its tables already equal table.include.list, neither alters nor creates it, so the role
-- needs no ownership of the publication or the table: SELECT on the outbox (Debezium's documented
-- minimum for a captured table, which it reads the schema of) and USAGE on its schema are all.
--
-- Roles belong to the whole cluster, so it is made only if missing: another database of the
-- same cluster (a test's throwaway database, a second checkout) may have made it, possibly at
-- the same instant, and a DBA may have made it beforehand where the migrating user may not
-- create REPLICATION roles (PostgreSQL requires a superuser for that). No password here:
-- `deno task setup` sets it from RELAY_DATABASE_PASSWORD where a deployment needs one
-- (docs/configuration.md); the local stack trusts loopback.
do $$
begin
  if not exists (select from pg_roles where rolname = 'shop_relay') then
    create role shop_relay login replication;
  end if;
exception
  -- Two databases of one cluster migrating at once: both saw no role, one created it.
  when duplicate_object or unique_violation then null;
end $$;

grant usage on schema platform to shop_relay;
grant select on platform.outbox to shop_relay;
