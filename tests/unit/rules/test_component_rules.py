"""The rules of a fleet's own keys that hold for any server: a component's metrics endpoint (scraped with detailed
observability only, and never a DLC's) and the fleet's data capture (said to be unconfirmed)."""

from __future__ import annotations

from servekit import registry
from servekit.rules.components import capture_problems, metrics_endpoint_problems
from servekit.servers.base import Server


class OwnImage(Server):
    """A server with its own image, as a plug-in has."""

    name = "own"

    def image_uri(self, version: str, region: str, instance_type: str | None) -> str:
        return f"123456789012.dkr.ecr.{region}.amazonaws.com/own:{version}"


def test_when_a_server_keeps_the_dlc_image_then_sagemaker_finds_its_metrics_and_a_server_with_its_own_does_not():
    assert [registry.get(n).metrics_found_by_sagemaker for n in ("tfs", "torchserve", "triton")] == [True] * 3
    assert not OwnImage.__new__(OwnImage).metrics_found_by_sagemaker


def test_when_a_server_with_its_own_image_names_a_metrics_endpoint_then_only_detailed_observability_is_asked():
    assert metrics_endpoint_problems("components[0] (a)", False, True) == []
    (problem,) = metrics_endpoint_problems("components[0] (a)", False, False)
    assert str(problem) == ("components[0] (a).metrics_endpoint: SageMaker scrapes it only with detailed observability; "
                            "set observability.detailed: true on the component endpoint, or remove it")


def test_when_one_component_is_captured_then_the_warning_says_unconfirmed_but_not_mixed():
    (problem,) = capture_problems(["a"], True)
    assert problem.severity == "warning" and "unconfirmed" in problem.fix and "share the variant" not in problem.fix
    assert capture_problems(["a", "b"], False) == []
