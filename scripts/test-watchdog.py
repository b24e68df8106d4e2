#!/usr/bin/env python3
"""Runs `swift test --skip-build [arguments]` and watches that it keeps making progress.

Running tests in parallel, the Swift test process was seen to stop making progress: tests
started and never finished, every thread idle, no I/O, no timer, no child process, so a stalled
run would hang CI until its deadline. The same suites run one test at a time pass
(docs/architecture.md, "Tests under a watchdog"). When no test reports anything for
TEST_STALL_SECONDS (default 600), this script

  1. names the tests that had started and not finished;
  2. writes every thread's stack of the test process (gdb) to .build/test-stalls/, and names it;
  3. kills the stalled process and the throwaway databases its tests had started;
  4. runs once more, one test at a time, only the suites that had not passed, and says so.

A test that failed is never run again: the result is a failure. A second stall is a failure.
"""

import os
import re
import select
import signal
import subprocess
import sys
import time

STALL_SECONDS = int(os.environ.get("TEST_STALL_SECONDS", "600"))
SUITE_PASSED = re.compile(r"✔ Suite (\S+) passed")
FAILED = re.compile(r"✘ (Test|Suite) ")
TEST_STARTED = re.compile(r'◇ Test "(.*)" started')
TEST_ENDED = re.compile(r'[✔✘] Test "(.*)" (passed|failed|recorded|with)')
STALL_DIR = os.path.join(".build", "test-stalls")


def test_processes(root_pid):
    """The process tree under root_pid (swift-test and the test bundle it runs)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except OSError:
            continue
    found, pending = [], [root_pid]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def dump_stacks(pids, attempt):
    os.makedirs(STALL_DIR, exist_ok=True)
    path = os.path.join(STALL_DIR, f"stall-{time.strftime('%Y%m%d-%H%M%S')}-run{attempt}.txt")
    with open(path, "w") as out:
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                    command = cmd.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "PackageTests" not in command:
                continue
            out.write(f"=== pid {pid}: {command}\n")
            # What the kernel says of each thread, should gdb be refused (ptrace_scope).
            for task in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
                try:
                    with open(f"/proc/{pid}/task/{task}/stat") as stat:
                        name, rest = stat.read().split("(", 1)[1].rsplit(")", 1)
                    with open(f"/proc/{pid}/task/{task}/wchan") as wchan:
                        waiting = wchan.read()
                    out.write(f"thread {task} {name!r} state {rest.split()[0]} waiting in {waiting}\n")
                except OSError:
                    continue
            out.flush()
            try:
                stacks = subprocess.run(
                    ["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 30"],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, check=False)
                for line in stacks.stdout.decode(errors="replace").splitlines():
                    # gdb's complaints about split debug info are most of its output.
                    if not line.startswith(("During symbol reading", "warning: Section")):
                        out.write(line + "\n")
            except (OSError, subprocess.TimeoutExpired) as error:
                out.write(f"(no stacks: {error})\n")
    return path


def test_servers():
    """Postmasters of the tests' own throwaway databases (their data under a yibiao-* folder)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmd:
                argv = cmd.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"/postgres") and b"-D" in argv:
            data = argv[argv.index(b"-D") + 1] if argv.index(b"-D") + 1 < len(argv) else b""
            if b"/yibiao-" in data:
                found.add(int(entry))
    return found


def run(arguments, attempt):
    """Runs swift test; returns (exit status or None when stalled, suites passed, any failure)."""
    servers_before = test_servers()
    environment = dict(os.environ)
    # Swift's global executor on libdispatch's ordinary global queues, not its cooperative ones,
    # which on two cores have two threads: many tests block one waiting on a process, and the
    # ordinary queues add a thread when theirs are blocked (a report suite: 14 s → 8 s).
    environment.setdefault("SWIFT_DEBUG_CONCURRENCY_ENABLE_COOPERATIVE_QUEUES", "false")
    process = subprocess.Popen(
        [os.environ.get("SWIFT", "swift"), "test", "--skip-build", *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, env=environment)
    passed, failed = set(), False
    started, finished = [], set()
    last_output = time.monotonic()
    buffer = b""
    while True:
        ready, _, _ = select.select([process.stdout], [], [], 10)
        if ready:
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            last_output = time.monotonic()
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                text = line.decode(errors="replace")
                if match := SUITE_PASSED.search(text):
                    passed.add(match.group(1))
                if FAILED.search(text):
                    failed = True
                if match := TEST_STARTED.search(text):
                    started.append(match.group(1))
                if match := TEST_ENDED.search(text):
                    finished.add(match.group(1))
        elif time.monotonic() - last_output > STALL_SECONDS:
            pids = test_processes(process.pid)
            print(f"\ntest-watchdog: no test reported anything for {STALL_SECONDS} s; "
                  "the test process is stalled. Started and not finished:", flush=True)
            for name in started:
                if name not in finished:
                    print(f"test-watchdog:   {name}", flush=True)
            path = dump_stacks(pids, attempt)
            print(f"test-watchdog: the stacks of its threads are in {path}", flush=True)
            os.killpg(process.pid, signal.SIGKILL)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            process.wait()
            # The killed tests could not stop the databases they had started (pg_ctl detaches them).
            for pid in test_servers() - servers_before:
                try:
                    os.kill(pid, signal.SIGQUIT)
                except OSError:
                    pass
            return None, passed, failed
    return process.wait(), passed, failed


def main():
    given = sys.argv[1:]  # passed to swift test, e.g. --filter
    status, passed, failed = run(given, 1)
    if status is not None:
        return status
    if failed:
        print("test-watchdog: tests had failed before the stall; not running anything again.")
        return 1
    skips = list(given) + ["--no-parallel"]
    for suite in sorted(passed):
        skips += ["--skip", rf"(^|\.){re.escape(suite)}(/|$)"]
    print(f"test-watchdog: {len(passed)} suites had passed; running the others once more, one test at a time.", flush=True)
    status, _, _ = run(skips, 2)
    if status is None:
        print("test-watchdog: the second run stalled as well.")
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
