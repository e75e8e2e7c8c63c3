"""Kaldi's parallel-job interface: ``run.pl`` / ``queue.pl`` / ``slurm.pl``.

    run.pl [--max-jobs-run N] [--gpu N] [--mem 4G] [--num-threads N] [--time T]
           [--config conf/x.conf] [JOB=1:N] log/x.JOB.log command...

``JOB`` (any name given as ``NAME=a:b``) is replaced by the job number in the
log name and in the command, as Kaldi does (a plain substring replacement).
A command given as one word is a bash command line (pipes and quotes work);
several words are joined Kaldi's way: words without white space are kept as
they are (so ``\\|`` becomes a pipe), others are quoted.

Backends:

- ``local`` (run.pl): the jobs run here, at most ``--max-jobs-run`` at a time
  (default: the number of cores). When several run at once each gets
  ``--num-threads`` (default 1) OpenMP/MKL threads, unless OMP_NUM_THREADS is set,
  so N parallel jobs do not each take every core; a single job keeps them all.
  Other resource options are accepted and ignored so that a recipe's ``$cmd`` can
  switch backends without edits.
- ``sge`` (queue.pl, ``qsub``) and ``slurm`` (slurm.pl, ``sbatch``): each job
  is one submission of a bash job script written to ``<logdir>/q/``. Options
  are mapped to scheduler flags by ``--config FILE``, else ``conf/queue.conf``
  / ``conf/slurm.conf`` when present, else the defaults below (Kaldi's
  format). The job script writes ``<logdir>/q/<name>.done`` holding the exit
  status; this process polls for it, so nothing here needs ``squeue`` or
  ``qstat`` (they are only used, when present, to notice a job that vanished).

Multi-node jobs (slurm.pl ``--num-nodes N``): sbatch gets ``--nodes N`` and
the job script starts the command once per node with ``srun``. Every job, on
every backend, sees these environment variables, so one torchrun line works
everywhere::

    NNODES       number of nodes of this job (1 unless --num-nodes)
    NODE_RANK    this node's index, 0..NNODES-1 (SLURM_NODEID under srun)
    MASTER_ADDR  host of node 0 (the batch host; 127.0.0.1 for run.pl)
    MASTER_PORT  a port derived from the job id (a free port for run.pl)

    torchrun --nnodes $NNODES --node_rank $NODE_RANK --nproc_per_node 4 \\
        --master_addr $MASTER_ADDR --master_port $MASTER_PORT -m s2s.bin.train ...

Every log starts with ``# <command>`` and ``# Started at <date>`` and ends
with ``# Accounting: time=<s> threads=<n>`` and ``# Ended (code <n>) at <date>``.
On failure the runner exits 1 and prints ``N/M jobs failed``, the first failing
log's path and its last lines.

Standard library only: this module runs before the project's venv exists.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from s2s.errors import S2SError

PROGS = {"local": "run.pl", "sge": "queue.pl", "slurm": "slurm.pl"}
TAIL_LINES = 20

# Options every backend understands (run.pl ignores the resource ones).
KNOWN_OPTIONS = ("gpu", "mem", "num_threads", "max_jobs_run", "time", "num_nodes", "config")

DEFAULT_CONF = {
    # Kaldi's conf/slurm.conf, with --mem per node and multi-node support.
    "slurm": """
command sbatch --export=PATH --ntasks-per-node=1
option time=* --time $0
option mem=* --mem $0
option mem=0
option num_threads=* --cpus-per-task $0
option num_threads=1 --cpus-per-task 1
option num_nodes=* --nodes $0
option max_jobs_run=*
default gpu=0
option gpu=0
option gpu=* --gres=gpu:$0
""",
    # Kaldi's default queue.pl configuration (SGE), minus array-job flags.
    "sge": """
