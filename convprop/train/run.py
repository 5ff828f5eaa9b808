"""Run policy: which run to start or continue, in which folder, with which settings.

The ``convprop train`` command only maps its flags onto :func:`plan_run` and :func:`start_run`; every decision
about new runs and resumed ones is made here, once:

* a new run resolves its settings (:func:`~convprop.train.config.resolve_config`) and refuses a folder that
  already holds a run (``last.npz``);
* a resumed run takes its settings from its checkpoint; a setting given again must be equal, except the
  runtime ones (threads, checkpoint interval, evaluation batch size), which may change;
* continuing into another folder starts a copy of the run there, which must not overwrite a run living there.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convprop import distributed
from convprop.train.checkpoint import Checkpoint, load_checkpoint
from convprop.train.config import RUNTIME_SETTINGS, TrainConfig, changed_settings, resolve_config
from convprop.train.trainer import LAST, Trainer


class RunError(ValueError):
    """The run folder or the resume request cannot be used as asked."""


@dataclass
class RunPlan:
    """A run to start (``checkpoint`` None) or to continue from ``checkpoint``, in ``out_dir``."""

    config: TrainConfig
    out_dir: Path
    checkpoint: Checkpoint | None = None


def default_run_dir(config: TrainConfig) -> Path:
    """``runs/<dataset>-<model>-<YYYYmmdd-HHMMSS>`` (a model file is named by its class)."""
    model = config.model.rpartition(":")[2] if ":" in config.model else config.model
    return Path("runs") / f"{config.dataset}-{model}-{time.strftime('%Y%m%d-%H%M%S')}"


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out} is a file, not a run folder")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RunError(f"--out {out}: {parent} is a file, not a folder")
            break


def plan_run(
    settings: dict[str, Any], out_dir: str | os.PathLike | None = None, resume: str | os.PathLike | None = None
) -> RunPlan:
    """Decide the run: its settings, its folder and, when resuming, the checkpoint to continue from.

    Args:
        settings: the settings given (``TrainConfig`` field names); those left out take the defaults, or
            the resumed run's values.
        out_dir: the run folder (default: :func:`default_run_dir` for a new run, the checkpoint's folder
            when resuming).
        resume: None for a new run; ``""`` to continue the run in ``out_dir``; a run folder or checkpoint
            file to continue (in ``out_dir`` when it is given).

    Raises:
        RunError: nothing to resume, a folder that holds another run, an ``out_dir`` that is a file, or a
            setting that differs from the resumed run's.
        CheckpointError: the checkpoint cannot be read.
        ValueError: an invalid setting.
    """
    out = None if out_dir is None else Path(out_dir)
    if resume is None:
        config = resolve_config(TrainConfig(**settings))
        out = out if out is not None else default_run_dir(config)
        if (out / LAST).exists():
            raise RunError(f"{out} already holds a run: continue it with --resume, or choose another --out")
        _check_out_dir(out)
        return RunPlan(config, out)
    if resume == "":
        if out is None:
            raise RunError("--resume needs the run folder: pass --out DIR (or --resume DIR)")
        source = out
    else:
        source = Path(resume)
    path = source / LAST if source.is_dir() else source
    if not path.is_file():
        raise RunError(f"nothing to resume: {path} does not exist")
    out = out if out is not None else path.parent
    if (out / LAST).exists() and out.resolve() != path.parent.resolve():
        raise RunError(
            f"{out} already holds another run: resume into it with --resume {out}, or choose an --out without a run"
        )
    _check_out_dir(out)
    ck = load_checkpoint(path)
    try:
        saved = TrainConfig.from_dict(ck.header["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"{ck.path}: cannot read the run's settings: {exc}") from None
    world = distributed.world_size()
    if saved.world_size != world:
        processes = (
            "1 process" if saved.world_size == 1 else f"{saved.world_size} processes (mpirun -n {saved.world_size})"
        )
        raise RunError(
            f"{ck.path} was trained by {processes}; resume it with as many (this job has {world}): the "
            "shards of each batch, and so the arithmetic, depend on their number"
        )
    changed = changed_settings(saved, settings)
    if changed:
        key = changed[0]
        raise RunError(
            f"--{key.replace('_', '-')} {settings[key]} differs from the run being resumed ({getattr(saved, key)}); "
            "a resumed run keeps its settings (start a new run with another --out to change them)"
        )
    runtime = {k: settings[k] for k in RUNTIME_SETTINGS if k in settings}
    return RunPlan(TrainConfig(**{**saved.to_dict(), **runtime}), out, ck)


def start_run(plan: RunPlan, **trainer_options) -> Trainer:
    """The :class:`~convprop.train.Trainer` of ``plan``, at the checkpoint's position when resuming.

    ``trainer_options`` go to the Trainer (``data_dir``, ``progress``, ``plots``, ``log``).
    """
    trainer = Trainer(plan.config, plan.out_dir, **trainer_options)
    if plan.checkpoint is not None:
        try:
            trainer.restore(plan.checkpoint)
        except (KeyError, TypeError, ValueError) as exc:
            raise RunError(f"cannot resume from {plan.checkpoint.path}: {exc}") from None
    return trainer
