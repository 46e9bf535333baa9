"""Inputs given as URLs (io/remote.py): an S3 folder served by a moto server on 127.0.0.1 must
give the local folder's numbers, and a missing or broken object the local message with the URL.

Needs the `cloud` extra (fsspec, s3fs) and moto[server] (both in the `test` extra); skipped
with the reason otherwise. The file:// and missing-package tests need only fsspec / nothing.
"""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from segloss_cli.api import evaluate_folder
from segloss_cli.cli import app
from segloss_cli.cli.parse import parse_storage_options
from segloss_cli.errors import UsageError
from segloss_cli.io.remote import is_url
from tests.test_dask import cluster  # noqa: F401 - the session-wide LocalCluster fixture
from tests.test_folders import make_folders

RUNNER = CliRunner()
BUCKET = "segloss-test"


def run(*args):
    return RUNNER.invoke(app, [str(a) for a in args])


def _without_paths(doc: dict) -> dict:
    """The result with each case's pred/gt paths left out (the URLs differ from the paths)."""
    for case in doc["cases"]:
        case.pop("pred")
        case.pop("gt")
    return doc


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    top = tmp_path_factory.mktemp("remote")
    pdir, gdir = make_folders(top, 4, empty_class2=("case02",))
    return pdir, gdir


@pytest.fixture(scope="module")
def s3(local):
    """A moto S3 server on 127.0.0.1 holding the local folders under s3://BUCKET/pred, /gt."""
    pytest.importorskip("s3fs", reason="URL inputs need the cloud extra: pip install 'segloss[cloud]'")
    server_mod = pytest.importorskip("moto.server", reason="the S3 test server needs pip install 'moto[server]'")
    import s3fs

    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    options = {
        "endpoint_url": f"http://{host}:{port}",
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"region_name": "us-east-1"},
    }
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=options["endpoint_url"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    fs = s3fs.S3FileSystem(**options)
    pdir, gdir = local
    for sub, folder in (("pred", pdir), ("gt", gdir)):
        for f in sorted(folder.iterdir()):
            fs.put_file(str(f), f"{BUCKET}/{sub}/{f.name}")
    fs.pipe_file(f"{BUCKET}/bad/case00.nii.gz", b"\x1f\x8b\x08\x00truncated")
    cli = [
        "--storage-option",
        f"endpoint_url={options['endpoint_url']}",
        "--storage-option",
        "key=testing",
        "--storage-option",
        "secret=testing",
        "--storage-option",
        'client_kwargs={"region_name": "us-east-1"}',
    ]
    yield options, cli
    server.stop()


COMMON = ("--metrics", "dice,hd95,tp", "-q", "-j", "1", "-f", "json")


def test_an_s3_folder_gives_the_local_folders_numbers(local, s3):
    pdir, gdir = local
    _, cli = s3
    remote = run("eval", f"s3://{BUCKET}/pred", f"s3://{BUCKET}/gt/", *COMMON, *cli)
    here = run("eval", pdir, gdir, *COMMON)
    assert remote.exit_code == 0, remote.stderr
    assert here.exit_code == 0, here.stderr
    got, want = json.loads(remote.stdout), json.loads(here.stdout)
    assert [c["gt"] for c in got["cases"]] == [f"s3://{BUCKET}/gt/case{i:02d}.nii.gz" for i in range(4)]
    assert _without_paths(got) == _without_paths(want)
    assert "testing" not in remote.stdout  # the credentials are not recorded


def test_a_missing_object_gives_the_local_message_with_the_url(local, s3):
    pdir, gdir = local
    _, cli = s3
    missing = f"s3://{BUCKET}/gt/nope.nii.gz"
    remote = run("eval", f"s3://{BUCKET}/pred/case00.nii.gz", missing, *cli)
    here = run("eval", pdir / "case00.nii.gz", gdir / "nope.nii.gz")
    assert remote.exit_code == here.exit_code == 2
    assert remote.stderr == here.stderr.replace(str(gdir / "nope.nii.gz"), missing)
    assert remote.stderr == f"segloss: error: {missing}: file not found; check the path\n"


def test_a_broken_object_gives_the_local_message_with_the_url(local, s3, tmp_path):
    pdir, gdir = local
    _, cli = s3
    broken = tmp_path / "case00.nii.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00truncated")
    url = f"s3://{BUCKET}/bad/case00.nii.gz"
    remote = run("eval", url, f"s3://{BUCKET}/gt/case00.nii.gz", *cli)
    here = run("eval", broken, gdir / "case00.nii.gz")
    assert remote.exit_code == here.exit_code == 2
    assert remote.stderr == here.stderr.replace(str(broken), url)
    assert "Traceback" not in remote.stderr


def test_the_api_takes_storage_options(local, s3):
    pdir, gdir = local
    options, _ = s3
    got = evaluate_folder(f"s3://{BUCKET}/pred", f"s3://{BUCKET}/gt", metrics="dice", jobs=2, storage_options=options)
    want = evaluate_folder(pdir, gdir, metrics="dice", jobs=1)
    assert got.summary == want.summary
    assert [c.classes for c in got.cases] == [c.classes for c in want.cases]


def test_a_folder_url_against_a_file_is_one_line(local, s3):
    _, cli = s3
    res = run("eval", f"s3://{BUCKET}/pred", f"s3://{BUCKET}/gt/case00.nii.gz", *cli)
    assert res.exit_code == 2
    assert res.stderr.startswith(f"segloss: error: s3://{BUCKET}/pred: is a folder but ")