command qsub -v PATH -cwd -S /bin/bash -j y
option time=* -l h_rt=$0
option mem=* -l mem_free=$0,ram_free=$0
option mem=0
option num_threads=* -pe smp $0
option num_threads=1
option num_nodes=1
option max_jobs_run=*
default gpu=0
option gpu=0
option gpu=* -l gpu=$0 -q g.q
""",
}
CONF_FILES = {"slurm": "conf/slurm.conf", "sge": "conf/queue.conf"}

USAGE = """usage: {prog} [options] [JOB=1:N] <log-file> <command...>
  e.g. {prog} --max-jobs-run 4 JOB=1:8 exp/log/feats.JOB.log python -m s2s.bin.x --part JOB
options:
  --max-jobs-run N   at most N jobs at once (run.pl default: number of cores)
  --num-threads N    threads per job        --mem 4G    memory per job (per node)
  --gpu N            GPUs per job (per node) --time T   time limit (scheduler format)
  --num-nodes N      nodes per job (slurm.pl: srun starts the command on each node)
  --config FILE      option mapping (queue.pl/slurm.pl; Kaldi's conf format)
The command sees NNODES, NODE_RANK, MASTER_ADDR and MASTER_PORT (for torchrun).
"""


@dataclass
class JobRequest:
    """A parsed command line: options, the job range, the log template and the command."""

    options: dict[str, str] = field(default_factory=dict)
    var: str | None = None
    start: int = 1
    end: int = 1
    log_template: str = ""
    command: str = ""

    def job_ids(self) -> list[int]:
        return list(range(self.start, self.end + 1))

    def substitute(self, text: str, job_id: int) -> str:
        return text.replace(self.var, str(job_id)) if self.var else text


def join_command(words: list[str]) -> str:
    """One word is already a bash command line; several are joined as Kaldi does."""
    if len(words) == 1:
        return words[0]
    parts = []
    for w in words:
        if w and re.fullmatch(r"\S+", w):
            parts.append(w)
        elif '"' in w:
            parts.append(f"'{w}'")
        else:
            parts.append(f'"{w}"')
    return " ".join(parts)


def parse_args(prog: str, argv: list[str]) -> JobRequest:
    """Parse ``[--opt value]... [VAR=a:b] log command...``; errors say what is wrong."""
    req = JobRequest()
    i = 0
    while i < len(argv) and argv[i].startswith("--"):
        arg = argv[i]
        if "=" in arg:
            name, value = arg[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(argv):
                raise S2SError(f"option {arg} needs a value; see {prog} --help")
            name, value = arg[2:], argv[i + 1]
            i += 2
        req.options[name.replace("-", "_")] = value
    if i < len(argv):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(\d+)(?::(\d+))?", argv[i])
        if m:
            req.var = m.group(1)
            req.start = int(m.group(2))
            req.end = int(m.group(3)) if m.group(3) is not None else req.start
            if req.end < req.start:
                raise S2SError(f"empty job range {argv[i]}; write {req.var}=1:N with N >= 1")
            i += 1
    if len(argv) - i < 2:
        raise S2SError(f"need a log file and a command\n{USAGE.format(prog=prog)}")
    req.log_template = argv[i]
    req.command = join_command(argv[i + 1:])
    if req.end > req.start and req.var not in req.log_template:
        raise S2SError(
            f"{req.end - req.start + 1} jobs would all write {req.log_template}; "
            f"put {req.var} in the log name (e.g. log/x.{req.var}.log)"
        )
    for key in ("max_jobs_run", "num_threads", "num_nodes"):
        if key in req.options and not re.fullmatch(r"[1-9][0-9]*", req.options[key]):
            raise S2SError(f"--{key.replace('_', '-')} must be a positive integer, got {req.options[key]!r}")
    return req


# ---------------------------------------------------------------- conf files


@dataclass
class SchedulerConf:
    """Kaldi's queue/slurm conf: a base command, defaults and option rules."""

    command: list[str]
    defaults: dict[str, str]
    rules: dict[str, list[tuple[str, str]]]  # name -> [(value or '*', flags)]
    source: str

    @classmethod
    def parse(cls, text: str, source: str) -> "SchedulerConf":
        command: list[str] = []
        defaults: dict[str, str] = {}
        rules: dict[str, list[tuple[str, str]]] = {}
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            kind, _, rest = line.partition(" ")
            rest = rest.strip()
            if kind == "command":
                command = shlex.split(rest)
                continue
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)\s*(.*)", rest)
            if kind not in ("option", "default") or not m:
                raise S2SError(
                    f"{source}:{lineno}: expected 'command ...', 'option name=value flags' or "
                    f"'default name=value', got {line!r}"
                )
            name, value, flags = m.groups()
            if kind == "default":
                defaults[name] = value
            else:
                rules.setdefault(name, []).append((value, flags))
        if not command:
            raise S2SError(f"{source}: no 'command' line (e.g. 'command sbatch --export=PATH')")
        return cls(command, defaults, rules, source)

    def flags_for(self, name: str, value: str, from_user: bool, prog: str) -> list[str]:
        """Scheduler flags for ``--name value``: an exact rule wins over ``name=*``."""
        rules = self.rules.get(name, [])
        for pattern, flags in rules:
            if pattern == value:
                return shlex.split(flags)
        for pattern, flags in rules:
            if pattern == "*":
                return shlex.split(flags.replace("$0", value))
        if from_user:
            raise S2SError(
                f"{prog}: --{name.replace('_', '-')} {value} has no mapping in {self.source}; "
                f"add a line 'option {name}=* <flags using $0>' there"
            )
        return []


