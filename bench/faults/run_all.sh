#!/usr/bin/env bash
# The whole fault campaign as recorded in docs/reliability.md: kill -9 trials in three processes side by
# side, a soak beside them, then the PostgreSQL outage, the full disk and the plain-SQL writers.
# Needs root (tmpfs mount, runuser for the private PostgreSQL cluster) and PostgreSQL on 127.0.0.1:5432.
#   OUT=dir        where the JSON outputs and logs go (default bench/results/faults-<time>, gitignored)
#   DEADLINE=HH:MM no kill trial starts after this local time
#   SOAK_MIN=30    soak minutes;  TRIALS_SQLITE=200 TRIALS_PG_FLAT=150 TRIALS_PG_HNSW=150
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
OUT=${OUT:-bench/results/faults-$(date +%Y%m%d-%H%M)}
mkdir -p "$OUT"
deadline=()
if [ -n "${DEADLINE:-}" ]; then deadline=(--deadline "$DEADLINE"); fi

$PY -m bench.faults.soak --minutes "${SOAK_MIN:-30}" --db postgres --out "$OUT/soak.json" >"$OUT/soak.log" 2>&1 &
soak=$!
$PY -m bench.faults.campaign --trials "${TRIALS_SQLITE:-200}" --db sqlite --index both --seed 101 \
    --out "$OUT/kills-sqlite.json" "${deadline[@]}" >"$OUT/kills-sqlite.log" 2>&1 &
a=$!
$PY -m bench.faults.campaign --trials "${TRIALS_PG_FLAT:-150}" --db postgres --index flat --seed 202 \
    --out "$OUT/kills-pg-flat.json" "${deadline[@]}" >"$OUT/kills-pg-flat.log" 2>&1 &
b=$!
$PY -m bench.faults.campaign --trials "${TRIALS_PG_HNSW:-150}" --db postgres --index hnsw --seed 303 \
    --out "$OUT/kills-pg-hnsw.json" "${deadline[@]}" >"$OUT/kills-pg-hnsw.log" 2>&1 &
c=$!
wait $a $b $c || true

$PY -m bench.faults.outage --outage-s 20 --mode fast --out "$OUT/outage-fast.json" >"$OUT/outage-fast.log" 2>&1 || true
$PY -m bench.faults.outage --outage-s 10 --mode immediate --index hnsw --out "$OUT/outage-immediate.json" \
    >"$OUT/outage-immediate.log" 2>&1 || true
$PY -m bench.faults.fulldisk --db sqlite --out "$OUT/disk-sqlite.json" >"$OUT/disk-sqlite.log" 2>&1 || true
$PY -m bench.faults.fulldisk --db postgres --out "$OUT/disk-postgres.json" >"$OUT/disk-postgres.log" 2>&1 || true
$PY -m bench.faults.writers --db sqlite --txns 60 --out "$OUT/writers-sqlite.json" >"$OUT/writers-sqlite.log" 2>&1 || true
$PY -m bench.faults.writers --db postgres --txns 60 --out "$OUT/writers-postgres.json" \
    >"$OUT/writers-postgres.log" 2>&1 || true
wait $soak || true

$PY -m bench.faults.report "$OUT"/*.json | tee "$OUT/report.md"
