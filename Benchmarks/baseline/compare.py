"""Conveyor against the boto3 peer (boto3_runner.py), on the same machine, in one run.

Starts moto's S3 once (seeded with the inputs) and, for every run, a FRESH conveyor-emulator;
times `conveyor run` and the peer under /usr/bin/time, reads throttles from the emulator's
/__stats, and writes Benchmarks/results/DATE.md and DATE.json. Everything listens on loopback;
every child gets dummy credentials and AWS_EC2_METADATA_DISABLED=true.

Scenarios (quota unknown to both clients, concurrency 32):
  A   300 items, emulator --rpm 1200 --burst 2 --latency-ms 300, maxTokens 64
  A2  300 items, emulator --tpm 60000 --burst 2 --latency-ms 300, maxTokens 256
  B   2,000 items, instant model (latency 0, no quota): client CPU per item and peak RSS
  C   1,000 items, 1 s latency, no quota, concurrency 1,000: wall, threads, calls in flight
  D   Conveyor alone: a 1,000,000-record JSONL object; `plan` time and peak RSS, then `run` of
      100,000 records against an instant model (outputs to the local store), RSS sampled over the run

Usage: python3 compare.py --bin DIR [--scenarios A,A2,B] [--command 'make bench'] [--items N --no-write]
"""
import argparse
import collections
import datetime
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUCKET = "bench"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
CONCURRENCY = 32
SCENARIOS = {
    "A": dict(items=300, emulator=["--rpm", "1200", "--burst", "2", "--latency-ms", "300"], max_tokens=64,
              rpm=1200, tpm=None, burst=2, latency_ms=300),
    "A2": dict(items=300, emulator=["--tpm", "60000", "--burst", "2", "--latency-ms", "300"], max_tokens=256,
               rpm=None, tpm=60000, burst=2, latency_ms=300),
    "B": dict(items=2000, emulator=["--latency-ms", "0"], max_tokens=64, rpm=None, tpm=None, burst=1, latency_ms=0),
    "C": dict(items=1000, emulator=["--latency-ms", "1000"], max_tokens=64, rpm=None, tpm=None, burst=1,
              latency_ms=1000, concurrency=1000),
}
# A and A2 with the job's `limits.probe: false`, Conveyor only: what the one-item probe costs.
for _base in ("A", "A2"):
    SCENARIOS[_base + "np"] = dict(SCENARIOS[_base], probe=False, inputs=_base, conveyor_only=True)
D_RECORDS = 1_000_000
D_RUN_ITEMS = 100_000

ENV = dict(os.environ)
for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
    ENV.pop(k, None)
ENV.update(AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench",
           AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/dev/null",
           AWS_SHARED_CREDENTIALS_FILE="/dev/null")
