"""`servekit invoke --deployed`: sagemaker-runtime InvokeEndpoint through botocore's Stubber (no AWS account,
no network), and the one-line errors a user gets instead of a traceback."""

from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from servekit import cli, codecs

CONFIG = str(Path(__file__).resolve().parents[2] / "servekit.yaml")  # the embedded default
QA_BODY = json.dumps({"question": "what is the capital of france?", "context": "paris is."}).encode()


@pytest.fixture
def runtime(monkeypatch):
    """A real sagemaker-runtime client (fake keys) behind a Stubber, handed out by boto3.client."""
    client = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
    ).client("sagemaker-runtime")
    calls: list[tuple[tuple, dict]] = []

    def fake_client(*args, **kwargs):
        calls.append((args, kwargs))
        return client

    monkeypatch.setattr(boto3, "client", fake_client)
    with Stubber(client) as stubber:
        yield stubber, calls
        stubber.assert_no_pending_responses()


def invoke(tmp_path, *extra: str, body: bytes = QA_BODY, endpoint: str = "question-answering") -> int:
    data = tmp_path / "request.bin"
    data.write_bytes(body)
    return cli.main(["invoke", endpoint, "--data", str(data), "--deployed", "--config", CONFIG, *extra])


def test_when_deployed_then_invoke_endpoint_gets_the_stack_endpoint_name_body_and_types(runtime, tmp_path, capsysbinary):
    stubber, calls = runtime
    answer = b'{"answer": "paris", "score": 0.9, "start": 0, "end": 5}'
    stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": "application/json"},
        expected_params={"EndpointName": "servekit-dev-question-answering", "Body": QA_BODY,
                         "ContentType": "application/json", "Accept": "application/json"},
    )
    assert invoke(tmp_path) == 0
    assert capsysbinary.readouterr().out == answer + b"\n"
    assert calls == [(("sagemaker-runtime",), {"region_name": "us-east-1"})]


def test_when_content_type_and_accept_are_given_then_they_are_sent_as_given(runtime, tmp_path, capsysbinary):
    stubber, _ = runtime
    body, ctype = codecs.encode_kserve_binary({"input__0": np.zeros((1, 3, 224, 224), np.float32)})
    stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(b"{}"), 2), "ContentType": "application/json"},
        expected_params={"EndpointName": "servekit-dev-resnet", "Body": body, "ContentType": ctype,
                         "Accept": "application/json"},
    )
    assert invoke(tmp_path, "--content-type", ctype, body=body, endpoint="resnet") == 0


def test_when_the_container_answers_an_error_then_one_line_with_its_status_and_exit_1(runtime, tmp_path, capsys):
    stubber, _ = runtime
    stubber.add_client_error(
        "invoke_endpoint", service_error_code="ModelError", http_status_code=424,
        service_message='Received client error (400) from primary with message "{"error": "empty body"}".',
        modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": '{"error": "missing key: context"}',
                        "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/x"},
    )
    assert invoke(tmp_path) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "servekit: endpoint servekit-dev-question-answering in us-east-1: ModelError:" in err
    assert "the model container answered 400" in err and "missing key: context" in err
    assert "log: arn:aws:logs:" in err


def test_when_the_endpoint_does_not_exist_then_the_services_message_in_one_line(runtime, tmp_path, capsys):
    stubber, _ = runtime
    stubber.add_client_error(
        "invoke_endpoint", service_error_code="ValidationError", http_status_code=400,
        service_message="Endpoint servekit-dev-question-answering of account 123456789012 not found.",
    )
    assert invoke(tmp_path) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "ValidationError: Endpoint servekit-dev-question-answering of account 123456789012 not found." in err


def test_when_there_are_no_credentials_then_one_line_saying_how_to_configure_them(monkeypatch, tmp_path, capsys):
    # A real client and a real call: botocore finds no credentials and fails while signing, before any network.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    assert invoke(tmp_path) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "no AWS credentials to call endpoint servekit-dev-question-answering in us-east-1" in err


@pytest.mark.parametrize(
    ("endpoint", "body", "content_type", "words"),
    [
        ("resnet", b"", "application/json", "empty body: Triton takes it as a raw input of zero bytes"),
        ("resnet", b'{"inputs": [', "application/json", "not a KServe request"),
        ("resnet", b"1,2,3", "text/csv", "reads every non-binary body as KServe JSON"),
        ("image-classifier", b"", "application/json", "empty body"),
        ("image-classifier", b"[[1.0", "application/json", "not valid JSON"),
        ("image-classifier", b"\x00", "application/octet-stream", "is not one of"),
        ("question-answering", b"x" * (6 * 1024 * 1024 + 1), "application/json", "over the 6291456 bytes"),
    ],
    ids=["triton-empty", "triton-invalid-json", "triton-csv", "tfs-empty", "tfs-invalid-json", "tfs-octet",
         "oversized"],
)
def test_when_the_server_would_not_answer_4xx_then_the_request_is_refused_before_aws_is_called(
    runtime, tmp_path, capsys, endpoint, body, content_type, words
):
    _, calls = runtime
    assert invoke(tmp_path, "--content-type", content_type, body=body, endpoint=endpoint) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"not sending this request to {endpoint}" in err and words in err
    assert calls == []


def test_when_data_file_is_missing_then_one_line_and_exit_2(tmp_path, capsys):
    assert cli.main(["invoke", "question-answering", "--data", str(tmp_path / "missing.json"), "--deployed",
                     "--config", CONFIG]) == 2
    assert "cannot read --data" in capsys.readouterr().err


def test_when_a_component_is_addressed_then_invoke_endpoint_names_the_fleet_and_the_component(
        runtime, tmp_path, capsysbinary, default_config_data):
    import yaml
    from component_fixtures import component_endpoint

    component_endpoint(default_config_data)
    config = tmp_path / "servekit.yaml"
    config.write_text(yaml.safe_dump(default_config_data))
    stubber, _ = runtime
    answer = b'{"answer": "paris"}'
    stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": "application/json"},
        expected_params={"EndpointName": "servekit-dev-gpu-fleet", "InferenceComponentName": "servekit-dev-gpu-fleet-qa",
                         "Body": QA_BODY, "ContentType": "application/json", "Accept": "application/json"},
    )
    data = tmp_path / "request.bin"
    data.write_bytes(QA_BODY)
    assert cli.main(["invoke", "gpu-fleet/qa", "--data", str(data), "--deployed", "--config", str(config)]) == 0
    assert capsysbinary.readouterr().out == answer + b"\n"


def test_when_an_unknown_component_is_addressed_then_the_choices_include_the_components(tmp_path, capsys,
                                                                                       default_config_data):
    import yaml
    from component_fixtures import component_endpoint

    component_endpoint(default_config_data)
    config = tmp_path / "servekit.yaml"
    config.write_text(yaml.safe_dump(default_config_data))
    data = tmp_path / "request.bin"
    data.write_bytes(QA_BODY)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["invoke", "gpu-fleet/nope", "--data", str(data), "--deployed", "--config", str(config)])
    assert exit_.value.code == 2
    assert "gpu-fleet/qa, gpu-fleet/resnet" in capsys.readouterr().err
