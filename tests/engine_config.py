"""The Pulumi CLI's own stack-config rules, ported to Python so the tests can apply them.

`pulumi preview`/`up` load `Pulumi.yaml` and `Pulumi.<stack>.yaml`, merge the project's `config:` block
into the stack and validate the result BEFORE the program starts; the program then receives every value
as a string (arrays and maps as JSON) plus the list of secret keys. Pulumi mocks skip all of it, so a
stack the CLI refuses can pass every mocked test. This module is our port of those rules, read from
pulumi/pulumi at commit 1b5949891b3cefcb9974752b24a5ecef0acc86c8 (2026-08-21) and from gopkg.in/yaml.v3
(go-yaml/yaml v3 at f6f7691b); each function names the Go function it ports. Pure: no Pulumi, no I/O
beyond what the caller passes in.

Not ported (the functions raise `NotPorted` rather than guess): ESC environments (`toConfigMap`),
YAML timestamps, `Value.Merge` of environment values, real encryption. A secure value's "ciphertext"
here IS its plaintext, as with the CLI's `NopDecrypter`: tests write `{"secure": "<plaintext>"}`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml


class EngineConfigError(Exception):
    """What the CLI prints when it refuses a project or stack (the Go error text)."""


class NotPorted(Exception):
    """A construct this port does not model; the caller should not rely on a guess."""


# ---------------------------------------------------------------------------------------------
# gopkg.in/yaml.v3 decoding into `any` (resolve.go `resolve`, decode.go `scalar`)
# ---------------------------------------------------------------------------------------------

_YAML_STYLE_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?$")
_RESOLVE_MAP: dict[str, Any] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}


def _go_parse_int(text: str, base: int = 0) -> int | None:
    """strconv.ParseInt (then ParseUint): base 0 reads 0x/0o/0b prefixes and a leading 0 as octal."""
    sign, body = ("", text) if text[:1] not in ("+", "-") else (text[0], text[1:])
    if base == 0:
        prefix = body[:2].lower()
        if prefix in ("0x", "0o", "0b"):
            base, body = {"0x": 16, "0o": 8, "0b": 2}[prefix], body[2:]
        elif len(body) > 1 and body[0] == "0":
            base, body = 8, body[1:]
        else:
            base = 10
    if not body or any(c not in "0123456789abcdef"[:base] for c in body.lower()):
        return None
    value = int(sign + body, base)
    return value if -(2**63) <= value < (2**63 if sign else 2**64) else None


def go_yaml_resolve(plain: str) -> Any:
    """resolve.go `resolve` for an untagged plain scalar (YAML 1.2 booleans: `yes`/`on` stay strings)."""
    if plain in _RESOLVE_MAP:
        return _RESOLVE_MAP[plain]
    hint = plain[:1]
    if hint == ".":
        try:
            return float(plain)
        except ValueError:
            return plain
    if hint and (hint.isdigit() or hint in "+-"):
        if _TIMESTAMP.match(plain):
            raise NotPorted(f"YAML timestamp {plain!r} (yaml.v3 decodes it as time.Time)")
        stripped = plain.replace("_", "")
        number = _go_parse_int(stripped)
        if number is not None:
            return number
        if _YAML_STYLE_FLOAT.match(stripped):
            return float(stripped)
        for prefix, base in (("0b", 2), ("-0b", 2), ("0o", 8), ("-0o", 8)):
            if stripped.startswith(prefix):
                number = _go_parse_int(("-" if prefix[0] == "-" else "") + stripped[len(prefix):], base)
                if number is not None:
                    return number
    return plain


class _GoYamlLoader(yaml.SafeLoader):
    """PyYAML's parser with yaml.v3's scalar resolution instead of YAML 1.1's."""

    yaml_implicit_resolvers: dict = {}

    def construct_undefined(self, node):  # pragma: no cover - custom tags are not used here
        raise NotPorted(f"YAML tag {node.tag}")


