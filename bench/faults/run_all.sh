#!/usr/bin/env bash
# The whole fault campaign as recorded in docs/reliability.md, side by side: kill -9 trials in four
# processes (SQLite and PostgreSQL, flat and HNSW), the soak, and one after the other the PostgreSQL
# outages, the full disks and the plain-SQL writers.
# Needs root (tmpfs mount, runuser for the private PostgreSQL cluster) and PostgreSQL on 127.0.0.1:5432.
#   OUT=dir        where the JSON outputs and logs go (default bench/results/faults-<time>, gitignored)
#   DEADLINE=HH:MM no kill trial starts after this local time
#   SOAK_MIN=30    soak minutes;  TRIALS_EACH=125 kill trials per (database, index type)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
OUT=${OUT:-bench/results/faults-$(date +%Y%m%d-%H%M)}
mkdir -p "$OUT"
deadline=()
if [ -n "${DEADLINE:-}" ]; then deadline=(--deadline "$DEADLINE"); fi

$PY -m bench.faults.soak --minutes "${SOAK_MIN:-30}" --db postgres --out "$OUT/soak.json" >"$OUT/soak.log" 2>&1 &
soak=$!
scenarios_chain() {
    $PY -m bench.faults.outage --outage-s 20 --mode fast --out "$OUT/outage-fast.json" >"$OUT/outage-fast.log" 2>&1 || true
    $PY -m bench.faults.outage --outage-s 10 --mode immediate --index hnsw --out "$OUT/outage-immediate.json" \
        >"$OUT/outage-immediate.log" 2>&1 || true
    $PY -m bench.faults.fulldisk --db sqlite --out "$OUT/disk-sqlite.json" >"$OUT/disk-sqlite.log" 2>&1 || true
    $PY -m bench.faults.fulldisk --db postgres --out "$OUT/disk-postgres.json" >"$OUT/disk-postgres.log" 2>&1 || true
    $PY -m bench.faults.writers --db sqlite --txns 60 --out "$OUT/writers-sqlite.json" >"$OUT/writers-sqlite.log" 2>&1 || true
    $PY -m bench.faults.writers --db postgres --txns 60 --out "$OUT/writers-postgres.json" \
        >"$OUT/writers-postgres.log" 2>&1 || true
}
scenarios_chain &
scenarios=$!
kills=()
seed=100
for db in sqlite postgres; do
    for index in flat hnsw; do
        seed=$((seed + 1))
        $PY -m bench.faults.campaign --trials "${TRIALS_EACH:-125}" --db $db --index $index --seed $seed \
            --out "$OUT/kills-$db-$index.json" "${deadline[@]}" >"$OUT/kills-$db-$index.log" 2>&1 &
        kills+=($!)
    done
done
wait "${kills[@]}" $scenarios $soak || true

$PY -m bench.faults.report "$OUT"/*.json | tee "$OUT/report.md"
