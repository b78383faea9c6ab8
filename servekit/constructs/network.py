"""An endpoint's containers in a VPC: the security group (created when none is given), the Model's
VpcConfig, and the ENI permissions SageMaker needs in the execution role."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

# SageMaker creates an ENI per instance in the given subnets with the execution role
# (https://docs.aws.amazon.com/sagemaker/latest/dg/host-vpc.html). The Describe* actions support no
# resource-level permission; the others are limited to ENIs, and to this endpoint's subnets and groups.
DESCRIBE_ACTIONS = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"]
ENI_ACTIONS = ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
               "ec2:DeleteNetworkInterfacePermission"]


class EndpointNetwork(Construct):
    """The subnets and security groups of an endpoint's containers; `connections` opens ports to them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        subnets: Sequence[ec2.ISubnet],
        security_groups: Sequence[ec2.ISecurityGroup] = (),
        vpc: ec2.IVpc | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not subnets:
            raise ValueError(f"{self.node.path}: a VPC endpoint needs subnets; pass vpc_subnets")
        groups = list(security_groups)
        if not groups:
            if vpc is None:
                raise ValueError(f"{self.node.path}: without security_groups servekit creates one and needs the vpc; "
                                 "pass vpc or security_groups")
            groups = [ec2.SecurityGroup(
                self, "SecurityGroup", vpc=vpc, allow_all_outbound=True,
                description=f"SageMaker endpoint containers of {scope.node.path}",
            )]
        self.subnets = list(subnets)
        self.security_groups = groups
        self.connections = ec2.Connections(security_groups=groups)

    def vpc_config(self) -> sagemaker.CfnModel.VpcConfigProperty:
        return sagemaker.CfnModel.VpcConfigProperty(
            subnets=[s.subnet_id for s in self.subnets],
            security_group_ids=[g.security_group_id for g in self.security_groups],
        )

    def grant(self, policy: iam.ManagedPolicy) -> None:
        stack = cdk.Stack.of(self)
        eni = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
        policy.add_statements(
            iam.PolicyStatement(actions=DESCRIBE_ACTIONS, resources=["*"]),
            iam.PolicyStatement(
                actions=["ec2:CreateNetworkInterface"],
                resources=[eni,
                           *(stack.format_arn(service="ec2", resource="subnet", resource_name=s.subnet_id)
                             for s in self.subnets),
                           *(stack.format_arn(service="ec2", resource="security-group",
                                              resource_name=g.security_group_id) for g in self.security_groups)],
            ),
            iam.PolicyStatement(actions=ENI_ACTIONS, resources=[eni]),
        )