def _construct_plain(loader: _GoYamlLoader, node: yaml.ScalarNode) -> Any:
    if node.style:  # quoted or block scalar: indicatedString()
        return node.value
    return go_yaml_resolve(node.value)


_GoYamlLoader.add_constructor("tag:yaml.org,2002:str", _construct_plain)


def go_yaml_load(text: str) -> Any:
    """yaml.Unmarshal(data, &any) as gopkg.in/yaml.v3 does it."""
    return yaml.load(text, Loader=_GoYamlLoader)  # noqa: S506 - a SafeLoader subclass


# ---------------------------------------------------------------------------------------------
# encoding/json.Marshal (compact, map keys sorted, <>& escaped, Go's float format)
# ---------------------------------------------------------------------------------------------

def _go_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise EngineConfigError(f"json: unsupported value: {value}")
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def go_json(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if isinstance(value, Ciphertext):
        return go_json({"secure": value.text})
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{go_json(str(k))}:{go_json(value[k])}" for k in sorted(value)) + "}"
    raise NotPorted(f"JSON of {type(value).__name__}")


# ---------------------------------------------------------------------------------------------
# config.Value and its `object` (sdk/go/common/resource/config/value.go, object.go)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ciphertext:
    """config.CiphertextSecret (here the ciphertext is the plaintext)."""

    text: str


@dataclass(frozen=True)
class Value:
    """config.Value: its text, and whether it is secure and/or an object (JSON text)."""

    text: str
    secure: bool = False
    object: bool = False
    typ: str = ""  # config.Type: "" (TypeUnknown), "string", "int", "bool", "float"


def unmarshal_object(raw: Any) -> Any:
    """object.go `unmarshalObject`: a YAML/JSON value as an object tree (Ciphertext for {secure: x})."""
    if isinstance(raw, (bool, int, float, str)) or raw is None:
        return raw
    if isinstance(raw, Mapping):
        if len(raw) == 1 and isinstance(raw.get("secure"), str):
            return Ciphertext(raw["secure"])
        return {str(k): unmarshal_object(v) for k, v in raw.items()}
    if isinstance(raw, (list, tuple)):
        return [unmarshal_object(v) for v in raw]
    raise NotPorted(f"config value of type {type(raw).__name__}")


def object_secure(obj: Any) -> bool:
    """object.go `object.Secure`."""
    if isinstance(obj, Ciphertext):
        return True
    if isinstance(obj, list):
        return any(object_secure(v) for v in obj)
    if isinstance(obj, dict):
        return any(object_secure(v) for v in obj.values())
    return False


def marshal_string(obj: Any) -> Value:
    """object.go `object.MarshalString` (via `marshalValue`)."""
    if isinstance(obj, (bool, int, float)):
        return Value(go_json(obj))
    if isinstance(obj, str):
        return Value(obj)
    if isinstance(obj, Ciphertext):
        return Value(obj.text, secure=True)
    if obj is None:  # object{} with a nil value: json.Marshal(nil)
        return Value("null", object=True)
    return Value(go_json(obj), secure=object_secure(obj), object=True)


def value_from_yaml(raw: Any) -> Value:
    """value.go `Value.UnmarshalYAML`: scalars keep their text, `{secure: x}` is secure, the rest JSON."""
    if raw is None:  # loaders.go checkForEmptyConfig: "currently treated as an empty string"
        return Value("")
    return marshal_string(unmarshal_object(raw))


def value_object(value: Value) -> Any:
    """value.go `Value.unmarshalObject`."""
    if value.secure or value.object or not value.typ:
        if not value.object:
            return Ciphertext(value.text) if value.secure else value.text
        return unmarshal_object(json.loads(value.text))
    if value.typ == "string":
        return value.text
    if value.typ == "int":
        return int(value.text)
    if value.typ == "bool":
        return value.text.lower() in ("1", "t", "true")
    return float(value.text)


