"""What the driver sends to the experiment's storage after each save of Tune's state: what changed, each file whole."""

from pathlib import Path

import pytest
from pyarrow import fs
from ray.train._internal import storage as ray_storage

from sweeps import internals


@pytest.mark.parametrize("store", ["folder", "object store"])
def test_only_changed_files_are_sent_each_whole_and_tune_s_state_last(store, tmp_path, monkeypatch):
    staging, storage = tmp_path / "driver", tmp_path / "storage"
    (staging / "t1").mkdir(parents=True)
    storage.mkdir()
    # An object store's upload appears whole, and no rename is needed: pyarrow's subtree view stands in for one.
    filesystem = fs.LocalFileSystem() if store == "folder" else fs.SubTreeFileSystem(str(storage), fs.LocalFileSystem())
    target = str(storage / "exp") if store == "folder" else "exp"
    sent, seen = [], {}  # each upload's file, and what a reader of storage saw of it meanwhile
    upload = ray_storage._upload_to_fs_path

    def spy(local_path: str, filesystem, fs_path: str) -> None:
        name = Path(local_path).relative_to(staging).as_posix()
        upload(local_path, filesystem, fs_path)
        sent.append(name)
        seen[name] = read(storage / "exp" / name)

    monkeypatch.setattr(ray_storage, "_upload_to_fs_path", spy)
    files = {"experiment_state-1.json": '{"trials": 1}', "t1/result.json": '{"epoch": 1}\n',
             "trial_index-1.json": "[1]"}
    for name, text in files.items():
        (staging / name).write_text(text)
    internals.upload_changes(str(staging), filesystem, target)
    assert sent[-1] == "experiment_state-1.json" and sorted(sent) == sorted(files)
    assert {name: read(storage / "exp" / name) for name in files} == files
    assert not list(storage.rglob(".*"))  # no draft left behind

    sent.clear()
    (staging / "t1" / "result.json").write_text(files["t1/result.json"] + '{"epoch": 2}\n')
    (staging / "experiment_state-1.json").write_text('{"trials": 2}')
    internals.upload_changes(str(staging), filesystem, target)
    assert sent == ["t1/result.json", "experiment_state-1.json"]  # the index and the rest: unchanged, not sent
    assert read(storage / "exp" / "experiment_state-1.json") == '{"trials": 2}'
    if store == "folder":  # written beside it and renamed: until then a reader sees the last whole state
        assert seen["experiment_state-1.json"] == '{"trials": 1}'


def read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None