os.environ.update({k: ENV[k] for k in ("AWS_EC2_METADATA_DISABLED", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")})

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402


def start_server(argv, log):
    out = open(log, "w")
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=ENV)
    for _ in range(400):
        text = pathlib.Path(log).read_text()
        for line in text.splitlines():
            if line.startswith("listening on "):
                return proc, line.split("listening on ", 1)[1].strip()
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    sys.exit(f"server did not start: {argv}\n{pathlib.Path(log).read_text()}")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Samples(list):
    """(seconds, threads, RSS KiB) tuples, and `peak_names`: the thread names at the highest count."""
    peak_names = ()


class Sampler:
    """Samples the measured process (the child of /usr/bin/time) every `every` seconds from /proc:
    its thread count and resident memory, with the time of each sample, and the names of its threads
    (/proc/PID/task/*/comm) when it had the most."""

    def __init__(self, time_pid, every=0.1):
        import threading
        self.time_pid, self.every, self.samples = time_pid, every, Samples()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def child(self):
        try:
            return int(pathlib.Path(f"/proc/{self.time_pid}/task/{self.time_pid}/children").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None

    def run(self):
        start = time.monotonic()
        pid = None
        while not self.done.is_set():
            pid = pid or self.child()
            if pid:
                try:
                    fields = dict(line.split(":", 1) for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines())
                    threads = int(fields["Threads"])
                    self.samples.append((time.monotonic() - start, threads, int(fields["VmRSS"].split()[0])))
                    if threads > len(self.samples.peak_names):
                        self.samples.peak_names = sorted(t.joinpath("comm").read_text().strip()
                                                 for t in pathlib.Path(f"/proc/{pid}/task").iterdir())
                except (OSError, KeyError, ValueError):
                    pass
            self.done.wait(self.every)

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.samples


def thread_summary(names):
    """`main, 2 × worker` style: each distinct thread name with its count."""
    counts = collections.Counter(names)
    return ", ".join(n if c == 1 else f"{c} × {n}" for n, c in counts.items())


def timed(argv, work, tag, sample_every=None):
    """Runs argv under /usr/bin/time; returns (monotonic wall, user+sys, peak RSS KiB, rc, stdout,
    samples), the samples (seconds, threads, RSS KiB) taken every `sample_every` seconds if asked."""
    tfile = work / f"{tag}.time"
    out_file = work / f"{tag}.out"
    start = time.monotonic()
    with open(out_file, "w") as out:
        proc = subprocess.Popen(["/usr/bin/time", "-o", str(tfile), "-f", "%e %U %S %M", *argv], env=ENV,
                                stdout=out, stderr=subprocess.STDOUT, text=True)
        sampler = Sampler(proc.pid, sample_every) if sample_every else None
        rc = proc.wait()
    wall = time.monotonic() - start
    samples = sampler.stop() if sampler else []
    _, user, sys_, rss = tfile.read_text().split()[-4:]
    return wall, float(user) + float(sys_), int(rss), rc, out_file.read_text(), samples


def ideal(sc, stats):
    """Least wall time the quota allows (a fluid model). Requests: (items - rate x burst) / rate +
    latency. Tokens: a call reserves input + maxTokens at admission and gives back the unused part
    when it ends, so k calls in flight hold k x (reserved - used) tokens on top of what is spent.
    With k in flight the run takes at least items x latency / k, and the bucket must fund
    items x used + k x (reserved - used) from capacity + rate x T; the ideal is the best k:
    min over k of max(items x latency / k, (items x used - capacity + k x (reserved - used)) / rate)
    + latency, with used and reserved per call from the emulator's own token counts."""
    n, lat = sc["items"], sc["latency_ms"] / 1000
    if sc.get("concurrency", CONCURRENCY) >= n and lat > 0:
        return lat  # every call at once: one latency
    if sc["rpm"]:
        rate = sc["rpm"] / 60
        return max(0.0, n - max(1, rate * sc["burst"])) / rate + lat
    if sc["tpm"]:
        rate = sc["tpm"] / 60
        cap = max(1, rate * sc["burst"])
        accepted = max(1, stats["accepted"])
        used = (stats["inputTokens"] + stats["outputTokens"]) / accepted
        reserved = stats["inputTokens"] / accepted + sc["max_tokens"]
        return min(max(n * lat / k, (n * used - cap + k * (reserved - used)) / rate)
                   for k in range(1, CONCURRENCY + 1)) + lat
    return None


def scenario_d(s3, s3_url, bin_dir, work):
    """Scale: one JSONL object of D_RECORDS records in moto. `conveyor plan` over all of it, then
    `conveyor run --max-items D_RUN_ITEMS` against an instant model with outputs to the local store
    (so that moto's PUT rate does not set the pace), RSS sampled every half second."""
    path = work / "records.jsonl"
    with open(path, "w") as f:
        for i in range(1, D_RECORDS + 1):
            f.write(json.dumps({"id": i, "text": f"ticket {i}: the printer is on fire again"}) + "\n")
    size = path.stat().st_size
    s3.upload_file(str(path), BUCKET, "in-D/records.jsonl")
    path.unlink()
    print(f"seeded in-D/records.jsonl: {D_RECORDS:,} records, {size / 1e6:.1f} MB", flush=True)
    out_dir = work / "out-D"
    job = work / "scale.yaml"
    job.write_text(f"""version: 1
name: bench-d
model: {{id: {MODEL}, maxTokens: 64}}
prompt: "Summarise: {{{{record.text}}}}"
inputs: {{s3: "s3://{BUCKET}/in-D/records.jsonl", format: jsonl, idField: id}}
output: {{s3: "file://{out_dir}/{{{{item.id}}}}.json"}}
report: "file://{out_dir}/report.json"
limits: {{concurrency: 32}}
""")
    ENV["AWS_ENDPOINT_URL_S3"] = s3_url
    result = dict(records=D_RECORDS, object_mb=round(size / 1e6, 1))
    wall, cpu, rss, rc, out, samples = timed([str(bin_dir / "conveyor"), "plan", str(job), "--show", "1"], work,
                                             "d-plan", sample_every=0.5)
    result["plan"] = dict(exit_code=rc, wall_s=round(wall, 2), cpu_s=round(cpu, 2), peak_rss_mib=round(rss / 1024, 1),
                          items_line=next((l for l in out.splitlines() if l.startswith("Items:")), None))
    print(json.dumps(result["plan"]), flush=True)
    emu, emu_addr = start_server([str(bin_dir / "conveyor-emulator"), "--port", "0", "--latency-ms", "0"],
                                 work / "d.emu")
    try:
        ENV["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = f"http://{emu_addr}"
        wall, cpu, rss, rc, out, samples = timed([str(bin_dir / "conveyor"), "run", str(job), "--max-items",
                                                  str(D_RUN_ITEMS), "--progress", "never", "--log-level", "warning"],
                                                 work, "d-run", sample_every=0.5)
    finally:
        stop(emu)
    written = sum(1 for _ in out_dir.glob("*.json")) - (1 if (out_dir / "report.json").exists() else 0)
    shutil.rmtree(out_dir, ignore_errors=True)
    # RSS at each quarter of the run: flat memory means the last quarters do not climb
    quarters = []
    if samples:
        end = samples[-1][0]
        for q in (0.25, 0.5, 0.75, 1.0):
            at = [r for t, _, r in samples if t <= end * q]
            quarters.append(round(max(at) / 1024, 1) if at else None)
    result["run"] = dict(exit_code=rc, items=D_RUN_ITEMS, outputs_written=written, wall_s=round(wall, 2),
                         items_per_s=round(D_RUN_ITEMS / wall, 1), cpu_s=round(cpu, 2),
                         cpu_ms_per_item=round(cpu * 1000 / D_RUN_ITEMS, 3), peak_rss_mib=round(rss / 1024, 1),
                         rss_mib_by_quarter=quarters, peak_threads=max((t for _, t, _ in samples), default=None))
    print(json.dumps(result["run"]), flush=True)
    return result


def scale_markdown(d):
    p, r = d["plan"], d["run"]
    return f"""
## D, scale (Conveyor alone)

A JSONL object of {d['records']:,} records ({d['object_mb']} MB) in moto.

| step | exit | wall s | CPU s | peak RSS MiB | notes |
|---|---|---|---|---|---|
| `plan` (all records) | {p['exit_code']} | {p['wall_s']} | {p['cpu_s']} | {p['peak_rss_mib']} | {p['items_line']} |
| `run --max-items {r['items']:,}` (instant model, local-store outputs) | {r['exit_code']} | {r['wall_s']} | {r['cpu_s']} | {r['peak_rss_mib']} | {r['items_per_s']} items/s, {r['cpu_ms_per_item']} CPU ms/item, {r['outputs_written']:,} outputs, {r['peak_threads']} threads |

RSS during the run, the highest sample up to each quarter of it (MiB): {' → '.join(str(q) for q in r['rss_mib_by_quarter'])}.
"""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--scenarios", default="A,A2,B")
    p.add_argument("--command", default=" ".join(sys.argv))
    p.add_argument("--repeat", type=int, default=1, help="runs of every scenario and runner (interleaved)")
    p.add_argument("--items", type=int, help="override every scenario's item count (smoke tests)")
    p.add_argument("--no-write", action="store_true", help="print the table only")
    p.add_argument("--d-records", type=int, help="scenario D's record count (smoke tests)")
    p.add_argument("--d-items", type=int, help="scenario D's run item count (smoke tests)")
    args = p.parse_args()
    global D_RECORDS, D_RUN_ITEMS
    D_RECORDS = args.d_records or D_RECORDS
    D_RUN_ITEMS = args.d_items or D_RUN_ITEMS
    if args.items:
        for sc in SCENARIOS.values():
            sc["items"] = args.items
    bin_dir = pathlib.Path(args.bin)
    requested = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in requested if s not in SCENARIOS and s != "D"]
    if unknown:
        sys.exit(f"unknown scenario(s): {', '.join(unknown)} (known: {', '.join(SCENARIOS)}, D)")
    names = [s for s in requested if s in SCENARIOS]
    scale = None
    work = pathlib.Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    moto, moto_addr = start_server([sys.executable, "-u", str(ROOT / "Tests/servers/moto_server.py"), "--host",
                                    "127.0.0.1", "--port", "0", "--parent-pid", str(os.getpid())], work / "moto.out")
    rows = []
    try:
        s3_url = f"http://{moto_addr}"
        s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id="bench",
                          aws_secret_access_key="bench",
                          config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                                        response_checksum_validation="when_required", max_pool_connections=16))
        s3.create_bucket(Bucket=BUCKET)
        for name in dict.fromkeys(SCENARIOS[n].get("inputs", n) for n in names):
            n = SCENARIOS[name]["items"]
            width = len(str(n))
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda i: s3.put_object(Bucket=BUCKET, Key=f"in-{name}/t{i:0{width}d}.txt",
                                                      Body=f"ticket {i}: the printer is on fire again".encode()),
                              range(1, n + 1)))
        print(f"moto at {s3_url}, seeded {', '.join(names)}", flush=True)

        for rep, name, runner in [(r, n, x) for r in range(1, args.repeat + 1) for n in names
                                  for x in ("conveyor", "boto3")
                                  if x == "conveyor" or not SCENARIOS[n].get("conveyor_only")]:
            if True:
                sc = SCENARIOS[name]
                run_id = f"{name}-{runner}-{rep}-{int(time.time())}"
                emu, emu_addr = start_server([str(bin_dir / "conveyor-emulator"), "--port", "0", "--jitter", "0.2",
                                              *sc["emulator"]], work / f"{run_id}.emu")
                emu_url = f"http://{emu_addr}"
                try:
                    ENV["AWS_ENDPOINT_URL_S3"] = s3_url
                    ENV["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = emu_url
                    if runner == "conveyor":
                        job = work / f"{run_id}.yaml"
                        job.write_text(f"""version: 1
name: bench-{name.lower()}
model: {{id: {MODEL}, maxTokens: {sc['max_tokens']}}}
prompt: "Summarise: {{{{input}}}}"
inputs: {{s3: "s3://{BUCKET}/in-{sc.get('inputs', name)}/"}}
output: {{s3: "s3://{BUCKET}/out/{run_id}/{{{{item.name}}}}.json"}}
report: "s3://{BUCKET}/reports/{run_id}.json"
limits: {{concurrency: {sc.get('concurrency', CONCURRENCY)}{'' if sc.get('probe', True) else ', probe: false'}}}
""")
                        argv = [str(bin_dir / "conveyor"), "run", str(job), "--progress", "never",
                                "--log-level", "warning"]
                    else:
                        argv = [sys.executable, str(ROOT / "Benchmarks/baseline/boto3_runner.py"), "--s3-endpoint",
                                s3_url, "--bedrock-endpoint", emu_url, "--bucket", BUCKET, "--input-prefix",
                                f"in-{sc.get('inputs', name)}/", "--output-prefix", f"out/{run_id}/", "--concurrency",
                                str(sc.get("concurrency", CONCURRENCY)), "--max-tokens", str(sc["max_tokens"])]
                    wall, cpu, rss, rc, out, samples = timed(argv, work, run_id, sample_every=0.05)
                    stats = json.load(urllib.request.urlopen(f"{emu_url}/__stats", timeout=10))
                finally:
                    stop(emu)
                if runner == "conveyor":
                    try:
                        report = json.load(s3.get_object(Bucket=BUCKET, Key=f"reports/{run_id}.json")["Body"])
                        ok, failed = report["counts"]["succeeded"], report["counts"]["failed"]
                    except Exception as e:  # noqa: BLE001
                        print(f"no report for {run_id}: {e}\n{out}", flush=True)
                        ok, failed = None, sc["items"]
                else:
                    try:
                        peer = json.loads(out.strip().splitlines()[-1])
                        ok, failed = peer["succeeded"], peer["failed"]
                    except Exception:  # noqa: BLE001
                        print(out, flush=True)
                        ok, failed = None, sc["items"]
                written = sum(1 for page in s3.get_paginator("list_objects_v2").paginate(
                    Bucket=BUCKET, Prefix=f"out/{run_id}/") for _ in page.get("Contents", []))
                ide = ideal(sc, stats)
                row = dict(scenario=name, runner=runner, rep=rep, items=sc["items"], exit_code=rc, wall_s=round(wall, 2),
                           ideal_s=round(ide, 2) if ide else None, ratio=round(wall / ide, 3) if ide else None,
                           succeeded=ok, failed=failed, outputs_written=written, calls=stats["calls"],
                           throttled=stats["throttled"], input_tokens=stats["inputTokens"],
                           output_tokens=stats["outputTokens"], cpu_s=round(cpu, 2),
                           cpu_ms_per_item=round(cpu * 1000 / sc["items"], 2), peak_rss_mib=round(rss / 1024, 1),
                           peak_threads=max((t for _, t, _ in samples), default=None),
                           max_in_flight=stats.get("maxInFlight"),
                           thread_names=thread_summary(samples.peak_names) if runner == "conveyor" else None)
                rows.append(row)
                print(json.dumps(row), flush=True)
        if "D" in requested:
            scale = scenario_d(s3, s3_url, bin_dir, work)
    finally:
        stop(moto)
        shutil.rmtree(work, ignore_errors=True)

    machine = dict(nproc=os.cpu_count(), kernel=platform.release(),
                   date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   python=platform.python_version(), boto3=boto3.__version__)
    try:
        machine["conveyor_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                                    capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    rows.sort(key=lambda r: (names.index(r["scenario"]), r["runner"] != "conveyor", r["rep"]))
    summary = []
    for name in names:
        for runner in ("conveyor", "boto3"):
            rs = [r for r in rows if r["scenario"] == name and r["runner"] == runner]
            if not rs:
                continue
            med = lambda key: statistics.median(r[key] for r in rs)  # noqa: E731
            walls = sorted(r["wall_s"] for r in rs)
            ide = rs[0]["ideal_s"]
            summary.append(dict(scenario=name, runner=runner, runs=len(rs), wall_median_s=med("wall_s"),
                                wall_min_s=walls[0], wall_max_s=walls[-1], ideal_s=ide,
                                ratio_median=round(med("wall_s") / ide, 3) if ide else None,
                                failed_total=sum(r["failed"] or 0 for r in rs),
                                throttled_median=med("throttled"), calls_median=med("calls"),
                                cpu_ms_per_item_median=med("cpu_ms_per_item"),
                                peak_rss_mib_max=max(r["peak_rss_mib"] for r in rs),
                                peak_threads_max=max((r["peak_threads"] or 0) for r in rs),
                                max_in_flight_max=max((r["max_in_flight"] or 0) for r in rs)))
    stable = ("| scenario | runner | runs | wall s, median (min–max) | ideal s | ratio | failed, all runs "
              "| throttles / calls, median | CPU ms/item, median | peak RSS MiB, max | threads, max "
              "| calls in flight, max |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(
                  f"| {m['scenario']} | {m['runner']} | {m['runs']} | {m['wall_median_s']:.2f} "
                  f"({m['wall_min_s']:.2f}–{m['wall_max_s']:.2f}) | {m['ideal_s'] if m['ideal_s'] else '-'} "
                  f"| {m['ratio_median'] if m['ratio_median'] else '-'} | {m['failed_total']} "
                  f"| {m['throttled_median']:g} / {m['calls_median']:g} | {m['cpu_ms_per_item_median']} "
                  f"| {m['peak_rss_mib_max']} | {m['peak_threads_max']} | {m['max_in_flight_max']} |" for m in summary))
    head = ("| scenario | runner | rep | wall s | ideal s | ratio | failed | throttles / calls | CPU s | CPU ms/item "
            "| peak RSS MiB | threads | in flight |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head] + [
        f"| {r['scenario']} | {r['runner']} | {r['rep']} | {r['wall_s']:.2f} | {r['ideal_s'] if r['ideal_s'] is not None else '-'} "
        f"| {r['ratio'] if r['ratio'] is not None else '-'} | {r['failed']} | {r['throttled']} / {r['calls']} "
        f"| {r['cpu_s']:.2f} | {r['cpu_ms_per_item']} | {r['peak_rss_mib']} | {r['peak_threads']} "
        f"| {r['max_in_flight']} |" for r in rows]
    table = "\n".join(lines)
    named = [r for r in rows if r.get("thread_names")]
    threads_md = ("\nConveyor's threads when it had the most (names from /proc/PID/task/*/comm):\n\n" + "\n".join(
        f"- {r['scenario']} run {r['rep']}: {r['peak_threads']}: {r['thread_names']}" for r in named) + "\n") if named else ""
    scale_md = scale_markdown(scale) if scale else ""
    print()
    print(stable)
    print()
    print(table)
    if scale_md:
        print()
        print(scale_md)
    if args.no_write:
        return 0
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%MZ")
    out_dir = ROOT / "Benchmarks/results"
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = dict(command=args.command, machine=machine, concurrency=CONCURRENCY,
               repeat=args.repeat,
               scenarios={k: {kk: v for kk, v in SCENARIOS[k].items()} for k in names}, summary=summary, results=rows,
               scale=scale)
    (out_dir / f"{stamp}.json").write_text(json.dumps(doc, indent=2) + "\n")
    md = f"""# Conveyor vs the boto3 peer, {machine['date']}

Command: `{args.command}`

Machine: {machine['nproc']} cores, kernel {machine['kernel']}, Python {machine['python']}, boto3 {machine['boto3']},
Conveyor at {machine.get('conveyor_commit', '?')}. moto's S3 server and conveyor-emulator share the machine's cores
with the client under test; every run gets a fresh emulator (full quota buckets), moto is shared.

Both clients: concurrency {CONCURRENCY}, quota unknown to them, GET input, Converse, PUT output per item.
Conveyor: job defaults (maxAttempts 10). Peer: `Benchmarks/baseline/boto3_runner.py`, botocore adaptive
retries, max_attempts 3 (an item still throttled after them fails).

- A: {SCENARIOS['A']['items']} items, emulator `{' '.join(SCENARIOS['A']['emulator'])} --jitter 0.2`, maxTokens 64.
  Ideal = (items − rate × burst) / rate + latency.
- A2: {SCENARIOS['A2']['items']} items, emulator `{' '.join(SCENARIOS['A2']['emulator'])} --jitter 0.2`, maxTokens 256.
  Ideal (fluid model): a call reserves input + maxTokens and gives back the unused part when it ends, so k calls
  in flight hold k × (reserved − used) tokens besides those spent; ideal = min over k ≤ 32 of
  max(items × latency / k, (items × used − capacity + k × (reserved − used)) / rate) + latency, with used and
  reserved per call from the emulator's token counts (about 27 used, 269 reserved here).
- Anp, A2np: A and A2 with the job's `limits.probe: false`, Conveyor only: what the one-item probe (items go one
  at a time until one has succeeded end to end) costs.
- B: {SCENARIOS['B']['items']} items, instant model (`--latency-ms 0`, no quota): overhead. moto is the bottleneck
  here, so read CPU ms/item and peak RSS, not wall.
- C: {SCENARIOS['C']['items']} items, 1 s latency, no quota, concurrency {SCENARIOS['C']['concurrency']} for both: breadth.
  Ideal = one latency. Threads: the most the client process had, sampled every 50 ms from /proc; calls in flight:
  the most the emulator held at once.

Wall is measured around the whole process (monotonic), start-up included: the peer's Python and boto3
imports cost it about half a second; CPU = user + sys and peak RSS from `/usr/bin/time -f "%e %U %S %M"`.
Throttles and calls come from the emulator's `/__stats`.

## Summary ({args.repeat} interleaved run(s) of every scenario and runner)

{stable}

## Every run

{table}
{threads_md}
{scale_md}"""
    (out_dir / f"{stamp}.md").write_text(md)
    print(f"\nwrote Benchmarks/results/{stamp}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
