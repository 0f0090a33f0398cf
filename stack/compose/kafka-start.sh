#!/usr/bin/env bash
# The start of a Kafka node in compose.yaml (image apache/kafka:4.3.0), run as its entrypoint:
#   1. every SCRAM user's password from the environment (SHOP_SCRAM_USERS names the users,
#      SHOP_SCRAM_PASSWORD_<USER, upper case, - as _> holds each password), all required;
#   2. a client properties file for the health check, logged in as the broker's own user;
#   3. on the first start only (no meta.properties yet): the storage formatted with every SCRAM
#      user (`kafka-storage.sh format --add-scram`, KIP-900), from a server.properties rendered from
#      the KAFKA_* variables by the image's own rule (below), so the format sees the configuration
#      the broker runs with; later starts check that the users were made then;
#   4. exec the image's normal start, /etc/kafka/docker/run.
# The local stack does the same without Docker (stack/components.ts, kafkaFormatStorage).
#
# What this relies on, read in apache/kafka's sources as of Oct 2024 (trunk before 4.0: docker/jvm/
# Dockerfile, docker/resources/common-scripts/{run,configure}, docker/jvm/launch,
# core/.../kafka/docker/KafkaDockerWrapper.scala, core/.../kafka/tools/StorageTool.scala), NOT
# checked against the 4.3.0 image itself (no Docker engine where this was written):
#   - the image's CMD is /etc/kafka/docker/run (no ENTRYPOINT); bash and /opt/kafka/bin/* exist;
#   - run -> launch calls KafkaDockerWrapper setup, which writes /opt/kafka/config/server.properties
#     from every KAFKA_* variable except a few *_OPTS-like ones (KAFKA_ removed, lower case, _ -> .,
#     ... -> -, .. -> _) and then formats the storage without SCRAM users; launch tolerates a
#     format that fails with "already formatted" (ours ran first) and starts the broker;
#   - StorageTool format reads the whole KafkaConfig from -c, accepts --add-scram
#     'SCRAM-SHA-512=[name=u,password=p]', and needs no --standalone when controller.quorum.voters
#     is set (compose sets it in both profiles);
#   - configure demands KAFKA_OPTS (a JAAS file) when KAFKA_ADVERTISED_LISTENERS contains "SASL_",
#     and keystores when it contains "SSL://": the listener names (CLIENT, HOST) contain neither,
#     the JAAS lines are per-listener properties instead (compose_test checks the names).
# If a later image changed one of these, this script fails loudly at the step concerned.
# Checked without Docker, with the Kafka 4.3.0 jars of the local stack: compose's single-node
# KAFKA_* variables (host names and ports swapped for loopback ones) rendered by this rule and
# formatted by this script make a storage with every SCRAM user, and a broker started on them
# accepts SCRAM logins on CLIENT and HOST (this client file), refuses an anonymous client and a
# wrong password, and lets admin (not ops) apply the ACL table. tests/unit/kafka_start_test.ts
# runs the script with stand-ins for the image's pieces.
set -euo pipefail
umask 077
# Where the image keeps Kafka and its start script; tests/unit/kafka_start_test.ts points them at
# stand-ins (not KAFKA_* names: the image would make those broker properties).
kafka_home="${SHOP_KAFKA_HOME:-/opt/kafka}"
image_start="${SHOP_IMAGE_START:-/etc/kafka/docker/run}"
tmp="${SHOP_TMP:-/tmp}"

die() {
  echo "kafka-start: $*" >&2
  exit 1
}

data="${KAFKA_LOG_DIRS:?kafka-start: KAFKA_LOG_DIRS must name the data directory}"
[[ "$data" != *,* ]] || die "KAFKA_LOG_DIRS must be one directory (got $data)"
: "${CLUSTER_ID:?kafka-start: CLUSTER_ID is required (the same on every node of a cluster)}"
read -r -a users <<<"${SHOP_SCRAM_USERS:?kafka-start: SHOP_SCRAM_USERS must list the SCRAM users}"

# 1. Passwords: hex or similar only, so they need no quoting in the JAAS lines, in --add-scram's
#    [name=...,password=...] syntax, nor in the URLs compose builds from some of them.
declare -A password=()
for u in "${users[@]}"; do
  [[ "$u" =~ ^[a-z0-9-]+$ ]] || die "not a plain user name: $u"
  var="SHOP_SCRAM_PASSWORD_$(tr 'a-z-' 'A-Z_' <<<"$u")"
  value="${!var:-}"
  [[ -n "$value" ]] || die "$var is unset: every principal's password is required"
  [[ "$value" =~ ^[A-Za-z0-9._~-]+$ ]] || die "$var: use letters, digits and ._~- only (openssl rand -hex 24)"
  password[$u]="$value"
done
[[ -n "${password[kafka]:-}" ]] || die "SHOP_SCRAM_USERS must include kafka, the brokers' own user"

# 2. The health check's login (compose.yaml's healthcheck reads this file): the broker's own user.
client="$tmp/shop-kafka-client.properties"
cat >"$client" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="kafka" password="${password[kafka]}";
EOF

# 3. The storage: SCRAM users exist only if the format made them.
marker="$data/shop-scram-users"
if [[ -e "$data/meta.properties" ]]; then
  for u in "${users[@]}"; do
    grep -qxF "$u" "$marker" 2>/dev/null || die "the storage in $data was formatted without the" \
      "SCRAM user $u (SCRAM users are made only when the storage is formatted): remove the" \
      "volumes ('docker compose down -v') and start again"
  done
else
  props="$tmp/shop-kafka-format.properties"
  : >"$props"
  # The image's rule (KafkaDockerWrapper.getServerConfigsFromEnv), on the exported variables.
  while read -r key; do
    case "$key" in
      KAFKA_VERSION | KAFKA_HEAP_OPTS | KAFKA_LOG4J_OPTS | KAFKA_OPTS | KAFKA_JMX_OPTS | \
        KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_GC_LOG_OPTS | KAFKA_LOG4J_ROOT_LOGLEVEL | \
        KAFKA_LOG4J_LOGGERS | KAFKA_TOOLS_LOG4J_LOGLEVEL | KAFKA_JMX_HOSTNAME) continue ;;
      KAFKA_*) ;;
      *) continue ;;
    esac
    name="${key//KAFKA_/}"
    name="${name,,}"
    name="${name//_/.}"
    name="${name//.../-}"
    name="${name//../_}"
    printf '%s=%s\n' "$name" "${!key}" >>"$props"
  done < <(compgen -e)
  scram=()
  for u in "${users[@]}"; do
    scram+=(--add-scram "SCRAM-SHA-512=[name=$u,password=${password[$u]}]")
  done
  mkdir -p "$data"
  echo "kafka-start: formatting $data with SCRAM users: ${users[*]}"
  # Its output (the bootstrap records, SCRAM salts and keys included) is shown on failure only.
  if ! out="$("$kafka_home/bin/kafka-storage.sh" format --cluster-id "$CLUSTER_ID" -c "$props" \
    "${scram[@]}" 2>&1)"; then
    rm -f "$props"
    die "storage format failed: $out"
  fi
  printf '%s\n' "${users[@]}" >"$marker"
  rm -f "$props"
fi

# 4. The broker keeps only what it needs: its listeners' JAAS lines (KAFKA_* variables), not the
#    other principals' passwords.
for u in "${users[@]}"; do unset "SHOP_SCRAM_PASSWORD_$(tr 'a-z-' 'A-Z_' <<<"$u")"; done
unset SHOP_SCRAM_USERS SHOP_KAFKA_HOME SHOP_IMAGE_START SHOP_TMP password
exec "$image_start"
