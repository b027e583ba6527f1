"""Stack settings: the only package that reads Pulumi config.

It turns the stack's config (``Pulumi.<stack>.yaml`` over the defaults declared here and mirrored in
``Pulumi.yaml``) into one immutable, typed ``StackSettings`` object, and validates ALL of it before
``__main__`` registers a single resource. Every problem names the config key, the file the value came
from, the bad value (never a secret's value) and what is allowed; all problems are reported together.

The package: values.py (constants, value types), models.py (StackSettings, InstanceSettings,
INSTANCE_KEYS), problems.py (errors), rules.py (cross-field rules), loading.py (parse_settings,
load_settings), key_docs.py (KEY_DOCS). Everything the program, scripts and tests import is here.
"""

from settings.key_docs import (  # noqa: F401 - re-exported
    KEY_DOCS,
)
from settings.loading import (  # noqa: F401 - re-exported
    load_settings,
    parse_settings,
    plaintext_messaging_paths,
)
from settings.models import (  # noqa: F401 - re-exported
    DEFAULT_INSTANCE,
    FOREIGN_KEYS,
    INSTANCE_KEYS,
    INSTANCE_NAME_MAX,
    SECRET_KEYS,
    Agent,
    InstanceSettings,
    StackSettings,
    config_key,
    instance_key,
)
from settings.problems import (  # noqa: F401 - re-exported
    ConfigError,
    Problem,
)
from settings.rules import (  # noqa: F401 - re-exported
    DOCUMENTATION_ACCOUNT,
    DOCUMENTATION_NETWORKS,
    LOCAL_ONLY_DOMAINS,
    RESERVED_DOMAINS,
    _placeholder_problems,
)
from settings.values import (  # noqa: F401 - re-exported
    AWS_REGION,
    BEDROCK_MODEL_ID,
    BEDROCK_MODEL_PROVIDERS,
    BEDROCK_PROFILE_GEOS,
    DNS_LABEL,
    DNS_SUBDOMAIN,
    HERMES_GIT_REPOSITORY,
    HERMES_RELEASE,
    HERMES_UPSTREAM_IMAGE,
    HOSTNAME,
    IMAGE_REFERENCE,
    INSTANCE_TYPE,
    PROJECT,
    SUPPORTED_KUBERNETES_VERSIONS,
    AddonVersion,
    BedrockModelId,
    Cidr,
    CostExplorerService,
    CpuQuantity,
    DnsLabel,
    EmailAddress,
    EnvFileSecret,
    HttpsUrl,
    IamPrincipalArn,
    ImageReference,
    InstanceType,
    KubernetesVersion,
    ListOf,
    MemoryQuantity,
    NoSpaces,
    ObjectName,
    OptionalCertificateArn,
    OptionalCpuQuantity,
    OptionalGitCommit,
    OptionalHostname,
    OptionalHttpsUrl,
    OptionalHttpUrl,
    OptionalRegion,
    StorageSize,
    StringMap,
    VpcCidr,
)