def load_conf(backend: str, options: dict[str, str]) -> SchedulerConf:
    path = options.get("config") or (CONF_FILES[backend] if Path(CONF_FILES[backend]).is_file() else None)
    if path is None:
        return SchedulerConf.parse(DEFAULT_CONF[backend], f"built-in {PROGS[backend]} defaults")
    if not Path(path).is_file():
        raise S2SError(f"{path}: config file not found; check --config")
    return SchedulerConf.parse(Path(path).read_text(encoding="utf-8"), path)


def scheduler_flags(backend: str, req: JobRequest) -> list[str]:
    """The submit command plus the flags the conf maps the options to."""
    conf = load_conf(backend, req.options)
    values = dict(conf.defaults)
    values.update({k: v for k, v in req.options.items() if k != "config"})
    flags = list(conf.command)
    for name, value in values.items():
        if name == "max_jobs_run" and name not in conf.rules:
            continue  # throttled here, not by the scheduler
        flags += conf.flags_for(name, value, from_user=name in req.options, prog=PROGS[backend])
    return flags


# ---------------------------------------------------------------- reporting


def _now() -> str:
    return time.strftime("%a %b %d %H:%M:%S %Z %Y")


def tail(path: Path, n: int = TAIL_LINES) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()[-n:]
    except OSError:
        return []


def report(prog: str, req: JobRequest, codes: dict[int, int], extra: dict[int, Path] | None = None) -> int:
    """Print the failure summary (count, first failing log, its tail); return the exit status."""
    failed = [j for j in req.job_ids() if codes.get(j, 1) != 0]
    if not failed:
        return 0
    total = len(req.job_ids())
    first = failed[0]
    log = Path(req.substitute(req.log_template, first))
    what = f" ({req.var}={','.join(map(str, failed[:10]))}{',...' if len(failed) > 10 else ''})" if req.var else ""
    print(f"{prog}: {len(failed)}/{total} jobs failed{what}", file=sys.stderr)
    print(f"{prog}: first failing log: {log} (exit code {codes.get(first, '?')})", file=sys.stderr)
    lines = tail(log)
    if not lines and extra and first in extra:
        log = extra[first]
        lines = tail(log)
        print(f"{prog}: the job wrote no log; scheduler output {log}:", file=sys.stderr)
    if lines:
        print(f"---- last {len(lines)} lines of {log} ----", file=sys.stderr)
        for line in lines:
            print(line, file=sys.stderr)
        print("----", file=sys.stderr)
    return 1


