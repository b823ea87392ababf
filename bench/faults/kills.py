"""kill -9 trials: at a random moment of `docqa ingest`, of `docqa sync --force` (weighted toward the
snapshot save) and of a live `docqa serve` taking writes; then restart and check independently.

A trial's restart is the one command an operator would run: `docqa sync` (ingest, sync) or starting the
service again (serve). If the checker then finds the index wrong, the trial counts manual steps: a second
`docqa sync`, then `docqa sync --force`, until it is consistent (0 = nothing to do by hand).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.faults import corpus, procs
from bench.faults.checker import DbReader, check
from bench.faults.client import AckLog, Writer, seed_acks
from bench.faults.dbs import Dropper, Template

KINDS = ("ingest", "sync", "serve")


@dataclass
class Trial:
    kind: str
    db: str
    index: str
    seed: int
    kill_at_s: float = 0.0
    window_s: float = 0.0
    mode: str = "uniform"
    killed: bool = False  # the process was still running when the kill came
    consistent: bool = False
    lost_acked: int = 0
    acked_documents: int = 0
    manual_steps: int = 0
    restart_s: float = 0.0
    restart_status: str = ""
    db_members: int = 0
    index_vectors: int = 0
    left_temporaries: int = 0
    killed_in_save: bool = False
    stuck_documents: int = 0
    writes_acked: int = 0
    writes_sent: int = 0
    http_5xx: int = 0
    live_vectors: int | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    load1: float = 0.0  # the machine's 1-minute load average when the trial started (2 cores, shared)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Fixture:
    """One (database kind, index type): a template to clone, the seeded acknowledgements, measured durations."""

    db: str
    index: str
    template: Template
    acks: list[dict]
    ingest_batches: list[Path]
    ingest_s: float = 0.0
    sync_s: float = 0.0
    save_s: float = 0.0  # how long the snapshot's temporary directory exists during `sync --force`
    seen: dict[str, list[float]] = field(default_factory=dict)  # durations of runs that ended before their kill

    def window(self, kind: str) -> float:
        """The duration to draw kill moments from: the median of the measurement and the last runs that
        finished before their kill (the machine's load moves durations by 2x; a stale, too long window would
        make kills land after the end)."""
        measured = self.ingest_s if kind == "ingest" else self.sync_s
        recent = self.seen.get(kind, [])[-4:]
        return statistics.median([measured, *recent]) if recent else measured

    def finished(self, kind: str, seconds: float) -> None:
        self.seen.setdefault(kind, []).append(seconds)


def _json_out(ran: procs.Ran) -> dict:
    if ran.rc != 0:
        raise RuntimeError(f"docqa exited {ran.rc}: {ran.stderr[-2000:]}")
    return json.loads(ran.stdout)


def build_fixture(
    work: Path, db: str, index: str, docs: int, seed: int, batches: int = 2, batch_docs: int = 8, measure_runs: int = 3
) -> Fixture:
    """Template: samples/ plus `docs` generated documents ingested and synced; ingest batches beside it."""
    src = work / "corpus"
    if not src.exists():
        corpus.copy_samples(src / "samples")
        corpus.generate(src / "generated", docs, seed)
        for b in range(batches):
            corpus.generate(src / f"batch{b}", batch_docs, seed + 100 + b, prefix=f"batch{b}")
        corpus.copy_samples(src / "batch0" / "samples-again")
    folder = work / f"template-{db}-{index}"
    template = Template(db, folder)
    folder.mkdir(parents=True, exist_ok=True)
    env = procs.env_for(template.url, folder, index)
    out = _json_out(procs.run(["ingest", str(src / "samples"), str(src / "generated"), "--json"], env, timeout=600))
    documents = out["documents"]
    ran = procs.run(["sync"], env)
    if ran.rc != 0:
        raise RuntimeError(f"template sync failed: {ran.stderr[-2000:]}")
    fixture = Fixture(db, index, template, seed_acks(documents), [src / f"batch{b}" for b in range(batches)])
    _measure(work, fixture, measure_runs)
    return fixture


def _watch_save(proc, data: Path, kill_after: float | None = None) -> tuple[float, float | None, float | None, bool]:
    """Wait for `proc`, watching the snapshot's temporary directory appear and go (seconds from now):
    (total, first seen, last seen, killed). With `kill_after`, SIGKILL the process that many seconds after
    the temporary directory appeared."""
    t0 = time.perf_counter()
    first = last = None
    while proc.poll() is None:
        now = time.perf_counter() - t0
        if _temporaries(data):
            first = now if first is None else first
            last = now
            if kill_after is not None and now - first >= kill_after:
                return time.perf_counter() - t0, first, last, procs.kill9(proc)
        time.sleep(0.0005)
    return time.perf_counter() - t0, first, last, False


def _measure(work: Path, fx: Fixture, runs: int = 3) -> None:
    """On a clone: median wall time of `docqa sync --force` and of its snapshot save (3 runs), and the
    wall time of the ingest batches (1 run)."""
    dropper = Dropper()
    sync_runs, saves, ingest_total = [], [], 0.0
    data = work / "measure"
    url, name = fx.template.clone(data)
    try:
        env = procs.env_for(url, data, fx.index)
        for _ in range(runs):
            total, first, last, _ = _watch_save(procs.start(["sync", "--force"], env), data)
            sync_runs.append(total)
            if first is not None and last is not None:
                saves.append(last - first)
        for batch in fx.ingest_batches:
            ingest_total += procs.run(["ingest", str(batch), "--recursive", "--json"], env, timeout=600).seconds
    finally:
        if name:
            dropper.drop(name)
        dropper.wait()
        shutil.rmtree(data, ignore_errors=True)
    fx.sync_s = statistics.median(sync_runs)
    fx.save_s = statistics.median(saves) if saves else 0.0
    fx.ingest_s = ingest_total


def _temporaries(data: Path) -> int:
    root = data / "index"
    return len([p for p in root.glob("default.tmp-*")]) if root.exists() else 0


def _stuck(db_url: str) -> int:
    reader = DbReader(db_url)
    try:
        return int(reader.scalar("SELECT count(*) FROM documents WHERE status IN ('pending', 'processing')", default=0))
    finally:
        reader.close()


def _verify(trial: Trial, db_url: str, data: Path, index: str, acks: list[dict], restarted: bool) -> None:
    """Run the checker; on failure count the manual steps needed (sync, then sync --force)."""
    env = procs.env_for(db_url, data, index)
    result = check(db_url, data, acks=acks)
    steps = 0
    first = result
    for extra in (["sync"], ["sync", "--force"]):
        if result.consistent:
            break
        steps += 1
        procs.run(extra, env)
        result = check(db_url, data, acks=acks)
    trial.consistent = first.consistent and restarted
    trial.manual_steps = steps if result.consistent else steps + 1
    trial.lost_acked = len(first.lost_acked)
    trial.acked_documents = first.acked_documents
    trial.db_members, trial.index_vectors = first.db_members, first.index_vectors
    trial.problems = first.problems[:10] + (
        [] if result.consistent else [f"after {steps} manual steps still: {result.problems[:3]}"]
    )
    trial.stuck_documents = _stuck(db_url)


def trial_ingest(fx: Fixture, data: Path, rng: random.Random, trial: Trial) -> None:
    url, name = fx.template.clone(data)
    trial._pg = name  # type: ignore[attr-defined]
    env = procs.env_for(url, data, fx.index)
    acks = list(fx.acks)
    trial.window_s = fx.window("ingest")
    trial.kill_at_s = rng.uniform(0, trial.window_s)
    t0 = time.monotonic()
    for batch in fx.ingest_batches:
        proc = procs.start(["ingest", str(batch), "--recursive", "--json"], env, data.parent / "ingest.out")
        left = trial.kill_at_s - (time.monotonic() - t0)
        try:
            proc.wait(max(0.0, left))
        except Exception:
            pass
        if proc.poll() is None:
            trial.killed = procs.kill9(proc)
            break
        out = json.loads(_last_json(data.parent / "ingest.out"))
        acks += seed_acks(out["documents"], start=len(acks) + 10_000)
        (data.parent / "ingest.out").unlink()
    if not trial.killed:
        fx.finished("ingest", time.monotonic() - t0)
    _restart_sync(trial, url, data, fx.index)
    _verify(trial, url, data, fx.index, acks, restarted=trial.restart_status != "failed")


def _last_json(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.find("{\n")
    return text[start:] if start >= 0 else text


def trial_sync(fx: Fixture, data: Path, rng: random.Random, trial: Trial) -> None:
    url, name = fx.template.clone(data)
    trial._pg = name  # type: ignore[attr-defined]
    env = procs.env_for(url, data, fx.index)
    d = fx.window("sync")
    trial.window_s = d
    draw = rng.random()
    t0 = time.monotonic()
    proc = procs.start(["sync", "--force"], env)
    if draw < 0.25 and fx.save_s > 0:  # a quarter: inside the save, timed from its temporary directory appearing
        trial.mode = "in-save"
        delay = rng.uniform(0, fx.save_s)
        total, first, _, trial.killed = _watch_save(proc, data, kill_after=delay)
        trial.kill_at_s = round((first or 0) + delay, 4)
        if not trial.killed:
            fx.finished("sync", total)
    else:  # a quarter in the last 30% of the duration, half anywhere
        trial.mode = "last-30%" if draw < 0.5 else "uniform"
        trial.kill_at_s = rng.uniform(0.7 * d, d) if draw < 0.5 else rng.uniform(0, d)
        try:
            proc.wait(trial.kill_at_s)
            fx.finished("sync", time.monotonic() - t0)
        except Exception:
            pass
    trial.killed = procs.kill9(proc) or trial.killed
    trial.killed_in_save = _temporaries(data) > 0 or (data / "index" / "default.old").exists()
    _restart_sync(trial, url, data, fx.index)
    trial.left_temporaries = _temporaries(data)
    _verify(trial, url, data, fx.index, fx.acks, restarted=trial.restart_status != "failed")


def _restart_sync(trial: Trial, url: str, data: Path, index: str) -> None:
    ran = procs.run(["sync", "--json"], procs.env_for(url, data, index))
    trial.restart_s = round(ran.seconds, 3)
    try:
        trial.restart_status = json.loads(ran.stdout)["status"] if ran.rc == 0 else "failed"
    except (ValueError, KeyError):
        trial.restart_status = "failed"
    if ran.rc != 0:
        trial.problems.append(f"restart `docqa sync` exited {ran.rc}: {ran.stderr[-300:]}")


def trial_serve(fx: Fixture, data: Path, rng: random.Random, trial: Trial) -> None:
    url, name = fx.template.clone(data)
    trial._pg = name  # type: ignore[attr-defined]
    interval = rng.choice([30.0, 0.5])  # the default, and frequent saves so kills land inside them too
    log = data.parent / "serve.log"
    proc, base = procs.serve(url, data, fx.index, log, snapshot_interval_s=interval)
    acks = AckLog(data.parent / "acks.jsonl", fx.acks)
    try:
        if procs.wait_healthy(base, proc, timeout=90) is None:
            trial.problems.append(f"service did not become healthy: {log.read_text()[-500:]}")
            return
        present = [a["document_id"] for a in fx.acks]
        # two clients, each owning half of the documents: up to two requests in flight at the kill
        writers = [
            Writer(base, acks, rng.randrange(1 << 30), f"s{trial.seed}{tag}", present[k::2], max_ops=500)
            for k, tag in enumerate("ab")
        ]
        trial.window_s = 2.5
        trial.kill_at_s = rng.uniform(0.05, trial.window_s)
        for writer in writers:
            writer.start()
        time.sleep(trial.kill_at_s)
    finally:
        trial.killed = procs.kill9(proc)
        trial.killed_in_save = _temporaries(data) > 0 or (data / "index" / "default.old").exists()
    for writer in writers:
        writer.join(30)
    trial.writes_sent = sum(w.ops for w in writers)
    trial.writes_acked = sum(1 for r in acks.records if r.get("phase") == "acked") - len(fx.acks)
    trial.http_5xx = sum(n for w in writers for code, n in w.codes.items() if code >= 500)
    if trial.http_5xx:
        trial.problems.append(f"5xx during writes: {[x for w in writers for x in w.five_xx][:3]}")
    if rng.random() < 0.5:  # half restart as the service, half as `docqa sync` (both are what operators do)
        trial.mode = "restart-serve"
        # a short job lease: the killed service's running upload job is claimed again by this one within seconds
        proc, base = procs.serve(url, data, fx.index, log, snapshot_interval_s=interval, job_lease_s=JOB_LEASE_S)
        try:
            t0 = time.perf_counter()
            ok = procs.wait_healthy(base, proc, timeout=90)
            trial.restart_s = round(time.perf_counter() - t0, 3)
            trial.restart_status = "healthy" if ok is not None else "failed"
            if ok is not None:
                # Upload jobs the killed service had queued or was running are resumed by this one (jobs survive
                # a restart): compare once the queue is empty and the index has applied every change.
                trial.live_vectors = _settled_vectors(base)
        finally:
            procs.stop(proc)
    else:
        trial.mode = "restart-sync"
        _restart_sync(trial, url, data, fx.index)
    _verify(trial, url, data, fx.index, acks.records, restarted=trial.restart_status != "failed")
    if trial.live_vectors is not None and trial.live_vectors != trial.db_members:
        trial.consistent = False
        trial.problems.append(f"live service reported {trial.live_vectors} vectors, database has {trial.db_members}")
    acks.close()


JOB_LEASE_S = 2.0


def _settled_vectors(base: str, timeout_s: float = 60.0) -> int | None:
    """The live index's vector count once no job is queued or running and the change log is applied (lag 0);
    the count as it stands after `timeout_s` otherwise (then the checker's comparison says what differs)."""
    deadline = time.monotonic() + timeout_s
    stats: dict = {}
    while True:
        _, health = procs.get_json(base + "/health")
        counts = ((health or {}).get("jobs") or {}).get("counts") or {}
        _, stats = procs.get_json(base + "/api/v1/search/stats")
        pending = int(counts.get("queued", 0)) + int(counts.get("running", 0))
        if (not pending and stats and stats.get("lag") == 0) or time.monotonic() > deadline:
            return stats.get("total_vectors") if stats else None
        time.sleep(0.2)


RUNNERS = {"ingest": trial_ingest, "sync": trial_sync, "serve": trial_serve}


def run_trial(fx: Fixture, kind: str, work: Path, seed: int, dropper: Dropper) -> Trial:
    trial = Trial(kind, fx.db, fx.index, seed, load1=round(os.getloadavg()[0], 2))
    rng = random.Random(seed)
    folder = work / f"trial-{seed}"
    t0 = time.perf_counter()
    try:
        RUNNERS[kind](fx, folder / "data", rng, trial)
    except Exception as exc:  # a harness failure is reported as such, never as a pass
        trial.consistent = False
        trial.problems.append(f"harness error: {type(exc).__name__}: {exc}")
    finally:
        name = getattr(trial, "_pg", None)
        if name:
            dropper.drop(name)
        shutil.rmtree(folder, ignore_errors=True)
    trial.seconds = round(time.perf_counter() - t0, 2)
    return trial
