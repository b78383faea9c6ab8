"""The registry: every server answers what the rest of servekit asks of it, so a new server is its package plus
one entry point (servekit.registry). These tests hold each registered server to that contract."""

from __future__ import annotations

import importlib
import typing

import pytest

from servekit import registry
from servekit.spec.endpoint import EndpointBase

MODULES = ("schema", "construct", "build", "check", "local", "payloads")


@pytest.mark.parametrize("server", registry.all(), ids=registry.names())
def test_when_a_server_is_registered_then_its_package_has_every_part(server):
    for part in MODULES:
        importlib.import_module(f"{type(server).__module__}.{part}")
    assert callable(server._module("build").plan)
    assert callable(server._module("check").layout_problems) and callable(server._module("check").wraps)
    assert callable(server._module("local").start) and callable(server._module("payloads").payloads)


@pytest.mark.parametrize("server", registry.all(), ids=registry.names())
def test_when_a_server_is_registered_then_its_schema_is_tagged_with_its_name(server):
    assert issubclass(server.spec, EndpointBase)
    assert typing.get_args(server.spec.model_fields["server"].annotation) == (server.name,)


@pytest.mark.parametrize("server", registry.all(), ids=registry.names())
def test_when_a_server_is_registered_then_its_construct_is_exported_by_name(server):
    from servekit import cdk

    cls = server.construct()
    assert getattr(cdk, server.construct_class) is cls
    assert cls.server == server.name and callable(cls.variant)


@pytest.mark.parametrize("server", registry.all(), ids=registry.names())
def test_when_a_server_is_registered_then_the_docs_list_its_keys(server):
    from servekit import docgen

    headings = [title for title, _ in docgen.SECTIONS]
    assert f"endpoints[] (server: {server.name})" in headings
    assert all(title in headings for title, _ in server.doc_sections())


def test_when_an_unknown_server_is_asked_for_then_the_known_ones_are_named():
    with pytest.raises(ValueError, match=r"server 'onnxruntime' is not one of tfs, torchserve, triton; use one of them"):
        registry.get("onnxruntime")
