"""Uncompressed model data (ModelDataSource.S3DataSource with CompressionType None): what SageMaker makes of an S3
prefix, and what carrying a servekit-built layout there costs.

Sources:
- AWS API reference, S3ModelDataSource (sagemaker/latest/APIReference/API_S3ModelDataSource.html), read here:
  with CompressionType None and S3DataType S3Prefix, "for each S3 object under the key name prefix ... SageMaker
  will trim its key by the prefix, and use the remainder as the path (relative to /opt/ml/model)"; a valid prefix
  "always ends with a forward slash (/)"; no file or folder name may be empty, ".", "..", hold a null byte or be
  longer than 255 bytes; a file whose path is also a folder's prefix (weights and weights/part1) fails the
  deployment. S3 has no folders, so an empty folder of the layout does not reach /opt/ml/model (inferred).
- AWS, "Deploying uncompressed models" (sagemaker/latest/dg/large-model-inference-uncompressed.html): "only
  artifacts associated with your ML model" under the prefix; the page recommends it for large models because a
  tar.gz is compressed at build and decompressed at every instance start.
- aws-cdk-lib 2.275.0, custom-resource-handlers/dist/aws-s3-deployment/bucket-deployment-handler/index.py, read
  here: BucketDeployment's function copies the asset's zip into its working folder (/tmp unless EFS is mounted)
  and extracts it beside the zip, then `aws s3 sync`s the folder, so /tmp holds the zip and its contents; on an
  update whose destination changed it first removes the old destination unless retain_on_delete is set.
- The CDK CLI (aws-cdk 2.1148.1, node_modules/aws-cdk/lib/index.js, writeZipFile, read here) zips a directory asset at
  publish with yazl, reading each file whole with fs.promises.readFile; Node refuses a file over 2 GiB there
  (ERR_FS_FILE_TOO_LARGE, "File size ... is greater than 2 GiB": observed here with Node 20.20.2), so `cdk deploy`
  of a layout holding such a file fails at publishing. Each file is also held in memory while it is deflated.
- AWS Lambda quotas (lambda/latest/dg/gettingstarted-limits.html): ephemeral storage 512 MB to 10,240 MB, timeout
  at most 900 s (remembered, not re-read here: unconfirmed).
"""

from __future__ import annotations

from servekit.facts.source import Source

S3_MODEL_DATA_SOURCE = Source("AWS sagemaker/latest/APIReference/API_S3ModelDataSource.html")
BUCKET_DEPLOYMENT = Source("aws-cdk-lib custom-resource-handlers/dist/aws-s3-deployment/"
                           "bucket-deployment-handler/index.py")
LAMBDA_QUOTAS = Source("AWS lambda/latest/dg/gettingstarted-limits.html", False)

MAX_NAME_BYTES = 255  # one file or folder name of the layout (S3_MODEL_DATA_SOURCE)
REFUSED_NAMES = frozenset({"", ".", ".."})  # (S3_MODEL_DATA_SOURCE)

LAMBDA_MAX_EPHEMERAL_MIB = 10_240  # (LAMBDA_QUOTAS)
LAMBDA_MIN_EPHEMERAL_MIB = 512  # (LAMBDA_QUOTAS)
# The function holds the zip and what it extracts (BUCKET_DEPLOYMENT); a zip of weights is about their size.
DEPLOY_COPIES = 2
DEPLOY_MARGIN_MIB = 256  # the AWS CLI's own files and temporary parts of the sync: servekit's margin
# More memory gives a Lambda function more CPU, and the sync of a multi-GB layout is CPU-bound in the AWS CLI.
DEPLOY_MEMORY_MIB = 1024

CDK_ZIP_MAX_FILE_BYTES = 2**31 - 1  # the largest file the CLI's zip of a directory asset reads (CDK_ZIP)
CDK_ZIP = Source("aws-cdk CLI lib/index.js writeZipFile (fs.promises.readFile per file); Node ERR_FS_FILE_TOO_LARGE")

KEY_PREFIX = "models/"  # where servekit deploys built layouts in its data bucket: models/<asset hash>/
