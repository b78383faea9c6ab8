"""Small model archives for template tests: what the constructs inspect is only the listing."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from archives import write_archive

ENV = cdk.Environment(account="111122223333", region="us-east-1")



@pytest.fixture(scope="session")
def archives(tmp_path_factory):
    """tfs: comment-only requirements (installs nothing); torchserve_pip: a pinned package installed at start;
    tfs_vendored: packages listed but vendored in code/lib."""
    folder = tmp_path_factory.mktemp("archives")
    return {
        "tfs": write_archive(folder / "tfs.tar.gz", {
            "m/1/saved_model.pb": b"pb", "code/inference.py": b"", "code/requirements.txt": b"# nothing\n"}),
        "torchserve_pip": write_archive(folder / "ts.tar.gz", {
            "model.pt": b"pt", "code/inference.py": b"", "code/requirements.txt": b"transformers==4.57.6\n"}),
        "tfs_vendored": write_archive(folder / "tfs-lib.tar.gz", {
            "m/1/saved_model.pb": b"pb", "code/requirements.txt": b"pillow==11.0.0\n",
            "code/lib/PIL/__init__.py": b""}),
        "tfs_pip": write_archive(folder / "tfs-pip.tar.gz", {
            "m/1/saved_model.pb": b"pb", "code/requirements.txt": b"pillow==11.0.0\n"}),
        "triton": write_archive(folder / "triton.tar.gz", {"m/config.pbtxt": b"", "m/1/model.pt": b"pt"}),
    }


@pytest.fixture
def stack():
    return cdk.Stack(cdk.App(), "Svc", env=ENV)
