"""AlertTopic: the one SNS topic a stack's budgets and alarms notify, encrypted with a key the stack owns.

AWS Budgets and CloudWatch alarms publish as AWS services, so both the topic policy and the KMS key
policy must let exactly those two services in, and only on behalf of this account
(docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html;
docs.aws.amazon.com/sns/latest/dg/sns-key-management.html, "Enable compatibility between event sources
from AWS services and encrypted topics"). Email subscribers confirm by mail before they receive anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

PUBLISHERS = ("budgets.amazonaws.com", "cloudwatch.amazonaws.com")


@dataclass(frozen=True)
class AlertTopicArgs:
    emails: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()


def key_policy(account_id: str, partition: str) -> dict:
    """The account administers the key (the default key policy); the publishers may only use it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountAdministers", "Effect": "Allow",
             "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "ServicesPublishEncrypted", "Effect": "Allow",
             "Principal": {"Service": list(PUBLISHERS)},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}},
        ],
    }


def topic_policy(topic_arn: str, account_id: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ServicesPublish", "Effect": "Allow",
            "Principal": {"Service": list(PUBLISHERS)},
            "Action": "sns:Publish", "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }],
    }


class AlertTopic(pulumi.ComponentResource):
    topic: aws.sns.Topic
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hermes-eks:index:AlertTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        tags = dict(args.tags)
        key = aws.kms.Key(
            f"{name}-alerts",
            description="Encrypts the Hermes alert topic",
            enable_key_rotation=True,
            deletion_window_in_days=7,
            policy=pulumi.Output.all(account_id, partition).apply(lambda v: json.dumps(key_policy(v[0], v[1]))),
            tags=tags,
            opts=child,
        )
        self.topic = aws.sns.Topic(f"{name}-alerts", kms_master_key_id=key.arn, tags=tags, opts=child)
        self.arn = self.topic.arn
        aws.sns.TopicPolicy(
            f"{name}-alerts",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, account_id).apply(lambda v: json.dumps(topic_policy(v[0], v[1]))),
            opts=child,
        )
        for email in args.emails:
            aws.sns.TopicSubscription(f"{name}-alerts-{email}", topic=self.topic.arn, protocol="email",
                                      endpoint=email, opts=child)
        self.register_outputs({"arn": self.arn})
