#!/usr/bin/env python3
"""Checks the orchestrator definitions in examples/deploy/ against the conveyor that was built.

Each definition's command line is taken out of the file, pointed at a local job (the definitions
name /etc/conveyor/...; here examples/local-summaries.yaml stands in, which needs no AWS) and run
with `--dry-run` in the environment the orchestrator would give it: AWS Batch's
AWS_BATCH_JOB_ID/AWS_BATCH_JOB_ARRAY_INDEX, Kubernetes' JOB_COMPLETION_INDEX and the downward-API
run id, Step Functions' evaluated intrinsic functions. A flag that does not exist, a shard count
that disagrees with the array size, or a run id conveyor refuses fails the check.

Usage: Tests/deploy/test_deploy_examples.py [path/to/conveyor]   (default .build/debug/conveyor)
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "examples", "deploy")
LOCAL_JOB = os.path.join(ROOT, "examples", "local-summaries.yaml")
CONVEYOR = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "conveyor"))
failures = []


def check(condition, message):
    print(("ok    " if condition else "FAIL  ") + message)
    if not condition:
        failures.append(message)


def base_env(extra):
    env = {"PATH": os.path.dirname(CONVEYOR) + ":/usr/bin:/bin", "HOME": tempfile.gettempdir(),
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
           "AWS_SECRET_ACCESS_KEY": "not-a-secret", "AWS_REGION": "eu-west-2",
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    env.update(extra)
    return env


def local(argv):
    """The argv with the job file replaced by the local stand-in and the binary by the built one."""
    out = []
    for arg in argv:
        if arg.startswith("/etc/conveyor/"):
            out.append(LOCAL_JOB)
        elif arg == "conveyor":
            out.append(CONVEYOR)
        else:
            out.append(arg)
    return out


def run(argv, env, shell=False):
    result = subprocess.run(argv, env=base_env(env), cwd=ROOT, shell=shell, capture_output=True, text=True,
                            timeout=120)
    return result.returncode, result.stdout + result.stderr


def shards_flag(argv):
    for i, arg in enumerate(argv):
        if arg in ("--shards",) and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg == "--shard" and i + 1 < len(argv):
            return int(argv[i + 1].split("/")[1])
    return None


def aws_batch():
    definition = json.load(open(os.path.join(DEPLOY, "aws-batch-job-definition.json")))
    submit = json.load(open(os.path.join(DEPLOY, "aws-batch-submit.json")))
    command = definition["containerProperties"]["command"]
    check(command[:2] == ["sh", "-c"], "aws batch: the command is a shell line (for ${AWS_BATCH_JOB_ID%%:*})")
    line = command[2]
    words = shlex.split(line)
    check(shards_flag(words) == submit["arrayProperties"]["size"],
          "aws batch: --shards equals the array size (%s)" % submit["arrayProperties"]["size"])
    check(submit["jobDefinition"] == definition["jobDefinitionName"], "aws batch: the submission names the definition")
    local_line = line.replace("exec conveyor", "exec " + shlex.quote(CONVEYOR))
    local_line = re.sub(r"/etc/conveyor/\S+", shlex.quote(LOCAL_JOB), local_line) + " --dry-run"
    status, output = run(local_line, {"AWS_BATCH_JOB_ID": "8d2f7c1e-4b5a-4c3d-9e8f-0a1b2c3d4e5f:3",
                                      "AWS_BATCH_JOB_ARRAY_INDEX": "3"}, shell=True)
    check(status == 0 and "shard 3/8" in output and "run 8d2f7c1e-4b5a-4c3d-9e8f-0a1b2c3d4e5f:" in output,
          "aws batch: child 3 plans shard 3/8 (exit %d)%s" % (status, "" if status == 0 else "\n" + output))


def kubernetes():
    documents = list(yaml.safe_load_all(open(os.path.join(DEPLOY, "kubernetes-indexed-job.yaml"))))
    kinds = {d["kind"]: d for d in documents}
    check(set(kinds) == {"ServiceAccount", "ConfigMap", "CronJob"}, "kubernetes: ServiceAccount, ConfigMap, CronJob")
    spec = kinds["CronJob"]["spec"]["jobTemplate"]["spec"]
    container = spec["template"]["spec"]["containers"][0]
    args = [str(a) for a in container["args"]]
    check(spec["completionMode"] == "Indexed", "kubernetes: an Indexed Job")
    check(shards_flag(args) == spec["completions"], "kubernetes: --shards equals completions (%s)" % spec["completions"])
    env = {e["name"]: e for e in container["env"]}
    check(env["CONVEYOR_RUN_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['batch.kubernetes.io/job-name']",
          "kubernetes: the run id is the Job's name")
    with tempfile.TemporaryDirectory() as tmp:
        job = os.path.join(tmp, "ticket-summaries.yaml")
        with open(job, "w") as f:
            f.write(kinds["ConfigMap"]["data"]["ticket-summaries.yaml"])
        status, output = run([CONVEYOR, "validate", job], {})
        check(status == 0, "kubernetes: the ConfigMap's job file validates%s" % ("" if status == 0 else "\n" + output))
    status, output = run([CONVEYOR] + local(args) + ["--dry-run"],
                         {"JOB_COMPLETION_INDEX": "1", "CONVEYOR_RUN_ID": "conveyor-ticket-summaries-29412345"})
    check(status == 0 and "shard 1/%d" % spec["completions"] in output
          and "run conveyor-ticket-summaries-29412345:" in output,
          "kubernetes: pod 1 plans shard 1/%d (exit %d)%s" % (spec["completions"], status, "" if status == 0 else "\n" + output))


def intrinsic(expression, context):
    """Evaluates the few States.* functions and paths the definition uses."""
    pos = 0

    def skip():
        nonlocal pos
        while pos < len(expression) and expression[pos] == " ":
            pos += 1

    def value():
        nonlocal pos
        skip()
        if expression.startswith("States.", pos):
            name = re.match(r"States\.(\w+)\(", expression[pos:])
            pos += len(name.group(0))
            args = []
            skip()
            while expression[pos] != ")":
                args.append(value())
                skip()
                if expression[pos] == ",":
                    pos += 1
            pos += 1
            fn = name.group(1)
            if fn == "Array":
                return args
            if fn == "ArrayLength":
                return len(args[0])
            if fn == "Format":
                pieces = args[0].split("{}")
                return "".join(p + (str(a) if i < len(args) - 1 else "") for i, (p, a) in
                               enumerate(zip(pieces, args[1:] + [""])))
            raise ValueError("unknown intrinsic " + fn)
        if expression[pos] == "'":
            end = expression.index("'", pos + 1)
            text = expression[pos + 1:end]
            pos = end + 1
            return text
        path = re.match(r"\$\$?(\.\w+)+", expression[pos:]).group(0)
        pos += len(path)
        node = context["$$"] if path.startswith("$$") else context["$"]
        for part in path.lstrip("$").strip(".").split("."):
            node = node[part]
        return node

    return value()


def step_functions():
    machine = json.load(open(os.path.join(DEPLOY, "step-functions-shards.asl.json")))
    shards_state = machine["States"][machine["StartAt"]]
    check(shards_state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED", "step functions: a Distributed Map")
    execution = {"Execution": {"Name": "nightly-2026-11-30"}, "Map": {"Item": {"Value": 2}}}
    state_input = {"shards": [0, 1, 2, 3]}
    selector = {}
    for key, expression in shards_state["ItemSelector"].items():
        selector[key.removesuffix(".$")] = intrinsic(expression, {"$": state_input, "$$": execution})
    task = shards_state["ItemProcessor"]["States"]["RunShard"]
    command = intrinsic(task["Parameters"]["Overrides"]["ContainerOverrides"][0]["Command.$"],
                        {"$": selector, "$$": execution})
    check(command[:3] == ["run", "/etc/conveyor/ticket-summaries.yaml", "--shard"] and command[3] == "2/4",
          "step functions: map item 2 runs --shard 2/4 (%s)" % command[3])
    status, output = run([CONVEYOR] + local(command) + ["--dry-run"], {})
    check(status == 0 and "shard 2/4" in output and "run nightly-2026-11-30:" in output,
          "step functions: the shard's command plans (exit %d)%s" % (status, "" if status == 0 else "\n" + output))
    merge = machine["States"][shards_state["Next"]]
    merge_command = intrinsic(merge["Parameters"]["Overrides"]["ContainerOverrides"][0]["Command.$"],
                              {"$": state_input, "$$": execution})
    check(merge_command[:2] == ["report", "merge"] and "--job" in merge_command, "step functions: then report merge --job")
    # no shard reports exist here: the merge must parse its arguments, find the locations and say
    # which report it could not read
    status, output = run([CONVEYOR] + local(merge_command), {})
    check(status == 2 and "nightly-2026-11-30.shard-0-of-4.json" in output,
          "step functions: the merge command looks for the shard reports (exit %d)%s" % (status, "\n" + output if status != 2 else ""))


def main():
    if not os.access(CONVEYOR, os.X_OK):
        print("no conveyor at %s: build it first (swift build)" % CONVEYOR)
        return 2
    aws_batch()
    kubernetes()
    step_functions()
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
