"""The shared training loop: precision, data parallelism, accumulation, checkpoints, logging.

Everything task-specific (model, data, loss, metrics) comes from a ``Task``. The
loop is resumable exactly: a checkpoint stores model, optimizer, scheduler, grad
scaler, the epoch and position inside it, and all RNG states; batch order is a
pure function of (seed, epoch), so a resumed run takes the same steps as an
uninterrupted one.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from s2s.data.batching import BucketSampler
from s2s.errors import S2SError
from s2s.models.checkpoint import read_checkpoint, save_checkpoint
from s2s.train import checkpoint as ckpt_lib
from s2s.train.distributed import DistInfo, all_reduce_sum, barrier
from s2s.train.init import check_init_conf, freeze, init_from_checkpoint

log = logging.getLogger("s2s.train")

TRAIN_DEFAULTS = {
    "task": "asr",
    "seed": 1,
    "train_data": None,
    "valid_data": None,
    "max_epochs": 10,
    "max_steps": 0,            # stop after this many optimizer steps (0: no limit)
    "batch_frames": 20000,     # padded input frames per batch per rank
    "max_batch_size": 256,     # items per batch per rank
    "sortagrad": True,         # first epoch in ascending length order
    "accum_grad": 1,
    "grad_clip": 0.0,          # max global grad norm (0: off)
    "precision": "fp32",       # fp32 | fp16 (dynamic loss scaling) | bf16
    "optim": "adam",
    "optim_conf": {"lr": 0.001},
    "scheduler": "constant",
    "scheduler_conf": {},
    "ckpt_every_steps": 0,     # also checkpoint every N steps (0: epochs only)
    "keep_checkpoints": 3,     # step checkpoints kept
    "keep_epoch_checkpoints": 5,  # epoch checkpoints kept, the newest (0: all); averaging uses the newest
    "init_from": None,         # initialise from another checkpoint (fine-tuning); see init_conf
    "init_conf": {},           # {map: {src_prefix: dst_prefix}, exclude: [prefix], freeze: [prefix]}
    "log_every_steps": 20,
    "num_workers": 0,
    "compile": False,          # torch.compile the model for training
    "device": "auto",
    "valid_every_epochs": 1,
}

# What each trainer key means (s2s-train --help prints these with the defaults; a test checks
# that every key of every task has one).
TRAIN_HELP = {
    "task": "what is trained: asr (speech recognition: CTC, LAS or joint CTC-attention), mt (translation "
            "and other text-to-text), lm (language model), classify (keyword spotting), tts (Tacotron 2, Centaur), "
            "vocoder (WaveNet, iSTFT vocoder)",
    "seed": "random seed (weights, batch order, dropout); the same on every rank",
    "train_data": "training data: a data dir (a list of them is concatenated); lm also takes text files",
    "valid_data": "validation data dir(s), evaluated every valid_every_epochs epochs",
    "max_epochs": "epochs to train",
    "max_steps": "stop after this many optimizer steps (0: no limit)",
    "batch_frames": "batch size as padded input frames per rank (tokens for lm); batches are built by length",
    "max_batch_size": "at most this many items per batch per rank",
    "sortagrad": "first epoch in ascending length order (DeepSpeech2's SortaGrad)",
    "accum_grad": "accumulate gradients over this many batches per optimizer step",
    "grad_clip": "clip the global gradient norm to this (0: off)",
    "precision": "fp32, fp16 (torch.amp with dynamic loss scaling) or bf16",
    "optim": "optimizer",
    "optim_conf": "optimizer arguments, e.g. {lr: 0.01, weight_decay: 0.001, betas: [0.95, 0.5]}; "
                  "larc: {eta: 0.001} wraps it in LARC",
    "scheduler": "learning-rate schedule",
    "scheduler_conf": "schedule arguments, e.g. {warmup_steps: 1000, min_lr: 1e-5}",
    "ckpt_every_steps": "also checkpoint every N optimizer steps (0: at epoch ends only)",
    "keep_checkpoints": "step checkpoints kept (the newest)",
    "keep_epoch_checkpoints": "epoch checkpoints kept, the newest (0: all). utils/train.sh averages the newest "
                              "--avg-num of them, so keep at least that many; each holds the model and the "
                              "optimizer state (about 3x the parameters x 4 bytes with Adam or NovoGrad)",
    "init_from": "a checkpoint to initialise the model from before training (fine-tuning): every tensor whose "
                 "name (after init_conf.map) and shape match is copied, the rest stays freshly initialised "
                 "and is listed in the log; layers tied to the vocabulary are re-initialised when the "
                 "vocabulary differs. Used only when the run starts, not when it resumes",
    "init_conf": "options of init_from: map {source prefix: model prefix} renames tensors, exclude [prefix] "
                 "keeps those freshly initialised, freeze [prefix] stops training those parameters "
                 "(e.g. {freeze: [frontend., encoder.]})",
    "log_every_steps": "log loss, learning rate and throughput every N steps",
    "num_workers": "DataLoader worker processes (0: load in the training process)",
    "compile": "torch.compile the training forward/backward (dynamic shapes; the first steps compile; "
               "validation and checkpoints use the plain model)",
    "device": "auto (cuda when available), cpu or cuda",
    "valid_every_epochs": "validate every N epochs",
}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class Trainer:
    def __init__(self, conf: dict, exp_dir: str | Path, task, dist: DistInfo, resume: bool = False):
        self.conf = conf
        self.exp_dir = Path(exp_dir)
        self.ckpt_dir = self.exp_dir / "checkpoints"
        self.task = task
        self.dist = dist
        self.device = dist.device
        self.resume = resume
        precision = conf["precision"]
        if precision not in ("fp32", "fp16", "bf16"):
            raise S2SError(f"config key 'precision' must be fp32, fp16 or bf16, got {precision!r}")
        if precision != "fp32" and self.device.type == "cpu" and dist.is_main:
            import socket

            log.warning("precision %s on the CPU of %s: no GPU is visible to this process "
                        "(CUDA_VISIBLE_DEVICES=%s). Training will be slow; if a GPU was expected, check the job's "
                        "GPU request (--ngpu) and the node", precision, socket.gethostname(),
                        os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
        for key in ("keep_checkpoints", "keep_epoch_checkpoints", "accum_grad"):
            low = 1 if key == "accum_grad" else 0
            if conf[key] < low:
                raise S2SError(f"{key}: must be >= {low}{' (0 keeps all)' if key == 'keep_epoch_checkpoints' else ''}, "
                               f"got {conf[key]}")
        self.precision = precision
        self.amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)

    # ------------------------------------------------------------------ set-up
    def setup(self) -> None:
        from s2s.optim import build_optimizer, build_scheduler

        conf = self.conf
        self.train_set = self.task.dataset("train")
        if self.train_set is None:
            raise S2SError("config key 'train_data' is not set; give the training data dir(s)")
        self.valid_set = self.task.dataset("valid")
        self.sampler = BucketSampler(
            self.train_set.lengths, conf["batch_frames"], conf["max_batch_size"], seed=conf["seed"],
            sortagrad=conf["sortagrad"], world_size=self.dist.world_size, rank=self.dist.rank,
        )
        self.model = self.task.build_model()
        init_conf = check_init_conf(conf.get("init_conf"))
        if conf.get("init_from") and not (self.resume and (self.ckpt_dir / "last.pt").is_file()):
            init_from_checkpoint(self.model, conf["init_from"], init_conf, list(self.task.vocab_layers),
                                 self.task.extra_meta())
        if init_conf["freeze"]:
            freeze(self.model, init_conf["freeze"])
        self.model = self.model.to(self.device)
        self.num_params = sum(p.numel() for p in self.model.parameters())
        self.steps_per_epoch = max(1, len(self.sampler) // conf["accum_grad"])
        self.optimizer = build_optimizer(conf["optim"], conf["optim_conf"], self.model)
        self.scheduler = build_scheduler(conf["scheduler"], self._scheduler_conf(), self.optimizer,
                                         self.steps_per_epoch)
        # Dynamic loss scaling only for fp16; bf16 has fp32's range.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        if self.dist.enabled:
            self.ddp_model = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        else:
            self.ddp_model = self.model
        if conf["compile"]:
            self.ddp_model = torch.compile(self.ddp_model, dynamic=True)
        self.step = 0
        self.epoch = 0
        self.batch_pos = 0      # global batches of the current epoch already consumed
        self.skipped_steps = 0  # steps dropped for non-finite gradients
        self.best = {}
        if self.resume:
            self._load_latest()

    def _scheduler_conf(self, done_steps: int = 0, done_epochs: float = 0.0) -> dict:
        """The scheduler conf, with the training length filled in for decaying policies
        (poly, cosine) when the config gives neither total_steps nor total_epochs. A continued
        run whose steps per epoch changed passes the steps and epochs already done: the rest
        is counted at the new rate."""
        import inspect

        from s2s.optim import SCHEDULERS

        sconf = dict(self.conf["scheduler_conf"] or {})
        ctor = SCHEDULERS.get(self.conf["scheduler"], context="config key 'scheduler'")
        params = inspect.signature(ctor.__init__ if inspect.isclass(ctor) else ctor).parameters
        if "total_steps" in params and sconf.get("total_steps") is None and sconf.get("total_epochs") is None:
            total = done_steps + round(max(0.0, self.conf["max_epochs"] - done_epochs) * self.steps_per_epoch)
            if self.conf["max_steps"]:
                total = min(total, self.conf["max_steps"])
            warmup = sconf.get("warmup_steps") or int((sconf.get("warmup_epochs") or 0) * self.steps_per_epoch)
            if total <= warmup:
                log.warning("scheduler %s: training has %d steps, not more than its %d warmup steps; "
                            "decaying over one step after warmup", self.conf["scheduler"], total, warmup)
                total = warmup + 1
            sconf["total_steps"] = total
        return sconf

    # ------------------------------------------------------------------ checkpoints
    def _train_state(self) -> dict:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_pos": self.batch_pos,
            "epoch_batches": len(self.sampler.epoch_global_batches(self.epoch)),
            "steps_per_epoch": self.steps_per_epoch,
            "skipped_steps": self.skipped_steps,
            "rng": ckpt_lib.rng_state(),
            "conf": self.conf,
        }

    def save(self, name: str) -> Path:
        path = self.ckpt_dir / f"{name}.pt"
        if self.dist.is_main:
            save_checkpoint(path, self.model.state_dict(), self.task.meta(), self._train_state())
            # "last.pt" names the newest checkpoint, whatever its kind
            save_checkpoint(self.ckpt_dir / "last.pt", self.model.state_dict(), self.task.meta(), self._train_state())
            steps = ckpt_lib.list_checkpoints(self.ckpt_dir, "step")
            for old in steps[: max(0, len(steps) - self.conf["keep_checkpoints"])]:
                old.unlink(missing_ok=True)
            keep = self.conf["keep_epoch_checkpoints"]
            if keep > 0:
                epochs = ckpt_lib.list_checkpoints(self.ckpt_dir, "epoch")
                for old in epochs[: max(0, len(epochs) - keep)]:
                    old.unlink(missing_ok=True)
        barrier(self.dist)
        return path

    def _restart_reason(self, ck: dict, old_conf: dict) -> str | None:
        """Why the checkpoint cannot be continued with this config (None: it can).

        A run continues whatever else changed (more epochs or steps, another lr, batch size,
        augmentation, ...); it restarts when the checkpoint's model does not fit this config's
        model, or the task, optimizer or LR policy is another one."""
        for key in ("task", "optim", "scheduler"):
            if key in old_conf and old_conf[key] != self.conf[key]:
                return f"the {key} is another ({old_conf[key]} -> {self.conf[key]})"
        mine = self.model.state_dict()
        theirs = ck["model"]
        for name in sorted(set(mine) | set(theirs)):
            if name not in mine or name not in theirs:
                return f"the model's layers differ ({name} only in the {'checkpoint' if name in theirs else 'config'})"
            if tuple(mine[name].shape) != tuple(theirs[name].shape):
                return (f"the model's shape differs ({name}: {tuple(theirs[name].shape)} in the checkpoint, "
                        f"{tuple(mine[name].shape)} now)")
        saved = [len(g["params"]) for g in ck["train_state"]["optimizer"]["param_groups"]]
        state = ck["train_state"]["optimizer"].get("state", {})
        ids = [i for g in ck["train_state"]["optimizer"]["param_groups"] for i in g["params"]]
        mine_params = [p for g in self.optimizer.param_groups for p in g["params"]]
        # Moments are stored per parameter position: the same positions must hold tensors of the same shapes.
        shapes_differ = any(
            isinstance(v, torch.Tensor) and v.dim() > 0 and tuple(v.shape) != tuple(p.shape)
            for i, p in zip(ids, mine_params) for v in state.get(i, {}).values())
        if saved != [len(g["params"]) for g in self.optimizer.param_groups] or shapes_differ:
            return "the trained parameters are others (init_conf.freeze or exclude_from_weight_decay changed)"
        return None

    def _load_latest(self) -> None:
        path = self.ckpt_dir / "last.pt"
        if not path.is_file():
            log.info("--resume: no checkpoint in %s, starting from scratch", self.ckpt_dir)
            return
        ck = read_checkpoint(path)
        st = ck["train_state"]
        old_conf = st.get("conf", {})
        changed = _changed_keys(old_conf, self.conf)
        restart = self._restart_reason(ck, old_conf)
        if restart:
            # A re-run with another config is a new experiment, not a continuation: keep the
            # old checkpoints aside instead of mixing two runs.
            aside = self.ckpt_dir.with_name(f"checkpoints.prev-{time.strftime('%Y%m%d-%H%M%S')}")
            if self.dist.is_main:
                self.ckpt_dir.rename(aside)
            barrier(self.dist)
            log.warning("--resume: the config changed (%s) and %s; previous checkpoints moved to %s, "
                        "starting afresh", ", ".join(changed), restart, aside)
            if self.conf.get("init_from"):  # setup skipped it, expecting to continue
                init_from_checkpoint(self.model, self.conf["init_from"], self.conf.get("init_conf"),
                                     list(self.task.vocab_layers), self.task.extra_meta())
            return
        self.model.load_state_dict(ck["model"])
        # The optimizer's state (moments) continues; its settings and the schedule's come from
        # this config, so a changed lr or weight decay takes effect from here on.
        fresh = [{k: v for k, v in g.items() if k != "params"} for g in self.optimizer.param_groups]
        self.optimizer.load_state_dict(st["optimizer"])
        for group, settings in zip(self.optimizer.param_groups, fresh):
            group.update({k: v for k, v in settings.items() if k != "lr"})
        sched = dict(st["scheduler"], base_lrs=[g["initial_lr"] for g in fresh])
        self.scheduler.load_state_dict(sched)
        if st["conf"].get("precision") == self.precision:
            self.scaler.load_state_dict(st["scaler"])
        self.step, self.epoch, self.batch_pos = st["step"], st["epoch"], st["batch_pos"]
        self.skipped_steps = st["skipped_steps"]
        new_n = len(self.sampler.epoch_global_batches(self.epoch))
        old_n = st.get("epoch_batches") or new_n
        if self.batch_pos and old_n != new_n:
            # The epoch's batches are others now (batch size, data, number of GPUs): go on from
            # the same share of the epoch.
            self.batch_pos = min(new_n, round(self.batch_pos / max(old_n, 1) * new_n))
            self.batch_pos -= self.batch_pos % self.conf["accum_grad"]
            log.info("--resume: %d batches per epoch now (were %d): continuing at batch %d", new_n, old_n,
                     self.batch_pos)
        old_spe = st.get("steps_per_epoch")
        if old_spe and old_spe != self.steps_per_epoch:
            # Rebuild the schedule so that its remaining length is counted at the new rate.
            from s2s.optim import build_scheduler

            done_epochs = self.epoch + self.batch_pos / max(new_n, 1)
            self.scheduler = build_scheduler(self.conf["scheduler"], self._scheduler_conf(self.step, done_epochs),
                                             self.optimizer, self.steps_per_epoch)
            self.scheduler.load_state_dict(dict(st["scheduler"], base_lrs=[g["initial_lr"] for g in fresh]))
            log.info("--resume: %d optimizer steps per epoch now (were %d); the LR schedule's remaining length "
                     "is counted at the new rate", self.steps_per_epoch, old_spe)
        ckpt_lib.set_rng_state(st["rng"])
        if changed:
            log.info("--resume: continuing with a changed config: %s",
                     "; ".join(f"{k}: {_get(old_conf, k)!r} -> {_get(self.conf, k)!r}" for k in changed))
        log.info("resumed from %s: epoch %d, batch %d, step %d", path, self.epoch + 1, self.batch_pos, self.step)

    # ------------------------------------------------------------------ loop
    def _loader(self, batches: list[list[int]], dataset, epoch: int = 0):
        # The loader's own generator: creating an iterator draws a base seed from it, which
        # would otherwise come from the global RNG and shift dropout's random stream between
        # an uninterrupted run and one resumed mid-epoch.
        gen = torch.Generator().manual_seed(self.conf["seed"] * 100003 + epoch)
        # Pinned host memory lets the copies to the GPU (non_blocking) overlap the computation.
        return torch.utils.data.DataLoader(
            dataset, batch_sampler=batches, collate_fn=self.task.collate,
            num_workers=self.conf["num_workers"], generator=gen, pin_memory=self.device.type == "cuda",
        )

    def _to_device(self, batch: dict) -> dict:
        return {k: (v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def train(self) -> dict:
        conf = self.conf
        accum = conf["accum_grad"]
        max_steps = conf["max_steps"]
        writer = self._tensorboard()
        t_start = time.time()
        last_metrics: dict = {}
        done = max_steps and self.step >= max_steps
        while self.epoch < conf["max_epochs"] and not done:
            global_batches = self.sampler.epoch_global_batches(self.epoch)
            n_batches = len(global_batches) - len(global_batches) % accum
            todo = global_batches[self.batch_pos:n_batches]
            shards = [self.sampler.shard(b) for b in todo]
            if hasattr(self.train_set, "set_epoch"):  # per-epoch randomness of the data (augmentation)
                self.train_set.set_epoch(self.epoch)
            loader = self._loader(shards, self.train_set, self.epoch)
            self.ddp_model.train()
            progress = _progress(len(todo), f"epoch {self.epoch + 1}", self.dist.is_main)
            window_loss, window_n, window_work, t_window = 0.0, 0.0, 0.0, time.time()
            for batch in loader:
                batch = self._to_device(batch)
                micro = (self.batch_pos % accum)
                sync = micro == accum - 1
                ctx = self.ddp_model.no_sync() if (self.dist.enabled and not sync) else nullcontext()
                with ctx:
                    with self._autocast():
                        loss_sum, weight, stats = self.task.forward_loss(self.ddp_model, batch)
                    total_weight = all_reduce_sum(weight, self.dist)
                    # DDP averages gradients over ranks: scale so the result is the
                    # gradient of (global loss sum / global weight).
                    loss = loss_sum * (self.dist.world_size / max(total_weight, 1e-12) / accum)
                    self.scaler.scale(loss).backward()
                window_loss += loss_sum.item()
                window_n += weight
                window_work += self.task.throughput(batch)
                self.batch_pos += 1
                progress.update(1)
                if not sync:
                    continue
                self._optimizer_step()
                if self.step % conf["log_every_steps"] == 0 and self.dist.is_main:
                    elapsed = time.time() - t_window
                    avg = window_loss / max(window_n, 1e-12)
                    lr = self.optimizer.param_groups[0]["lr"]
                    log.info("epoch %d step %d: loss %.4f lr %.3g  %.1f %s/s", self.epoch + 1, self.step,
                             avg, lr, window_work / max(elapsed, 1e-9), self.task.throughput_unit)
                    progress.set_postfix(loss=f"{avg:.3f}", lr=f"{lr:.2e}")
                    if writer:
                        writer.add_scalar("train/loss", avg, self.step)
                        writer.add_scalar("train/lr", lr, self.step)
                        writer.add_scalar("train/skipped_steps", self.skipped_steps, self.step)
                    window_loss, window_n, window_work, t_window = 0.0, 0.0, 0.0, time.time()
                if conf["ckpt_every_steps"] and self.step % conf["ckpt_every_steps"] == 0:
                    self.save(f"step{self.step}")
                    if os.environ.get("S2S_TEST_KILL_AT_STEP") == str(self.step):
                        # Fault injection for the resume test: die the hard way right after a
                        # step checkpoint, so the test never races the training speed.
                        os.kill(os.getpid(), signal.SIGKILL)
                if max_steps and self.step >= max_steps:
                    done = True
                    break
            progress.close()
            epoch_finished = self.batch_pos >= n_batches
            if epoch_finished:
                self.epoch += 1
                self.batch_pos = 0
            if epoch_finished or done:
                if self.valid_set is not None and (self.epoch % conf["valid_every_epochs"] == 0 or done):
                    last_metrics = self.validate()
                    if self.dist.is_main:
                        log.info("epoch %d validation: %s", self.epoch,
                                 "  ".join(f"{k} {v:.4f}" for k, v in last_metrics.items()))
                        if writer:
                            for k, v in last_metrics.items():
                                writer.add_scalar(f"valid/{k}", v, self.step)
                self.save(f"epoch{self.epoch}" if epoch_finished else f"step{self.step}")
        if writer:
            writer.close()
        dump = os.environ.get("S2S_DUMP_FINAL_STATE")
        if dump:
            # Every rank's final parameters, for checking that data-parallel ranks agree.
            save_checkpoint(Path(dump) / f"rank{self.dist.rank}.pt", self.model.state_dict(),
                                     {"rank": self.dist.rank, "step": self.step})
        if self.dist.is_main:
            log.info("training done: %d steps, %d skipped for non-finite gradients, %.1f s",
                     self.step, self.skipped_steps, time.time() - t_start)
        return last_metrics

    def _optimizer_step(self) -> None:
        self.scaler.unscale_(self.optimizer)
        grad_norm = None
        if self.conf["grad_clip"] > 0:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.conf["grad_clip"])
        finite = True
        if self.precision != "fp16":
            if grad_norm is None:
                grad_norm = torch.nn.utils.get_total_norm([p.grad for p in self.model.parameters() if p.grad is not None]) \
                    if hasattr(torch.nn.utils, "get_total_norm") else _total_norm(self.model)
            finite = bool(torch.isfinite(grad_norm))
        if self.precision == "fp16":
            scale_before = self.scaler.get_scale()
            self.scaler.step(self.optimizer)  # skips the step itself when gradients overflowed
            self.scaler.update()
            if self.scaler.get_scale() < scale_before:
                self.skipped_steps += 1
                log.warning("step %d: gradients overflowed in fp16, step skipped (%d so far); loss scale now %g",
                            self.step + 1, self.skipped_steps, self.scaler.get_scale())
        elif finite:
            self.optimizer.step()
        else:
            self.skipped_steps += 1
            log.warning("step %d: non-finite gradient norm, step skipped (%d so far)", self.step + 1, self.skipped_steps)
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1

    @torch.no_grad()
    def validate(self) -> dict:
        metrics: dict = {}
        if self.dist.is_main:
            self.model.eval()
            sampler = BucketSampler(self.valid_set.lengths, self.conf["batch_frames"], self.conf["max_batch_size"],
                                    shuffle=False)
            loader = self._loader(sampler.epoch_global_batches(0), self.valid_set)
            with self._autocast():
                metrics = self.task.evaluate(self.model, (self._to_device(b) for b in loader))
            self.model.train()
        barrier(self.dist)
        return metrics

    def _tensorboard(self):
        if not self.dist.is_main:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except Exception:  # tensorboard missing: logging still works
            return None
        return SummaryWriter(str(self.exp_dir / "tensorboard"))


def _changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two resolved configs."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _changed_keys(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}")
    return out


def _get(conf: dict, dotted: str):
    for part in dotted.split("."):
        conf = conf.get(part) if isinstance(conf, dict) else None
    return conf


def _total_norm(model) -> torch.Tensor:
    norms = [p.grad.detach().float().norm() for p in model.parameters() if p.grad is not None]
    return torch.stack(norms).norm() if norms else torch.tensor(0.0)


class _NoProgress:
    def update(self, n=1):
        pass

    def set_postfix(self, **kw):
        pass

    def close(self):
        pass


def _progress(total: int, desc: str, enabled: bool):
    if not enabled or not sys.stderr.isatty() or os.environ.get("S2S_NO_PROGRESS"):
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, dynamic_ncols=True, leave=False)


def setup_logging(log_file: Path | None, is_main: bool) -> None:
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.INFO if is_main else logging.WARNING)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(fmt)
    root.addHandler(h)
    if log_file is not None and is_main:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_file)
        fh.setFormatter(fmt)
        root.addHandler(fh)


def human_count(n: int) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


