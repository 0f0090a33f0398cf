# The api and worker image for compose. The same code runs on the local stack without Docker.
FROM denoland/deno:2.9.6
WORKDIR /app
COPY deno.json deno.lock ./
COPY vendor/ vendor/
COPY src/ src/
COPY relay/ relay/
COPY migrations/ migrations/
# Everything from the lockfile: a dependency missing from deno.lock fails the build.
RUN deno cache --frozen src/main/permissions.ts src/main/api.ts src/main/worker.ts src/main/setup.ts src/main/acls.ts src/main/migrate.ts src/main/projections_rebuild.ts relay/register.ts
USER deno
CMD ["deno", "task", "api"]
