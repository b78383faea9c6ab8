"""The endpoint table `servekit synth` prints is read back from the templates, serverless ones included."""

import json

from servekit import synth_table


def write_template(folder, name, variant, server="torchserve"):
    template = {
        "Resources": {
            "M": {"Type": "AWS::SageMaker::Model", "Properties": {"PrimaryContainer": {
                "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312",
                "Environment": {"SAGEMAKER_TS_BATCH_SIZE": "4", "SAGEMAKER_TS_MAX_BATCH_DELAY": "20"}}}},
            "C": {"Type": "AWS::SageMaker::EndpointConfig", "Properties": {"ProductionVariants": [variant]}},
        },
        "Outputs": {"Server": {"Value": server}},
    }
    (folder / f"{name}.template.json").write_text(json.dumps(template))


def test_when_an_endpoint_is_serverless_then_the_table_shows_memory_and_concurrency(tmp_path):
    write_template(tmp_path, "app-dev-qa", {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}})
    (row,) = synth_table.endpoint_rows(tmp_path)
    assert row["instance"] == "serverless 2048 MB x5 concurrent"
    assert row["tuning"] == "batch=4 delay_ms=20"
    assert row["volume_key"] == "no (serverless)"


def test_when_an_endpoint_has_instances_then_the_table_shows_type_and_count(tmp_path):
    write_template(tmp_path, "app-dev-qa", {"InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 2})
    (row,) = synth_table.endpoint_rows(tmp_path)
    assert (row["stack"], row["server"], row["instance"]) == ("app-dev-qa", "torchserve", "ml.g5.xlarge x2")
    assert row["volume_key"] == "no (NVMe)"