def coerce(text: str) -> tuple[Any, bool]:
    """object.go `coerce`: "true"/"false" and base-10 integers without a leading 0."""
    if text in ("true", "false"):
        return text == "true", True
    if len(text) > 1 and text[0] == "0":
        return None, False
    if re.fullmatch(r"[-+]?[0-9]+", text) and -(2**63) <= int(text) < 2**64:
        return int(text), True
    return None, False


def coerce_object(value: Value) -> Any:
    """value.go `Value.coerceObject`."""
    if value.secure or value.object or value.typ:
        return value_object(value)
    coerced, ok = coerce(value.text)
    return coerced if ok else value_object(value)


def _plaintext(obj: Any) -> Any:
    if isinstance(obj, Ciphertext):
        return obj.text
    if isinstance(obj, list):
        return [_plaintext(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plaintext(v) for k, v in obj.items()}
    return obj


def decrypted_text(value: Value) -> str:
    """value.go `Value.Value(decrypter)` -> plaintext.go `Plaintext.marshalText`."""
    plain = _plaintext(value_object(value))
    return plain if isinstance(plain, str) else go_json(plain)


# ---------------------------------------------------------------------------------------------
# The project: workspace/loaders.go `LoadProjectBytes`, project.go
# ---------------------------------------------------------------------------------------------

SIMPLE_CONFIG_TYPES = ("string", "integer", "boolean", "array", "object")  # project.json simpleConfigType


@dataclass(frozen=True)
class ConfigType:
    """project.go `ProjectConfigType`; has_default/has_value stand for Go's `Default != nil`/`Value != nil`."""

    type: str | None = None
    items: Mapping | None = None
    description: str = ""
    default: Any = None
    value: Any = None
    secret: bool = False
    has_default: bool = False
    has_value: bool = False


@dataclass(frozen=True)
class Project:
    name: str
    config: Mapping[str, ConfigType] = field(default_factory=dict)


def _is_primitive(value: Any) -> bool:
    """project.go / config.go `isPrimitiveValue`: string, int, bool (not float)."""
    return isinstance(value, (str, bool, int)) and not isinstance(value, float)


def validate_project_schema(raw: Any) -> None:
    """project.go `ValidateProject`: the `name` rule and project.json's `config` schema (not the rest)."""
    if not isinstance(raw, Mapping):
        raise EngineConfigError(f"expected project to be an object, was '{type(raw).__name__}'")
    if "name" not in raw:
        raise EngineConfigError("project is missing a 'name' attribute")
    if not isinstance(raw["name"], str) or not raw["name"]:
        raise EngineConfigError("project is missing a non-empty string 'name' attribute")
    config = raw.get("config")
    if config is None or isinstance(config, str):
        return
    if not isinstance(config, Mapping):
        raise EngineConfigError("#/config: expected object, string or null")
    for key, entry in config.items():
        where = f"#/config/{key}"
        if isinstance(entry, (str, bool, int, list)) and not isinstance(entry, float):
            continue  # the string/integer/boolean/array shorthand of the oneOf
        if not isinstance(entry, Mapping):
            raise EngineConfigError(f"{where}: oneOf failed: a {type(entry).__name__} is none of "
                                    "string, integer, boolean, array or a config type declaration")
        unknown = set(entry) - {"type", "items", "description", "secret", "default", "value"}
        if unknown:
            raise EngineConfigError(f"{where}: additionalProperties {sorted(unknown)} not allowed")
        if "type" in entry and entry["type"] not in SIMPLE_CONFIG_TYPES:
            raise EngineConfigError(f"{where}/type: value must be one of {SIMPLE_CONFIG_TYPES}")
        if "secret" in entry and not isinstance(entry["secret"], bool):
            raise EngineConfigError(f"{where}/secret: expected boolean")
        if "description" in entry and not isinstance(entry["description"], str):
            raise EngineConfigError(f"{where}/description: expected string")
        items = entry.get("items")
        while items is not None:
            if not isinstance(items, Mapping) or "type" not in items:
                raise EngineConfigError(f"{where}/items: missing properties: 'type'")
            if items["type"] == "array" and "items" not in items:
                raise EngineConfigError(f"{where}/items: missing properties: 'items'")
            items = items.get("items")


def rewrite_shorthand_config_values(project: dict) -> dict:
    """project.go `RewriteShorthandConfigValues`: `key: v` is a default (project keys) or a value."""
    config = project.get("config")
    if not isinstance(config, dict):
        return project
    for key, value in list(config.items()):
        if _is_primitive(value) or isinstance(value, list):
            config[key] = {"default": value} if config_key_is_namespaced_by_project(project["name"], key) else {"value": value}
    return project


def config_key_is_namespaced_by_project(project_name: str, key: str) -> bool:
    """project.go `configKeyIsNamespacedByProject`."""
    return ":" not in key or key.startswith(project_name + ":")


def infer_full_type_name(type_name: str, items: Mapping | None) -> str:
    """project.go `InferFullTypeName`."""
    if items is not None:
        return f"array<{infer_full_type_name(items.get('type', ''), items.get('items'))}>"
    return type_name


def validate_config_value(type_name: str, items: Mapping | None, value: Any) -> bool:
    """project.go `ValidateConfigValue`."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return True
        if isinstance(value, float) and value == math.trunc(value):
            return True
        if isinstance(value, str):  # strconv.Atoi
            return re.fullmatch(r"[-+]?[0-9]+", value) is not None and -(2**63) <= int(value) < 2**63
        return False
    if type_name == "boolean":
        return value in ("true", "false") if isinstance(value, str) else isinstance(value, bool)
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(validate_config_value(items.get("type", ""), items.get("items"), item) for item in value)


def project_validate(project: Project) -> None:
    """project.go `Project.Validate`."""
    for key, declared in project.config.items():
        if declared.has_default and declared.has_value:
            raise EngineConfigError(f"project config '{key}' cannot have both a 'default' and 'value' attribute")
        if config_key_is_namespaced_by_project(project.name, key):
            if declared.type == "array" and declared.items is None:
                raise EngineConfigError(f"The configuration key '{key}' declares an array but does not specify "
                                        "the underlying type via the 'items' attribute")
            if declared.type is not None and declared.has_default and not validate_config_value(
                    declared.type, declared.items, declared.default):
                raise EngineConfigError(f"The default value specified for configuration key '{key}' is not of the "
                                        f"expected type '{infer_full_type_name(declared.type, declared.items)}'")
        else:
            if declared.type is not None:
                raise EngineConfigError(f"Configuration key '{key}' is not namespaced by the project and should "
                                        "not define a type")
            if declared.has_default:
                raise EngineConfigError(f"Configuration key '{key}' is not namespaced by the project and should "
                                        "not define a default value. Did you mean to use the 'value' attribute "
                                        "instead of 'default'?")
            if not declared.has_value:
                raise EngineConfigError(f"Configuration key '{key}' is namespaced and must provide an attribute 'value'")


def load_project(text: str) -> Project:
    """loaders.go `LoadProjectBytes`: ValidateProject, RewriteShorthandConfigValues, Project.Validate."""
    raw = go_yaml_load(text)
    validate_project_schema(raw)
    config = raw.get("config")
    # A string `config:` is the old spelling of stackConfigDir (RewriteConfigPathIntoStackConfigDir).
    raw = rewrite_shorthand_config_values(dict(raw, config=dict(config) if isinstance(config, Mapping) else {}))
    declared = {}
    for key, entry in raw["config"].items():
        # `default: null` unmarshals to a nil `any`: the same as no default (Default != nil checks).
        declared[key] = ConfigType(
            type=entry.get("type"), items=entry.get("items"), description=entry.get("description", ""),
            default=entry.get("default"), value=entry.get("value"), secret=bool(entry.get("secret", False)),
            has_default=entry.get("default") is not None, has_value=entry.get("value") is not None,
        )
    project = Project(raw["name"], declared)
    project_validate(project)
    return project


# ---------------------------------------------------------------------------------------------
# The stack file: loaders.go `LoadProjectStackBytes`, config/key.go `ParseKey`
# ---------------------------------------------------------------------------------------------

def parse_key(text: str) -> tuple[str, str]:
    """config/key.go `ParseKey` (the `<ns>:config:<name>` compat form is not ported)."""
    if text.count(":") != 1:
        if text.count(":") == 2:
            raise NotPorted(f"compat config key {text!r}")
        raise EngineConfigError(f"could not parse {text} as a configuration key "
                                "(configuration keys should be of the form `<namespace>:<name>`)")
    return tuple(text.split(":", 1))  # type: ignore[return-value]


def namespaced(project_name: str, key: str) -> str:
    """loaders.go `stackConfigNamespacedWithProject` / config.go `parseConfigKey`."""
    return key if ":" in key else f"{project_name}:{key}"


def load_stack(text: str, project_name: str) -> dict[str, Value]:
    """loaders.go `LoadProjectStackBytes`: the stack's config as config.Values by full key."""
    raw = go_yaml_load(text) or {}
    config = raw.get("config") or {}
    if not isinstance(config, Mapping):
        raise EngineConfigError("config: expected a map")
    result = {}
    for key, value in config.items():
        full = namespaced(project_name, str(key))
        parse_key(full)
        result[full] = value_from_yaml(value)
    return result


def stack_from_values(values: Mapping[str, Any], project_name: str) -> dict[str, Value]:
    """A stack file's config given as already-parsed YAML values (what tests write)."""
    return {namespaced(project_name, k): value_from_yaml(v) for k, v in values.items()}


# ---------------------------------------------------------------------------------------------
# The merge and validation: pkg/workspace/config.go
# ---------------------------------------------------------------------------------------------

def create_config_value(raw: Any) -> Value:
    """config.go `createConfigValue`: primitives as fmt "%v" text, the rest as JSON objects."""
    if _is_primitive(raw):
        return Value(("true" if raw else "false") if isinstance(raw, bool) else str(raw))
    return Value(go_json(raw), object=True)


def _format_missing_keys(keys: list[str]) -> str:
    """config.go `formatMissingKeys`."""
    if len(keys) == 1:
        return f"'{keys[0]}'"
    keys = sorted(keys)
    return ", ".join(f"'{k}'" for k in keys[:-2]) + (", " if len(keys) > 2 else "") + \
        f"'{keys[-2]}' and '{keys[-1]}'"


def validate_stack_config_value(stack_name: str, key: str, declared: ConfigType, value: Value) -> None:
    """config.go `validateStackConfigValue`."""
    if declared.secret and not value.secure:
        raise EngineConfigError(f"Stack '{stack_name}' with configuration key '{key}' must be encrypted as it's secret")
    text = decrypted_text(value)
    content: Any = json.loads(text) if value.object else text
    if not validate_config_value(declared.type or "", declared.items, content):
        raise EngineConfigError(f"Stack '{stack_name}' with configuration key '{key}' must be of type "
                                f"'{infer_full_type_name(declared.type or '', declared.items)}'")


def stack_config_value_errors(stack_name: str, project: Project,
                              config: Mapping[str, Value]) -> list[tuple[str, EngineConfigError]]:
    """Every (key, error) `validateStackConfigValues` meets in key order; the CLI stops at the first."""
    errors = []
    for key in sorted(project.config):
        declared = project.config[key]
        full = namespaced(project.name, key)
        if declared.type is not None:  # a key missing here validates as the zero Value, as in Go
            try:
                validate_stack_config_value(stack_name, key, declared, config.get(full, Value("")))
            except EngineConfigError as error:
                errors.append((key, error))
    return errors


def validate_stack_config_values(stack_name: str, project: Project, config: Mapping[str, Value]) -> None:
    """config.go `validateStackConfigValues`: explicitly typed declarations only, in key order."""
    errors = stack_config_value_errors(stack_name, project, config)
    if errors:
        raise errors[0][1]


def merge_with_missing(project: Project, stack_config: Mapping[str, Value]) -> tuple[dict[str, Value], list[str]]:
    """config.go `mergeConfig`'s merge: the stack's config with the project's defaults/values in, and
    the project's keys that have neither (the stack's own map is not modified)."""
    merged = dict(stack_config)
    missing = []
    for key in sorted(project.config):
        declared = project.config[key]
        full = namespaced(project.name, key)
        if full in merged:
            continue
        if not declared.has_value and not declared.has_default and parse_key(full)[0] == project.name:
            missing.append(key)
            continue
        if declared.has_value or declared.has_default:
            merged[full] = create_config_value(declared.default if declared.has_default else declared.value)
    return merged, missing


def merge_config(stack_name: str, project: Project, stack_config: Mapping[str, Value],
                 *, validate: bool = True) -> dict[str, Value]:
    """config.go `mergeConfig` (no ESC environment): project defaults/values in, then validation.

    Returns the merged config (the stack's own map is not modified).
    """
    merged, missing = merge_with_missing(project, stack_config)
    if validate and missing:
        raise EngineConfigError(missing_keys_message(stack_name, missing))
    if validate:
        validate_stack_config_values(stack_name, project, merged)
    return merged


def missing_keys_message(stack_name: str, missing: list[str]) -> str:
    return (f"Stack '{stack_name}' is missing configuration value{'s' if len(missing) > 1 else ''} "
            f"{_format_missing_keys(missing)}")


def program_config(config: Mapping[str, Value]) -> tuple[dict[str, str], list[str]]:
    """What the program receives: config/map.go `Map.Decrypt` and `Map.SecureKeys`."""
    return ({key: decrypted_text(value) for key, value in config.items()},
            sorted(key for key, value in config.items() if value.secure))


# ---------------------------------------------------------------------------------------------
# `pulumi config set`: pkg/cmd/pulumi/config (configSetCmd.Run, parseConfigKey), config/map.go `Map.Set`
# ---------------------------------------------------------------------------------------------

def parse_property_path(path: str) -> list[str | int]:
    """resource/properties_path.go `parsePropertyPath` (strict)."""
    if path.startswith("."):
        raise EngineConfigError("expected property path to start with a name or index")
    elements: list[str | int] = []
    while path:
        if path[0] == ".":
            path = path[1:]
            if not path:
                raise EngineConfigError("expected property path to end with a name or index")
            if path[0] == "[":
                raise EngineConfigError("expected property name after '.'")
        elif path[0] == "[":
            if len(path) > 1 and path[1] == '"':
                name, i = [], 2
                while True:
                    if i >= len(path):
                        raise EngineConfigError("missing closing quote in property name")
                    if path[i] == '"':
                        i += 1
                        break
                    if path[i] == "\\" and i + 1 < len(path) and path[i + 1] == '"':
                        name.append('"')
                        i += 2
                    else:
                        name.append(path[i])
                        i += 1
                if i >= len(path) or path[i] != "]":
                    raise EngineConfigError("missing closing bracket in property access")
                elements.append("".join(name))
                path = path[i + 1:]
            else:
                end = path.find("]")
                if end == -1:
                    raise EngineConfigError("missing closing bracket in array index")
                segment = path[1:end]
                if segment == "*":
                    raise NotPorted("wildcard in a config path")
                if not re.fullmatch(r"[-+]?[0-9]+", segment):
                    raise EngineConfigError(f'invalid array index: strconv.ParseInt: parsing "{segment}": invalid syntax')
                elements.append(int(segment))
                path = path[end + 1:]
        else:
            end = min([i for i in (path.find("."), path.find("[")) if i != -1], default=len(path))
            elements.append(path[:end])
            path = path[end:]
    return elements


def parse_config_key(project_name: str, key: str, path: bool) -> str:
    """cmd/pulumi/config/io.go `parseConfigKey`."""
    if path:
        cut = min([i for i in (key.find("["), key.find(".")) if i != -1], default=-1)
        if cut > 0:
            namespace, name = parse_key(parse_config_key(project_name, key[:cut], False))
            return f"{namespace}:{name}{key[cut:]}"
    return namespaced(project_name, key) if ":" not in key else ":".join(parse_key(key))


def _object_set(container: Any, prefix: list, path: list, new: Any) -> Any:
    """object.go `object.Set`: returns the updated value."""
    if not path:
        return new
    if not isinstance(container, (list, dict)):
        if container is None or len(prefix) == 1:
            container = [None] * (path[0] + 1) if isinstance(path[0], int) else {}
        else:
            raise EngineConfigError(f"{prefix}: expected {'an array' if isinstance(path[0], int) else 'a map'}")
    head, prefix = path[0], [*prefix, path[0]]
    if isinstance(container, list):
        if not isinstance(head, int):
            raise EngineConfigError(f"{prefix}: key for an array must be an int")
        if head < 0 or head > len(container):
            raise EngineConfigError(f"{prefix}: array index out of range")
        container = list(container) + ([None] if head == len(container) else [])
        container[head] = _object_set(container[head], prefix, path[1:], new)
        return container
    if not isinstance(head, str):
        raise EngineConfigError(f"{prefix}: key for a map must be a string")
    if len(path) == 1 and not container and head == "secure" and isinstance(new, str):
        raise EngineConfigError('"secure" key in maps of length 1 are reserved')
    container = dict(container)
    container[head] = _object_set(container.get(head), prefix, path[1:], new)
    return container


def map_set(config: dict[str, Value], key: str, value: Value, path: bool) -> None:
    """config/map.go `Map.Set`."""
    if not path:
        config[key] = value
        return
    namespace, name = parse_key(key)
    elements = parse_property_path(name)
    if not elements or not isinstance(elements[0], str) or not elements[0]:
        raise EngineConfigError("first path segement of config key must be a string")
    root_key = f"{namespace}:{elements[0]}"
    new = coerce_object(value) if len(elements) > 1 or value.typ else None
    if len(elements) == 1:
        config[root_key] = value
        return
    root = value_object(config[root_key]) if root_key in config else None
    config[root_key] = marshal_string(_object_set(root, elements[:1], elements[1:], new))


def config_set(config: dict[str, Value], project_name: str, key: str, value: str, *,
               path: bool = False, secret: bool = False, type_: str = "") -> None:
    """`pulumi config set [--path] [--secret] [--type T] <key> <value>` (configSetCmd.Run) on a stack's map.

    The `looksLikeSecret` refusal of high-entropy plain values is not ported.
    """
    full = parse_config_key(project_name, key, path)
    if secret:
        new = Value(value, secure=True)
    else:
        typ = {"": "", "string": "string", "int": "int", "bool": "bool", "float": "float"}.get(type_)
        if typ is None:
            raise EngineConfigError(f'invalid type "{type_}"; must be one of string, int, bool, or float')
        new = Value(value, typ=typ)
    map_set(config, full, new, path)


def stack_yaml_values(config: Mapping[str, Value]) -> dict[str, Any]:
    """The config as the CLI writes it back to Pulumi.<stack>.yaml (value.go `MarshalYAML`)."""
    return {key: _yaml_object(value_object(value)) if value.object else
            ({"secure": value.text} if value.secure else value.text) for key, value in config.items()}


def _yaml_object(obj: Any) -> Any:
    """A secure value inside a map or list is written back as `{secure: <ciphertext>}` (object.go
    `object.MarshalYAML`, which returns `marshalObject()`)."""
    if isinstance(obj, Ciphertext):
        return {"secure": obj.text}
    if isinstance(obj, list):
        return [_yaml_object(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _yaml_object(v) for k, v in obj.items()}
    return obj
