"""The viewer key file and finding the services of a running stack."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from omniclaude.settings import Settings
from omniclaude.stack.keys import _write_key, read_viewer_key, viewer_key_path
from omniclaude.stack.locate import locate
from omniclaude.stack.state import Phase, ProcessRef, StackState, save_state


def test_the_viewer_key_is_saved_privately(tmp_path: Path) -> None:
    """The key file is readable by its owner only and read back without whitespace."""
    assert read_viewer_key(tmp_path) is None
    _write_key(viewer_key_path(tmp_path), "oc_abc_def")
    assert read_viewer_key(tmp_path) == "oc_abc_def"
    assert stat.S_IMODE(viewer_key_path(tmp_path).stat().st_mode) == 0o600


def _running_state(tmp_path: Path, database_url: str) -> None:
    state = StackState(data_dir=str(tmp_path), supervisor=ProcessRef.of(os.getpid()))
    state.phase = Phase.RUNNING
    state.database_url = database_url
    state.kafka_bootstrap = "127.0.0.1:19092"
    state.viewer_url = "http://127.0.0.1:9/viewer/"
    save_state(state)


def test_without_a_stack_the_settings_are_all_there_is(tmp_path: Path) -> None:
    """No stack, no environment: nothing is known but the default viewer address."""
    targets = locate(Settings(data_dir=tmp_path))
    assert (targets.database_url, targets.kafka_bootstrap) == (None, None)
    assert targets.viewer_url == "http://127.0.0.1:8080/viewer/"
    assert not targets.from_stack


def test_a_running_stack_supplies_its_addresses(tmp_path: Path) -> None:
    """After `up`, commands find the database, broker and viewer with no configuration."""
    _running_state(tmp_path, "postgresql://postgres@127.0.0.1:15432/omniclaude")
    targets = locate(Settings(data_dir=tmp_path))
    assert targets.database_url == "postgresql://postgres@127.0.0.1:15432/omniclaude"
    assert targets.kafka_bootstrap == "127.0.0.1:19092"
    assert targets.trace_url("abc") == "http://127.0.0.1:9/viewer/traces/abc"
    assert targets.from_stack


def test_the_environment_wins_and_masked_urls_are_never_used(tmp_path: Path) -> None:
    """Settings override the stack; a masked (external) URL from the state is not used."""
    _running_state(tmp_path, "postgresql://u:***@db/x")
    assert locate(Settings(data_dir=tmp_path)).database_url is None
    settings = Settings(data_dir=tmp_path, database_url="postgresql://u:pw@db/x",
                        kafka_bootstrap="k:1")  # fmt: skip
    targets = locate(settings)
    assert targets.database_url == "postgresql://u:pw@db/x"
    assert targets.kafka_bootstrap == "k:1"
