"""Stack settings: the only package that reads Pulumi config.

It turns the stack's config (``Pulumi.<stack>.yaml`` over the defaults declared here and mirrored in
``Pulumi.yaml``) into one immutable, typed ``StackSettings`` object, and validates ALL of it before
``__main__`` registers a single resource. Every problem names the config key, the file the value came
from, the bad value (never a secret's value) and what is allowed; all problems are reported together.

The package: values.py (constants, value types), models.py (StackSettings, InstanceSettings,
INSTANCE_KEYS), problems.py (errors), rules.py (cross-field rules), loading.py (parse_settings,
load_settings), key_docs.py (KEY_DOCS). The names the program, scripts and tests import from the
package are re-exported here; the rest is imported from its module.
"""

from settings.key_docs import (  # noqa: F401 - re-exported
    KEY_DOCS,
)
from settings.loading import (  # noqa: F401 - re-exported
    load_settings,
    parse_settings,
    plaintext_secret_settings,
)
from settings.models import (  # noqa: F401 - re-exported
    DEFAULT_INSTANCE,
    FOREIGN_KEYS,
    INSTANCE_KEYS,
    SECRET_KEYS,
    Agent,
    StackSettings,
    config_key,
    instance_key,
)
from settings.problems import (  # noqa: F401 - re-exported
    ConfigError,
)
from settings.rules import (  # noqa: F401 - re-exported
    _placeholder_problems,
)
from settings.values import (  # noqa: F401 - re-exported
    HERMES_RELEASE,
    HERMES_UPSTREAM_IMAGE,
    PROJECT,
    SUPPORTED_KUBERNETES_VERSIONS,
    StorageSize,
)
