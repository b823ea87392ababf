#!/usr/bin/env bash
# docqa replicas (and `docqa worker` processes, once that command exists) behind haproxy, as plain
# processes on one PostgreSQL. What bench/bench_replicas.py runs; a starting point for a real deployment.
#
#   DOCQA_DATABASE_URL=postgresql://127.0.0.1/docqa deploy/run-local.sh start [REPLICAS]   # 1-3, default 3
#   deploy/run-local.sh status
#   deploy/run-local.sh stop
#
# Every DOCQA_* variable reaches the replicas (DOCQA_EMBEDDER, DOCQA_READ_DATABASE_URL, DOCQA_API_KEY, ...)
# except DOCQA_DATA_DIR: each replica gets its own under RUN_DIR (its FAISS snapshots; sharing one is
# safe but makes the replicas take turns writing them).
#   RUN_DIR             pid files, logs, data dirs (default ./run-local)
#   DOCQA_LB_PORT       haproxy's port (default 8100)
#   DOCQA_REPLICA_PORT  replica i listens on DOCQA_REPLICA_PORT + i - 1 (default 8101)
#   DOCQA_CMD           how to run docqa (default: docqa; e.g. "python -m docqa.cli.main")
#   DOCQA_RUN_WORKERS   standalone ingest workers to start (default 0; needs `docqa worker`)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN_DIR="${RUN_DIR:-./run-local}"
LB_PORT="${DOCQA_LB_PORT:-8100}"
BASE_PORT="${DOCQA_REPLICA_PORT:-8101}"
WORKERS="${DOCQA_RUN_WORKERS:-0}"
read -ra CMD <<< "${DOCQA_CMD:-docqa}"

say() { echo "run-local: $*" >&2; }

alive() {  # pid: running (an exited child of this script stays a zombie until reaped: kill -0 still succeeds)
    [[ -r "/proc/$1/stat" ]] && [[ "$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat")" != Z ]]
}

wait_ready() {  # url, seconds[, name: the process whose death ends the wait, its log tail shown]
    local deadline=$((SECONDS + $2)) name="${3:-}"
    until curl -sf -m 2 -o /dev/null "$1/health/ready"; do
        if [[ -n "$name" ]] && ! alive "$(cat "$RUN_DIR/$name.pid")"; then
            say "$name exited before it was ready (e.g. its port is taken); its errors in $RUN_DIR/$name.log:"
            grep -iE '"level": "(error|critical)"|error|Traceback' "$RUN_DIR/$name.log" | tail -n 3 >&2 \
                || tail -n 5 "$RUN_DIR/$name.log" >&2
            return 1
        fi
        if ((SECONDS > deadline)); then say "$1 not ready after $2 s"; return 1; fi
        sleep 0.2
    done
}

start_bg() {  # name, command...: start in the background, log and pid file under RUN_DIR
    local name="$1"; shift
    nohup "$@" >>"$RUN_DIR/$name.log" 2>&1 &
    echo $! >"$RUN_DIR/$name.pid"
}

start() {
    local replicas="${1:-3}"
    if ! [[ "$replicas" =~ ^[1-3]$ ]]; then say "REPLICAS must be 1, 2 or 3 (deploy/haproxy.cfg lists three)"; exit 2; fi
    case "${DOCQA_DATABASE_URL:-}" in
        postgres://* | postgresql://*) ;;
        *) say "set DOCQA_DATABASE_URL to a PostgreSQL URL: replicas share one PostgreSQL"; exit 2 ;;
    esac
    if compgen -G "$RUN_DIR/*.pid" >/dev/null; then say "already running in $RUN_DIR (stop first)"; exit 1; fi
    mkdir -p "$RUN_DIR"
    local i port
    for ((i = 1; i <= replicas; i++)); do
        port=$((BASE_PORT + i - 1))
        export "DOCQA_R${i}_PORT=$port"
        DOCQA_DATA_DIR="$RUN_DIR/replica-$i" start_bg "replica-$i" \
            "${CMD[@]}" serve --host 127.0.0.1 --port "$port"
    done
    for ((i = 1; i <= replicas; i++)); do
        wait_ready "http://127.0.0.1:$((BASE_PORT + i - 1))" 180 "replica-$i" || { stop; exit 1; }
    done
    if ((WORKERS > 0)); then
        if ! "${CMD[@]}" worker --help >/dev/null 2>&1; then say "this docqa has no 'worker' command"; stop; exit 1; fi
        for ((i = 1; i <= WORKERS; i++)); do
            DOCQA_DATA_DIR="$RUN_DIR/worker-$i" start_bg "worker-$i" "${CMD[@]}" worker
        done
    fi
    export DOCQA_LB_PORT="$LB_PORT"
    haproxy -c -q -f "$HERE/haproxy.cfg"
    start_bg haproxy haproxy -db -f "$HERE/haproxy.cfg"
    wait_ready "http://127.0.0.1:$LB_PORT" 30 || { stop; exit 1; }
    {
        echo "lb=http://127.0.0.1:$LB_PORT"
        for ((i = 1; i <= replicas; i++)); do echo "replica-$i=http://127.0.0.1:$((BASE_PORT + i - 1))"; done
    } >"$RUN_DIR/endpoints"
    say "$replicas replica(s), $WORKERS worker(s), haproxy on http://127.0.0.1:$LB_PORT (logs in $RUN_DIR)"
}

stop() {
    local pidfile pid name
    for pidfile in "$RUN_DIR"/haproxy.pid "$RUN_DIR"/worker-*.pid "$RUN_DIR"/replica-*.pid; do
        [[ -f "$pidfile" ]] || continue
        pid="$(cat "$pidfile")"; name="$(basename "$pidfile" .pid)"
        if kill -TERM "$pid" 2>/dev/null; then
            for _ in $(seq 100); do alive "$pid" || break; sleep 0.2; done
            if alive "$pid"; then say "$name ($pid) ignored SIGTERM, killing"; kill -KILL "$pid"; fi
        fi
        rm -f "$pidfile"
    done
    rm -f "$RUN_DIR/endpoints"
}

status() {
    local pidfile pid name
    for pidfile in "$RUN_DIR"/*.pid; do
        [[ -f "$pidfile" ]] || { say "nothing running in $RUN_DIR"; return; }
        pid="$(cat "$pidfile")"; name="$(basename "$pidfile" .pid)"
        if alive "$pid"; then echo "$name pid $pid running"; else echo "$name pid $pid gone"; fi
    done
    [[ -f "$RUN_DIR/endpoints" ]] && cat "$RUN_DIR/endpoints"
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start [REPLICAS] | status | stop" >&2; exit 2 ;;
esac