# ---------------------------------------------------------------- local backend


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_local_job(command: str, log: Path, threads: str = "1", limit_threads: bool = False) -> int:
    """Run one bash command with its output in ``log`` between a header and a footer.

    ``limit_threads``: give the job ``threads`` OpenMP/MKL threads (unless the environment sets
    them), so parallel jobs do not each take every core."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, NNODES="1", NODE_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    if limit_threads and "OMP_NUM_THREADS" not in os.environ:
        env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    with open(log, "w", encoding="utf-8") as f:
        f.write(f"# {command}\n# Started at {_now()}\n#\n")
        f.flush()
        start = time.time()
        ret = subprocess.call(["bash", "-c", command], stdout=f, stderr=subprocess.STDOUT, env=env)
        if ret < 0:  # killed by a signal: report it the way bash does
            ret = 128 - ret
        f.write(f"# Accounting: time={int(round(time.time() - start))} threads={threads}\n")
        f.write(f"# Ended (code {ret}) at {_now()}\n")
    return ret


def run_local(req: JobRequest) -> dict[int, int]:
    if int(req.options.get("num_nodes", "1")) > 1:
        raise S2SError("run.pl runs on this machine only; --num-nodes > 1 needs slurm.pl")
    max_jobs = int(req.options.get("max_jobs_run", os.cpu_count() or 1))
    threads = req.options.get("num_threads", "1")
    codes: dict[int, int] = {}

    parallel = len(req.job_ids()) > 1 and max_jobs > 1

    def one(job_id: int) -> None:
        log = Path(req.substitute(req.log_template, job_id))
        codes[job_id] = run_local_job(req.substitute(req.command, job_id), log, threads, limit_threads=parallel)

    with ThreadPoolExecutor(max_workers=max_jobs) as pool:
        for fut in [pool.submit(one, j) for j in req.job_ids()]:
            fut.result()
    return codes


# ---------------------------------------------------------------- cluster backends

JOB_SCRIPT = """#!/bin/bash
# Written by {prog}: runs one job, logs it like run.pl and records its exit status.
cd {cwd} || exit 1
[ -f ./path.sh ] && . ./path.sh
export NNODES={nnodes} NODE_RANK=0
export MASTER_ADDR=$(hostname)
export MASTER_PORT=$(( 20000 + ${{SLURM_JOB_ID:-${{JOB_ID:-$$}}}} % 20000 ))
log={log}
mkdir -p "$(dirname "$log")"
{{
  printf '# '
  cat <<'S2S_COMMAND_EOF'
{command}
S2S_COMMAND_EOF
  echo "# Running on $(hostname)"
  echo "# Started at $(date)"
  echo "#"
}} > "$log"
start=$(date +%s)
(
{run}
) >> "$log" 2>&1
ret=$?
end=$(date +%s)
echo "# Accounting: time=$((end - start)) threads={threads}" >> "$log"
echo "# Ended (code $ret) at $(date)" >> "$log"
echo $ret > {done}.tmp && mv {done}.tmp {done}
exit $ret
"""


def job_script(prog: str, command: str, log: Path, done: Path, threads: str, nnodes: int) -> str:
    if nnodes > 1:
        # One task per node; NODE_RANK comes from srun. --export=ALL because sbatch
        # --export=PATH would otherwise also limit what srun passes on.
        inner = "export NODE_RANK=${SLURM_NODEID:-0}\n" + command
        run = (f"srun --nodes={nnodes} --ntasks={nnodes} --ntasks-per-node=1 --kill-on-bad-exit=1 "
               f"--export=ALL bash -c {shlex.quote(inner)}")
    else:
        run = command
    return JOB_SCRIPT.format(prog=prog, cwd=shlex.quote(os.getcwd()), nnodes=nnodes, log=shlex.quote(str(log)),
                             command=command, run=run, threads=threads, done=shlex.quote(str(done)))


def _job_gone(backend: str, sched_id: str) -> bool:
    """True when the scheduler (if its query tool is installed) no longer knows the job."""
    tool = {"slurm": "squeue", "sge": "qstat"}[backend]
    if not shutil.which(tool):
        return False
    args = ["squeue", "-h", "-j", sched_id, "-o", "%T"] if backend == "slurm" else ["qstat", "-j", sched_id]
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode != 0 or not r.stdout.strip()


def run_cluster(backend: str, req: JobRequest) -> tuple[dict[int, int], dict[int, Path]]:
    prog = PROGS[backend]
    base = scheduler_flags(backend, req)
    nnodes = int(req.options.get("num_nodes", "1"))
    if nnodes > 1 and backend != "slurm":
        raise S2SError(f"{prog}: --num-nodes > 1 is supported by slurm.pl only")
    max_jobs = int(req.options.get("max_jobs_run", "0")) or len(req.job_ids())
    threads = req.options.get("num_threads", "1")

    pending = req.job_ids()
    running: dict[int, tuple[str, Path]] = {}
    suspect: dict[int, float] = {}
    codes: dict[int, int] = {}
    qouts: dict[int, Path] = {}
    poll, last_check = 0.05, time.time()
    while pending or running:
        while pending and len(running) < max_jobs:
            job_id = pending.pop(0)
            log = Path(req.substitute(req.log_template, job_id))
            qdir = log.parent / "q"
            qdir.mkdir(parents=True, exist_ok=True)
            name = log.name[:-4] if log.name.endswith(".log") else log.name
            script, done, qout = qdir / f"{name}.sh", qdir / f"{name}.done", qdir / f"{name}.out"
            done.unlink(missing_ok=True)
            script.write_text(job_script(prog, req.substitute(req.command, job_id), log, done, threads, nnodes))
            script.chmod(0o755)
            jobname = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
            if backend == "slurm":
                argv = base + ["--job-name", jobname, "--output", str(qout), str(script)]
            else:
                argv = base + ["-N", "j" + jobname, "-o", str(qout), str(script)]
            try:
                r = subprocess.run(argv, capture_output=True, text=True)
            except OSError as e:
                raise S2SError(f"{prog}: cannot run {argv[0]!r} ({e}); is the scheduler installed and on PATH?") from None
            m = re.search(r"\b(\d+)\b", r.stdout)
            if r.returncode != 0 or not m:
                raise S2SError(f"{prog}: submitting {log} failed: {shlex.join(argv)}\n{r.stdout}{r.stderr}".rstrip())
            running[job_id] = (m.group(1), done)
            qouts[job_id] = qout
        time.sleep(poll)
        poll = min(poll * 1.5, 5.0)
        check_queue = time.time() - last_check > 60
        if check_queue:
            last_check = time.time()
        for job_id, (sched_id, done) in list(running.items()):
            if done.is_file():
                text = done.read_text().strip()
                codes[job_id] = int(text) if text.lstrip("-").isdigit() else 1
                del running[job_id]
                poll = 0.05
            elif check_queue and _job_gone(backend, sched_id):
                # A job can vanish (killed, node failure) without writing its status;
                # allow one more check for a slow shared file system, then give up.
                if job_id in suspect:
                    print(f"{prog}: job {sched_id} ({req.substitute(req.log_template, job_id)}) left the "
                          f"queue without finishing; see {qouts[job_id]}", file=sys.stderr)
                    codes[job_id] = 1
                    del running[job_id]
                else:
                    suspect[job_id] = time.time()
    return codes, qouts


# ---------------------------------------------------------------- entry point


def main(backend: str, argv: list[str] | None = None) -> int:
    """Run ``argv`` with ``backend`` (local, sge, slurm); return the exit status."""
    prog = PROGS[backend]
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE.format(prog=prog), end="")
        return 0 if argv else 1
    try:
        req = parse_args(prog, argv)
        if backend == "local":
            return report(prog, req, run_local(req))
        codes, qouts = run_cluster(backend, req)
        return report(prog, req, codes, qouts)
    except KeyboardInterrupt:
        if backend != "local":
            cancel = "scancel" if backend == "slurm" else "qdel"
            print(f"{prog}: interrupted; jobs already submitted keep running (cancel them with {cancel})",
                  file=sys.stderr)
        return 130
    except S2SError as e:
        msg = str(e)
        print(msg if msg.startswith(prog) else f"{prog}: error: {msg}", file=sys.stderr)
        return 1