def test_file_urls_read_local_folders(local):
    pytest.importorskip("fsspec", reason="URL inputs need the cloud extra: pip install 'segloss[cloud]'")
    pdir, gdir = local
    got = run("eval", pdir.as_uri(), gdir.as_uri(), *COMMON)
    want = run("eval", pdir, gdir, *COMMON)
    assert got.exit_code == 0, got.stderr
    assert _without_paths(json.loads(got.stdout)) == _without_paths(json.loads(want.stdout))


def test_without_fsspec_a_url_says_which_extra_to_install(local, monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)  # import fsspec -> ImportError
    res = run("eval", "s3://bucket/pred.nii.gz", "s3://bucket/gt.nii.gz")
    assert res.exit_code == 2
    assert "pip install 'segloss[cloud]'" in res.stderr and "Traceback" not in res.stderr


def test_storage_option_text():
    assert parse_storage_options(["anon=true", "block=512", 'client_kwargs={"a": 1}', "key=ab12"]) == {
        "anon": True,
        "block": 512,
        "client_kwargs": {"a": 1},
        "key": "ab12",
    }
    assert parse_storage_options(None) is None
    with pytest.raises(UsageError, match="give key=value"):
        parse_storage_options(["novalue"])
    assert is_url("s3://b/k") and is_url("file:///tmp/x") and not is_url("/tmp/x") and not is_url("C:\\x")


def test_dask_workers_read_the_urls_and_stream_the_csv(local, s3, cluster):  # noqa: F811
    """The session's LocalCluster (tests/test_dask.py) scores the S3 folder: its workers read
    the objects with the run's storage options; the streamed CSV (the run keeps no case) is
    the local folder's CSV byte for byte."""
    pdir, gdir = local
    _, cli = s3
    opts = ("--metrics", "dice,hd95,tp", "-q", "-f", "csv")
    here = run("eval", pdir, gdir, *opts, "-j", "1")
    address = cluster[0].scheduler_address
    remote = run("eval", f"s3://{BUCKET}/pred", f"s3://{BUCKET}/gt", *opts, "--scheduler", address, *cli)
    assert remote.exit_code == 0, remote.stderr
    assert here.exit_code == 0 and remote.stdout == here.stdout


def test_a_prefix_read_as_a_file_says_it_is_a_directory(s3):
    from segloss_cli.errors import InputError
    from segloss_cli.io.remote import read_volume_url

    options, _ = s3
    with pytest.raises(InputError, match="is a directory, expected a file") as info:
        read_volume_url(f"s3://{BUCKET}/pred", options)
    assert info.value.path == f"s3://{BUCKET}/pred"


def _put(options, local_path, key):
    import s3fs

    s3fs.S3FileSystem(**options).put_file(str(local_path), f"{BUCKET}/{key}")


def test_a_totalsegmentator_header_table_names_the_classes_of_an_s3_run(s3, tmp_path):
    """The label table in a NIfTI header extension (TotalSegmentator) is read from a URL as
    from a file: an S3 pair and an S3 folder get the local run's class names."""
    from tests.test_label_tables import NAMES, organs, save, totalseg_xml

    options, cli = s3
    pred, gt = organs()
    for sub in ("p", "g"):
        (tmp_path / sub).mkdir()
    save(tmp_path / "p" / "c1.nii.gz", pred)
    save(tmp_path / "g" / "c1.nii.gz", gt, totalseg_xml(NAMES))
    _put(options, tmp_path / "p" / "c1.nii.gz", "named/p/c1.nii.gz")
    _put(options, tmp_path / "g" / "c1.nii.gz", "named/g/c1.nii.gz")
    opts = ("--metrics", "dice", "-q", "-f", "json")
    for pair in (("p/c1.nii.gz", "g/c1.nii.gz"), ("p", "g")):
        here = run("eval", tmp_path / pair[0], tmp_path / pair[1], *opts, "-j", "1")
        remote = run("eval", *(f"s3://{BUCKET}/named/{p}" for p in pair), *opts, "-j", "1", *cli)
        assert here.exit_code == 0 and remote.exit_code == 0, remote.stderr
        got, want = json.loads(remote.stdout), json.loads(here.stdout)
        names = {lab: c["name"] for lab, c in got["cases"][0]["classes"].items()}
        assert names == {str(k): NAMES[k] for k in range(1, 6)}  # the case's classes, named
        assert names == {lab: c["name"] for lab, c in want["cases"][0]["classes"].items()}
        assert got["settings"]["label_names_from"] == f"s3://{BUCKET}/named/g/c1.nii.gz header extension"


def test_mask_folders_under_a_url_are_one_clear_local_only_error(local, s3):
    """Per-structure mask folders are local only: a case stored so in an S3 folder, or --masks
    with URLs, is exit 2 with one line saying so (never a case silently left out)."""
    options, cli = s3
    pdir, gdir = local
    for sub in ("pred", "gt"):
        base = pdir if sub == "pred" else gdir
        for f in sorted(base.iterdir())[:2]:
            _put(options, f, f"masked/{sub}/{f.name}")
    _put(options, gdir / "case00.nii.gz", "masked/gt/case09/segmentations/liver.nii.gz")
    res = run("eval", f"s3://{BUCKET}/masked/pred", f"s3://{BUCKET}/masked/gt", *cli)
    assert res.exit_code == 2
    assert res.stderr == (
        f"segloss: error: s3://{BUCKET}/masked/gt/case09: is a case of per-structure masks; per-structure mask "
        "folders are read from local folders only, not from URLs; copy them to a local folder first (e.g. aws s3 "
        "sync, gsutil rsync) or store each case as one label-map file\n"
    )
    res = run("eval", f"s3://{BUCKET}/pred", f"s3://{BUCKET}/gt", "--masks", *cli)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    assert res.stderr.startswith("segloss: error: --masks: per-structure mask folders are read from local folders only")
