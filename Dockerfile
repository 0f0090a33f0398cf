# The api and worker image for compose. The same code runs on the local stack without Docker.
FROM denoland/deno:2.9.6
WORKDIR /app
COPY deno.json deno.lock ./
COPY vendor/ vendor/
COPY src/ src/
COPY relay/ relay/
COPY migrations/ migrations/
# The import map points postgres at the vendored driver.
COPY vendor/ vendor/
RUN deno cache src/main/api.ts src/main/worker.ts src/main/setup.ts src/main/migrate.ts relay/register.ts
USER deno
CMD ["deno", "task", "api"]
