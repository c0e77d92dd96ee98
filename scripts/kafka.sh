#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft) for the demo, the tests and the benchmark.
#
# The broker is the official org.apache.kafka:kafka_2.13 artifact, fetched once with the
# machine's Maven into a cache outside the repo and run on Java 17. No Docker needed.
#
#   scripts/kafka.sh start    fetch (first time), format storage (first time), start, wait until ready
#   scripts/kafka.sh stop     stop the broker this script started (never one it did not start)
#   scripts/kafka.sh status   say whether a broker answers on the port
#   scripts/kafka.sh pid      print the pid of the broker this script started (exit 1 if none)
#   scripts/kafka.sh fetch    only download the broker into the cache
#   scripts/kafka.sh clean    delete the port's data dir (topics, offsets, state changelogs) and
#                             its size; refuses while a broker answers on the port
#
# Environment:
#   KAFKA_VERSION        broker version (default below; keep in step with docker-compose.yml)
#   KAFKA_PORT           client port on 127.0.0.1 (default 9092); the controller uses KAFKA_PORT+1
#   M2M_CACHE_DIR        cache root (default ~/.cache/m2m-sentinel)
#   KAFKA_DATA_DIR       log dirs and pid file (default $M2M_CACHE_DIR/kafka-data-$KAFKA_PORT)
#   KAFKA_HEAP_OPTS      JVM heap (default -Xms256m -Xmx768m)
#
# Secured mode (KAFKA_SECURE=1): clients connect with SASL_SSL on KAFKA_PORT, the broker
# authorizes every request with ACLs (StandardAuthorizer, nothing allowed without one), and the
# broker and controller talk over PLAINTEXT on 127.0.0.1 only (KAFKA_PORT+2, KAFKA_PORT+1). It
# needs, made beforehand (the tests do it with openssl: test/support/certs.ts):
#   KAFKA_SSL_KEYSTORE   PKCS12 keystore with the broker's certificate and key
#   KAFKA_SSL_PASSWORD   its password
#   KAFKA_SASL_USERS     "name:password,name:password": accepted with PLAIN, SCRAM-SHA-256 and
#                        SCRAM-SHA-512; the first one is a super user (it sets the ACLs)
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
CACHE="${M2M_CACHE_DIR:-$HOME/.cache/m2m-sentinel}"
DIST="$CACHE/kafka-$KAFKA_VERSION"
DATA="${KAFKA_DATA_DIR:-$CACHE/kafka-data-$KAFKA_PORT}"
PIDFILE="$DATA/broker.pid"
LOG="$DATA/broker.log"
READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90}"
SECURE="${KAFKA_SECURE:-0}"

