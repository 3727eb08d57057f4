#!/usr/bin/env bash
# Fan-out of one board whose clients are spread over 1, 2 and 3 relay nodes on PostgreSQL and
# Redis, beside one node on SQLite (the reference). Release binaries, everything on this
# machine. Usage: bench/scripts/cluster_fanout.sh [ROUNDS]
# Needs PostgreSQL (NOUAGE_BENCH_DATABASE_URL, default postgres://root@127.0.0.1:5432) and
# Redis (NOUAGE_BENCH_REDIS_URL, default redis://127.0.0.1:6379).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
pg=${NOUAGE_BENCH_DATABASE_URL:-postgres://root@127.0.0.1:5432}
redis=${NOUAGE_BENCH_REDIS_URL:-redis://127.0.0.1:6379}
cargo build --release -p nouage-server --bin nouage -p nouage-bench --bin nouage-bench >&2
work=$(mktemp -d)
pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
trap 'stop; rm -rf "$work"' EXIT
wait_ready() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.1; done; echo "node on $1 did not start" >&2; exit 1; }
run() { # label nodes store
  local label=$1 nodes=$2 store=$3 db="nouage_bench_$RANDOM" ports=() spread=""
  if [ "$store" = postgres ]; then psql "$pg/postgres" -qc "CREATE DATABASE $db" >/dev/null; fi
  for n in $(seq "$nodes"); do
    local port=$((7900 + n))
    local args=(serve --listen "127.0.0.1:$port" --data "$work/$label-$n"
      --max-board-creations-per-minute 100000)
    if [ "$store" = postgres ]; then args+=(--database-url "$pg/$db"); fi
    if [ "$nodes" -gt 1 ]; then args+=(--redis-url "$redis" --redis-channel-prefix "bench-$db" --redis-secret "bench-key-$db"); fi
    RUST_LOG=${NOUAGE_BENCH_RUST_LOG:-warn} target/release/nouage "${args[@]}" >/dev/null 2>>"${NOUAGE_BENCH_LOG:-/dev/null}" &
    pids+=($!); ports+=("$port"); wait_ready "$port"
  done
  for p in "${ports[@]:1}"; do spread+="${spread:+,}127.0.0.1:$p"; done
  target/release/nouage-bench --mode fanout --receivers 60 --senders 6 --rate 10 --seconds 8 \
    --url "ws://127.0.0.1:${ports[0]}/ws/{room}?token={token}" --nouage-api "http://127.0.0.1:${ports[0]}" \
    ${spread:+--spread-over "$spread"} | python3 -c "
import json,sys; r=json.load(sys.stdin)
print('%-18s nodes %d  p50 %5.2f ms  p99 %5.2f ms  received %d/%d' % ('$label', r['nodes'], r['p50_ms'], r['p99_ms'], r['updates_received'], r['updates_expected']))"
  stop
  if [ "$store" = postgres ]; then psql "$pg/postgres" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null; fi
}
# NOUAGE_BENCH_ONLY: the setups to run (default all), e.g. "postgres-2-nodes".
only=${NOUAGE_BENCH_ONLY:-sqlite-1-node postgres-1-node postgres-2-nodes postgres-3-nodes}
for round in $(seq "$rounds"); do
  for setup in $only; do
    case $setup in
      sqlite-1-node) run "$setup" 1 sqlite ;;
      postgres-*) n=${setup#postgres-}; run "$setup" "${n%%-*}" postgres ;;
    esac
  done
done
