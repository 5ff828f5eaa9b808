"""The epoch progress display: log lines when there is no terminal, none when turned off."""

from __future__ import annotations

import io

from convprop.train.progress import EpochProgress, in_notebook


def test_without_a_terminal_progress_is_logged_every_few_seconds():
    lines = []
    with EpochProgress(3, "epoch 1/2", file=io.StringIO(), log=lines.append, log_every=0) as progress:
        for _ in range(3):
            progress.update(32, loss=0.5, accuracy=0.75)
    assert len(lines) == 3
    assert lines[-1].startswith("epoch 1/2: batch 3/3, loss=0.5000 acc=75.00% ")


def test_no_lines_within_the_interval_and_none_when_turned_off():
    lines = []
    with EpochProgress(3, "e", file=io.StringIO(), log=lines.append, log_every=3600) as progress:
        progress.update(1, 0.1, 0.1)
    with EpochProgress(3, "e", enabled=False, log=lines.append, log_every=0) as progress:
        progress.update(1, 0.1, 0.1)
    assert lines == []


def test_a_resumed_epoch_counts_from_its_position():
    lines = []
    with EpochProgress(10, "e", initial=7, file=io.StringIO(), log=lines.append, log_every=0) as progress:
        progress.update(1, 0.1, 0.1)
    assert lines[0].startswith("e: batch 8/10")


def test_not_in_a_notebook_here():
    assert in_notebook() is False