say() { printf '[kafka] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

fetch() {
  if [ -f "$DIST/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || { say "Maven (mvn) is required to fetch the broker"; exit 1; }
  command -v java >/dev/null || { say "Java 17+ is required to run the broker"; exit 1; }
  say "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION with Maven into $DIST (first time only)"
  mkdir -p "$DIST"
  cat >"$DIST/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.m2m-sentinel</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <!-- the broker logs through slf4j 1.7; this binds it to the log4j2 that kafka_2.13 brings -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
POM
  local tries=0
  until mvn -B -q -f "$DIST/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$DIST/libs" -DincludeScope=runtime >"$DIST/fetch.log" 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 3 ]; then say "Maven fetch failed 3 times; see $DIST/fetch.log"; tail -20 "$DIST/fetch.log" >&2; exit 1; fi
    say "Maven fetch failed, retrying ($tries/3)"; sleep $((tries * 5))
  done
  cat >"$DIST/log4j2.yaml" <<'L4J'
Configuration:
  Appenders:
    Console: { name: STDOUT, PatternLayout: { pattern: "[%d] %p %m (%c)%n" } }
  Loggers:
    Root: { level: WARN, AppenderRef: [ { ref: STDOUT } ] }
    Logger:
      - { name: kafka.server.KafkaRaftServer, level: INFO, additivity: false, AppenderRef: [ { ref: STDOUT } ] }
      - { name: kafka.server.BrokerServer, level: INFO, additivity: false, AppenderRef: [ { ref: STDOUT } ] }
L4J
  touch "$DIST/.complete"
}

java_cmd() {
  # shellcheck disable=SC2086
  java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m} -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$DIST/log4j2.yaml" -cp "$DIST/libs/*" "$@"
}

# The listener lines of a plain broker, or of a secured one (see the header).
listener_config() {
  if [ "$SECURE" != 1 ]; then
    cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
PROPS
    return
  fi
  : "${KAFKA_SSL_KEYSTORE:?secured mode needs KAFKA_SSL_KEYSTORE}" "${KAFKA_SSL_PASSWORD:?secured mode needs KAFKA_SSL_PASSWORD}" "${KAFKA_SASL_USERS:?secured mode needs KAFKA_SASL_USERS}"
  local internal=$((KAFKA_PORT + 2)) plain="" admin
  admin="${KAFKA_SASL_USERS%%:*}"
  local IFS=','
  for u in $KAFKA_SASL_USERS; do plain="$plain user_${u%%:*}=\"${u#*:}\""; done
  cat <<PROPS
listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT,INTERNAL://127.0.0.1:$internal,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT,INTERNAL://127.0.0.1:$internal
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=INTERNAL
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$KAFKA_SSL_KEYSTORE
ssl.keystore.password=$KAFKA_SSL_PASSWORD
ssl.key.password=$KAFKA_SSL_PASSWORD
ssl.enabled.protocols=TLSv1.3,TLSv1.2
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# ANONYMOUS is the broker and controller on their loopback-only PLAINTEXT listeners.
super.users=User:$admin;User:ANONYMOUS
PROPS
}

# SCRAM credentials are stored in the cluster metadata, written when the storage is formatted.
scram_args() {
  [ "$SECURE" = 1 ] || return 0
  local IFS=','
  for u in $KAFKA_SASL_USERS; do
    printf -- '--add-scram\nSCRAM-SHA-256=[name=%s,password=%s]\n--add-scram\nSCRAM-SHA-512=[name=%s,password=%s]\n' "${u%%:*}" "${u#*:}" "${u%%:*}" "${u#*:}"
  done
}

write_config() {
  mkdir -p "$DATA/logs"
  cat >"$DATA/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
$(listener_config)
controller.listener.names=CONTROLLER
log.dirs=$DATA/logs
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
log.segment.bytes=268435456
message.max.bytes=10485760
PROPS
}

start() {
  if port_open "$KAFKA_PORT"; then
    say "a broker already answers on 127.0.0.1:$KAFKA_PORT; reusing it"
    return 0
  fi
  fetch
  write_config
  if [ ! -f "$DATA/logs/meta.properties" ]; then
    say "formatting KRaft storage in $DATA/logs"
    local scram=()
    while IFS= read -r a; do [ -n "$a" ] && scram+=("$a"); done < <(scram_args)
    java_cmd kafka.tools.StorageTool format --standalone -t "$(java_cmd kafka.tools.StorageTool random-uuid)" \
      -c "$DATA/server.properties" "${scram[@]}" >"$DATA/format.log" 2>&1 || { cat "$DATA/format.log" >&2; exit 1; }
  fi
  say "starting Apache Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT$([ "$SECURE" = 1 ] && echo ' (SASL_SSL, ACLs)') (log: $LOG)"
  nohup bash -c "$(declare -f java_cmd); DIST='$DIST' KAFKA_HEAP_OPTS='${KAFKA_HEAP_OPTS:-}' java_cmd kafka.Kafka '$DATA/server.properties'" \
    >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local waited=0
  until port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$LOG" 2>/dev/null; do
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then say "broker exited during start-up:"; tail -30 "$LOG" >&2; exit 1; fi
    if [ "$waited" -ge "$READY_TIMEOUT" ]; then say "broker not ready after ${READY_TIMEOUT}s"; tail -30 "$LOG" >&2; exit 1; fi
    sleep 1; waited=$((waited + 1))
  done
  say "ready after ${waited}s"
}

stop() {
  if [ ! -f "$PIDFILE" ]; then say "no broker started by this script on port $KAFKA_PORT"; return 0; fi
  local pid; pid=$(cat "$PIDFILE")
  # The pid is of the bash wrapper; the JVM is its child.
  local pids="$pid $(pgrep -P "$pid" 2>/dev/null || true)"
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping broker (pid $pid)"
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 1 40); do
      if ! port_open "$KAFKA_PORT" && ! kill -0 $pids 2>/dev/null; then break; fi
      sleep 0.5
    done
    kill -KILL $pids 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
}

# The developer broker's data dir keeps every demo and bench topic (bench preloads are GBs), and a
# large dir makes the broker slow to start serving; this is the way to start afresh.
clean() {
  if port_open "$KAFKA_PORT"; then say "a broker answers on 127.0.0.1:$KAFKA_PORT; stop it first (scripts/kafka.sh stop)"; exit 1; fi
  if [ ! -d "$DATA" ]; then say "nothing to clean: $DATA does not exist"; return 0; fi
  say "removing $DATA ($(du -sh "$DATA" 2>/dev/null | cut -f1))"
  rm -rf "$DATA"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if port_open "$KAFKA_PORT"; then say "up on 127.0.0.1:$KAFKA_PORT"; else say "down"; exit 1; fi ;;
  fetch) fetch ;;
  clean) clean ;;
  version) echo "$KAFKA_VERSION" ;;
  # The pid file names the bash wrapper; the benchmark counts the CPU of it and its child, the JVM.
  pid) if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then cat "$PIDFILE"; else exit 1; fi ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
