"""utils/run.pl, queue.pl, slurm.pl: Kaldi's job interface, run for real.

The cluster backends are exercised with fake ``sbatch``/``qsub``/``srun`` written
into tmp_path: they record their arguments and run the job script in the
background, like a scheduler, printing a job id.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

UTILS = Path(__file__).resolve().parents[1] / "utils"

FAKE_SUBMIT = r"""#!/bin/bash
# Fake {name}: record the arguments, run the job script in the background, print an id.
printf '%q ' "$@" >> "$FAKE_SCHED_DIR/{name}.args"; echo >> "$FAKE_SCHED_DIR/{name}.args"
[ -n "$FAKE_SUBMIT_FAIL" ] && {{ echo "{name}: error: invalid partition" >&2; exit 1; }}
out=/dev/null; prev=""
for a in "$@"; do
  case "$prev" in --output|-o) out=$a;; esac
  prev=$a
done
script="${{@: -1}}"
id=$(( (RANDOM % 9000) + 1000 ))
SLURM_JOB_ID=$id JOB_ID=$id bash "$script" > "$out" 2>&1 < /dev/null &
{announce}
"""

FAKE_SRUN = r"""#!/bin/bash
# Fake srun: record the arguments and run the command once per node (SLURM_NODEID=i).
printf '%q ' "$@" >> "$FAKE_SCHED_DIR/srun.args"; echo >> "$FAKE_SCHED_DIR/srun.args"
n=1
while [[ "$1" == -* ]]; do
  case "$1" in --nodes=*) n=${1#--nodes=};; esac
  shift
done
pids=()
for ((i = 0; i < n; i++)); do SLURM_NODEID=$i SLURM_PROCID=$i "$@" & pids+=($!); done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
exit $rc
"""


@pytest.fixture
def sched(tmp_path):
    """A PATH with fake sbatch, qsub and srun; returns (env, dir holding the *.args records)."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    for name, announce in (("sbatch", 'echo "Submitted batch job $id"'),
                           ("qsub", 'echo "Your job $id (\\"x\\") has been submitted"')):
        (bin_dir / name).write_text(FAKE_SUBMIT.format(name=name, announce=announce))
    (bin_dir / "srun").write_text(FAKE_SRUN)
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_SCHED_DIR=str(bin_dir))
    return env, bin_dir


def run_tool(tool, args, cwd, env=None):
    return subprocess.run([str(UTILS / tool), *args], cwd=cwd, env=env, capture_output=True, text=True)


def submissions(bin_dir: Path, name: str) -> list[list[str]]:
    path = bin_dir / f"{name}.args"
    return [shlex.split(line) for line in path.read_text().splitlines()] if path.exists() else []


def intervals(tmp_path: Path, n: int) -> list[tuple[float, float]]:
    return [tuple(map(float, (tmp_path / f"t.{j}").read_text().split())) for j in range(1, n + 1)]


def max_overlap(spans) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


TIMED_JOB = "s=$(date +%s.%N); sleep 1; echo $s $(date +%s.%N) > t.JOB"


# ------------------------------------------------------------------ run.pl


def test_run_pl_substitutes_job_in_log_and_command(tmp_path):
    r = run_tool("run.pl", ["JOB=1:3", "log/x.JOB.log", "echo this is job JOB"], tmp_path)
    assert r.returncode == 0, r.stderr
    for j in (1, 2, 3):
        assert f"this is job {j}\n" in (tmp_path / f"log/x.{j}.log").read_text()


def test_run_pl_log_has_kaldi_header_and_footer(tmp_path):
    run_tool("run.pl", ["log/deep/dir/a.log", "echo hello"], tmp_path)
    lines = (tmp_path / "log/deep/dir/a.log").read_text().splitlines()
    assert lines[0] == "# echo hello"
    assert lines[1].startswith("# Started at ")
    assert "hello" in lines
    assert lines[-2].startswith("# Accounting: time=") and "threads=1" in lines[-2]
    assert lines[-1].startswith("# Ended (code 0) at ")


def test_run_pl_records_nonzero_exit_code_in_footer(tmp_path):
    r = run_tool("run.pl", ["log/a.log", "exit 3"], tmp_path)
    assert r.returncode == 1
    assert (tmp_path / "log/a.log").read_text().splitlines()[-1].startswith("# Ended (code 3) at ")


def test_run_pl_runs_at_most_max_jobs_run_at_once(tmp_path):
    r = run_tool("run.pl", ["--max-jobs-run", "2", "JOB=1:4", "log/t.JOB.log", TIMED_JOB], tmp_path)
    assert r.returncode == 0, r.stderr
    assert max_overlap(intervals(tmp_path, 4)) == 2


