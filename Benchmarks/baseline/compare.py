"""Conveyor against the boto3 peer (boto3_runner.py), on the same machine, in one run.

Starts moto's S3 once (seeded with the inputs) and, for every run, a FRESH conveyor-emulator;
times `conveyor run` and the peer under /usr/bin/time, reads throttles from the emulator's
/__stats, and writes Benchmarks/results/DATE.md and DATE.json. Everything listens on loopback;
every child gets dummy credentials and AWS_EC2_METADATA_DISABLED=true.

Scenarios (quota unknown to both clients, concurrency 32):
  A   300 items, emulator --rpm 1200 --burst 2 --latency-ms 300, maxTokens 64
  A2  300 items, emulator --tpm 60000 --burst 2 --latency-ms 300, maxTokens 256
  B   2,000 items, instant model (latency 0, no quota): client CPU per item and peak RSS

Usage: python3 compare.py --bin DIR [--scenarios A,A2,B] [--command 'make bench'] [--items N --no-write]
"""
import argparse
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
}

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


def timed(argv, work, tag):
    """Runs argv under /usr/bin/time; returns (monotonic wall, user+sys, peak RSS KiB, rc, stdout)."""
    tfile = work / f"{tag}.time"
    start = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-o", str(tfile), "-f", "%e %U %S %M", *argv], env=ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - start
    _, user, sys_, rss = tfile.read_text().split()[-4:]
    return wall, float(user) + float(sys_), int(rss), proc.returncode, proc.stdout


def ideal(sc, stats):
    """Least wall time the quota allows (a fluid model). Requests: (items - rate x burst) / rate +
    latency. Tokens: a call reserves input + maxTokens at admission and gives back the unused part
    when it ends, so k calls in flight hold k x (reserved - used) tokens on top of what is spent.
    With k in flight the run takes at least items x latency / k, and the bucket must fund
    items x used + k x (reserved - used) from capacity + rate x T; the ideal is the best k:
    min over k of max(items x latency / k, (items x used - capacity + k x (reserved - used)) / rate)
    + latency, with used and reserved per call from the emulator's own token counts."""
    n, lat = sc["items"], sc["latency_ms"] / 1000
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--scenarios", default="A,A2,B")
    p.add_argument("--command", default=" ".join(sys.argv))
    p.add_argument("--repeat", type=int, default=1, help="runs of every scenario and runner (interleaved)")
    p.add_argument("--items", type=int, help="override every scenario's item count (smoke tests)")
    p.add_argument("--no-write", action="store_true", help="print the table only")
    args = p.parse_args()
    if args.items:
        for sc in SCENARIOS.values():
            sc["items"] = args.items
    bin_dir = pathlib.Path(args.bin)
    names = [s for s in args.scenarios.split(",") if s]
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
        for name in names:
            n = SCENARIOS[name]["items"]
            width = len(str(n))
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda i: s3.put_object(Bucket=BUCKET, Key=f"in-{name}/t{i:0{width}d}.txt",
                                                      Body=f"ticket {i}: the printer is on fire again".encode()),
                              range(1, n + 1)))
        print(f"moto at {s3_url}, seeded {', '.join(names)}", flush=True)

        for rep, name, runner in [(r, n, x) for r in range(1, args.repeat + 1) for n in names
                                  for x in ("conveyor", "boto3")]:
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
inputs: {{s3: "s3://{BUCKET}/in-{name}/"}}
output: {{s3: "s3://{BUCKET}/out/{run_id}/{{{{item.name}}}}.json"}}
report: "s3://{BUCKET}/reports/{run_id}.json"
limits: {{concurrency: {CONCURRENCY}}}
""")
                        argv = [str(bin_dir / "conveyor"), "run", str(job), "--progress", "never",
                                "--log-level", "warning"]
                    else:
                        argv = [sys.executable, str(ROOT / "Benchmarks/baseline/boto3_runner.py"), "--s3-endpoint",
                                s3_url, "--bedrock-endpoint", emu_url, "--bucket", BUCKET, "--input-prefix",
                                f"in-{name}/", "--output-prefix", f"out/{run_id}/", "--concurrency",
                                str(CONCURRENCY), "--max-tokens", str(sc["max_tokens"])]
                    wall, cpu, rss, rc, out = timed(argv, work, run_id)
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
                           cpu_ms_per_item=round(cpu * 1000 / sc["items"], 2), peak_rss_mib=round(rss / 1024, 1))
                rows.append(row)
                print(json.dumps(row), flush=True)
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
                                peak_rss_mib_max=max(r["peak_rss_mib"] for r in rs)))
    stable = ("| scenario | runner | runs | wall s, median (min–max) | ideal s | ratio | failed, all runs "
              "| throttles / calls, median | CPU ms/item, median | peak RSS MiB, max |\n"
              "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(
                  f"| {m['scenario']} | {m['runner']} | {m['runs']} | {m['wall_median_s']:.2f} "
                  f"({m['wall_min_s']:.2f}–{m['wall_max_s']:.2f}) | {m['ideal_s'] if m['ideal_s'] else '-'} "
                  f"| {m['ratio_median'] if m['ratio_median'] else '-'} | {m['failed_total']} "
                  f"| {m['throttled_median']:g} / {m['calls_median']:g} | {m['cpu_ms_per_item_median']} "
                  f"| {m['peak_rss_mib_max']} |" for m in summary))
    head = ("| scenario | runner | rep | wall s | ideal s | ratio | failed | throttles / calls | CPU s | CPU ms/item "
            "| peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head] + [
        f"| {r['scenario']} | {r['runner']} | {r['rep']} | {r['wall_s']:.2f} | {r['ideal_s'] if r['ideal_s'] is not None else '-'} "
        f"| {r['ratio'] if r['ratio'] is not None else '-'} | {r['failed']} | {r['throttled']} / {r['calls']} "
        f"| {r['cpu_s']:.2f} | {r['cpu_ms_per_item']} | {r['peak_rss_mib']} |" for r in rows]
    table = "\n".join(lines)
    print()
    print(stable)
    print()
    print(table)
    if args.no_write:
        return 0
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%MZ")
    out_dir = ROOT / "Benchmarks/results"
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = dict(command=args.command, machine=machine, concurrency=CONCURRENCY,
               repeat=args.repeat,
               scenarios={k: {kk: v for kk, v in SCENARIOS[k].items()} for k in names}, summary=summary, results=rows)
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
- B: {SCENARIOS['B']['items']} items, instant model (`--latency-ms 0`, no quota): overhead. moto is the bottleneck
  here, so read CPU ms/item and peak RSS, not wall.

Wall is measured around the whole process (monotonic), start-up included: the peer's Python and boto3
imports cost it about half a second; CPU = user + sys and peak RSS from `/usr/bin/time -f "%e %U %S %M"`.
Throttles and calls come from the emulator's `/__stats`.

## Summary ({args.repeat} interleaved run(s) of every scenario and runner)

{stable}

## Every run

{table}
"""
    (out_dir / f"{stamp}.md").write_text(md)
    print(f"\nwrote Benchmarks/results/{stamp}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