def test_run_pl_failure_prints_count_log_path_and_tail(tmp_path):
    cmd = "for i in $(seq 1 40); do echo output line $i; done; [ JOB -ne 2 ]"
    r = run_tool("run.pl", ["JOB=1:3", "log/f.JOB.log", cmd], tmp_path)
    assert r.returncode == 1
    assert "1/3 jobs failed" in r.stderr
    assert "log/f.2.log" in r.stderr
    assert "output line 40" in r.stderr and "output line 30" in r.stderr
    assert "output line 5\n" not in r.stderr  # only the tail


def test_run_pl_single_string_command_runs_through_bash(tmp_path):
    r = run_tool("run.pl", ["log/p.log", "echo 'a  b' | tr a-z A-Z > out.txt"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.txt").read_text() == "A  B\n"


def test_run_pl_joins_words_kaldi_style(tmp_path):
    # Words without spaces pass through (so "|" is a pipe); words with spaces are quoted.
    r = run_tool("run.pl", ["log/w.log", "echo", "x  y", "|", "tr", "xy", "XY"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "X  Y\n" in (tmp_path / "log/w.log").read_text()


def test_run_pl_job_range_needs_job_in_log_name(tmp_path):
    r = run_tool("run.pl", ["JOB=1:2", "log/same.log", "true"], tmp_path)
    assert r.returncode == 1
    assert "put JOB in the log name" in r.stderr


def test_run_pl_other_range_variable_name(tmp_path):
    r = run_tool("run.pl", ["SPLIT=2:3", "log/s.SPLIT.log", "echo part SPLIT"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "part 3" in (tmp_path / "log/s.3.log").read_text()
    assert not (tmp_path / "log/s.1.log").exists()


def test_run_pl_accepts_cluster_options(tmp_path):
    r = run_tool("run.pl", ["--gpu", "1", "--mem", "4G", "--num-threads", "2", "--time", "1:00:00",
                            "log/o.log", "true"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "threads=2" in (tmp_path / "log/o.log").read_text()


def test_run_pl_sees_distributed_env(tmp_path):
    run_tool("run.pl", ["log/e.log", "echo nodes=$NNODES rank=$NODE_RANK addr=$MASTER_ADDR"], tmp_path)
    assert "nodes=1 rank=0 addr=127.0.0.1" in (tmp_path / "log/e.log").read_text()


def test_run_pl_rejects_multi_node(tmp_path):
    r = run_tool("run.pl", ["--num-nodes", "2", "log/m.log", "true"], tmp_path)
    assert r.returncode == 1 and "slurm.pl" in r.stderr


def test_run_pl_missing_command_is_usage_error(tmp_path):
    r = run_tool("run.pl", ["log/only.log"], tmp_path)
    assert r.returncode == 1 and "need a log file and a command" in r.stderr


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no system python3")
def test_run_pl_works_with_system_python_through_recipe_symlink(tmp_path):
    # A recipe links utils -> ../../utils and may run before any venv exists.
    (tmp_path / "utils").symlink_to(UTILS)
    r = subprocess.run(["utils/run.pl", "log/x.log", "echo from recipe"], cwd=tmp_path,
                       env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "from recipe\n" in (tmp_path / "log/x.log").read_text()


# ------------------------------------------------------------------ slurm.pl


def test_slurm_pl_maps_resource_options(tmp_path, sched):
    env, bin_dir = sched
    r = run_tool("slurm.pl", ["--mem", "4G", "--gpu", "2", "--time", "1:00:00", "--num-threads", "4",
                              "JOB=1:2", "log/s.JOB.log", "echo job JOB"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    subs = submissions(bin_dir, "sbatch")
    assert len(subs) == 2
    args = " ".join(subs[0])
    for flag in ("--export=PATH", "--mem 4G", "--gres=gpu:2", "--time 1:00:00", "--cpus-per-task 4"):
        assert flag in args
    for j in (1, 2):
        log = (tmp_path / f"log/s.{j}.log").read_text()
        assert f"job {j}\n" in log and "# Ended (code 0)" in log and "# Accounting: time=" in log


def test_slurm_pl_default_gpu_adds_no_gres(tmp_path, sched):
    env, bin_dir = sched
    assert run_tool("slurm.pl", ["log/g.log", "true"], tmp_path, env).returncode == 0
    assert not any("--gres" in a for a in submissions(bin_dir, "sbatch")[0])


def test_slurm_pl_reads_conf_slurm_conf_from_recipe(tmp_path, sched):
    env, bin_dir = sched
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf/slurm.conf").write_text(
        "command sbatch --partition=asr  # our cluster\noption mem=* --mem-per-cpu $0\ndefault gpu=0\noption gpu=0\n"
    )
    assert run_tool("slurm.pl", ["--mem", "2G", "log/c.log", "true"], tmp_path, env).returncode == 0
    args = submissions(bin_dir, "sbatch")[0]
    assert "--partition=asr" in args and "--mem-per-cpu" in args and "2G" in args


def test_slurm_pl_config_option_overrides_conf_dir(tmp_path, sched):
    env, bin_dir = sched
    (tmp_path / "my.conf").write_text("command sbatch --qos=high\noption mem=* --mem=$0\n")
    assert run_tool("slurm.pl", ["--config", "my.conf", "--mem", "8G", "log/c.log", "true"],
                    tmp_path, env).returncode == 0
    args = submissions(bin_dir, "sbatch")[0]
    assert "--qos=high" in args and "--mem=8G" in args


def test_slurm_pl_unmapped_option_is_an_error_naming_it(tmp_path, sched):
    env, bin_dir = sched
    (tmp_path / "my.conf").write_text("command sbatch\n")
    r = run_tool("slurm.pl", ["--config", "my.conf", "--gpu", "1", "log/c.log", "true"], tmp_path, env)
    assert r.returncode == 1
    assert "--gpu 1 has no mapping in my.conf" in r.stderr


def test_slurm_pl_failure_reports_tail(tmp_path, sched):
    env, _ = sched
    r = run_tool("slurm.pl", ["JOB=1:2", "log/f.JOB.log", "echo before the crash JOB; exit JOB"], tmp_path, env)
    assert r.returncode == 1
    assert "2/2 jobs failed" in r.stderr
    assert "log/f.1.log (exit code 1)" in r.stderr and "before the crash 1" in r.stderr


def test_slurm_pl_submit_failure_shows_scheduler_message(tmp_path, sched):
    env, _ = sched
    env["FAKE_SUBMIT_FAIL"] = "1"
    r = run_tool("slurm.pl", ["log/x.log", "true"], tmp_path, env)
    assert r.returncode == 1 and "invalid partition" in r.stderr


def test_slurm_pl_max_jobs_run_throttles_submissions(tmp_path, sched):
    env, _ = sched
    r = run_tool("slurm.pl", ["--max-jobs-run", "1", "JOB=1:3", "log/t.JOB.log", TIMED_JOB], tmp_path, env)
    assert r.returncode == 0, r.stderr
    assert max_overlap(intervals(tmp_path, 3)) == 1


def test_slurm_pl_multi_node_runs_command_once_per_node(tmp_path, sched):
    env, bin_dir = sched
    cmd = "echo node rank=$NODE_RANK of $NNODES master=$MASTER_ADDR:$MASTER_PORT"
    r = run_tool("slurm.pl", ["--num-nodes", "2", "--gpu", "4", "log/ddp.log", cmd], tmp_path, env)
    assert r.returncode == 0, r.stderr
    args = " ".join(submissions(bin_dir, "sbatch")[0])
    assert "--nodes 2" in args and "--gres=gpu:4" in args
    srun = submissions(bin_dir, "srun")[0]
    assert "--nodes=2" in srun and "--ntasks-per-node=1" in srun
    log = (tmp_path / "log/ddp.log").read_text()
    host = subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip()
    for rank in (0, 1):
        assert f"node rank={rank} of 2 master={host}:" in log
    assert log.splitlines()[0] == f"# {cmd}"


# ------------------------------------------------------------------ queue.pl


def test_queue_pl_maps_options_to_qsub(tmp_path, sched):
    env, bin_dir = sched
    r = run_tool("queue.pl", ["--mem", "4G", "--num-threads", "4", "--gpu", "1",
                              "JOB=1:2", "log/q.JOB.log", "echo sge JOB"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    args = " ".join(submissions(bin_dir, "qsub")[0])
    for flag in ("-cwd", "-l mem_free=4G,ram_free=4G", "-pe smp 4", "-l gpu=1"):
        assert flag in args
    assert "sge 2\n" in (tmp_path / "log/q.2.log").read_text()


def test_queue_pl_rejects_multi_node(tmp_path, sched):
    env, _ = sched
    r = run_tool("queue.pl", ["--num-nodes", "2", "log/q.log", "true"], tmp_path, env)
    assert r.returncode == 1 and "--num-nodes 2" in r.stderr


def test_parallel_local_jobs_get_one_thread_each_and_a_single_job_keeps_the_default(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    cmd = "echo threads=${OMP_NUM_THREADS:-unset}"
    subprocess.run([str(UTILS / "run.pl"), "JOB=1:2", str(tmp_path / "par.JOB.log"), cmd], env=env, check=True)
    subprocess.run([str(UTILS / "run.pl"), str(tmp_path / "one.log"), cmd], env=env, check=True)
    assert "threads=1" in (tmp_path / "par.1.log").read_text() and "threads=1" in (tmp_path / "par.2.log").read_text()
    assert "threads=unset" in (tmp_path / "one.log").read_text()
