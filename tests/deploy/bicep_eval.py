"""Evaluate the few Bicep expressions our templates use, on pycep's parse tree.

What Azure computes at deploy time (a resource's client id, a host name, listKeys()) comes from
`facts`, keyed by the expression as written ("identity.properties.clientId",
"webPubSub.listKeys().primaryConnectionString", "tenant().tenantId"). Everything else is
computed from the template: parameters (given, or their defaults), variables, `a ? b : c`, `==`,
`!`, union() and '${...}' interpolation.

pycep returns identifiers and string literals alike as plain strings: a string is read as a name
when it is a fact, a parameter or a variable, and as a literal otherwise. An unknown expression
raises KeyError, so a template change this does not cover fails loudly instead of passing.

app_settings() uses it to compute the Function App's settings as resources.bicep deploys them.
"""

from __future__ import annotations

import re
from typing import Any

INTERPOLATION = re.compile(r"\$\{([^}]*)\}")


class Scope:
    def __init__(self, doc: dict[str, Any], params: dict[str, Any], facts: dict[str, Any]):
        self.doc = doc
        self.facts = facts
        self.params = params

    def is_name(self, text: str) -> bool:
        known = (self.facts, self.params, self.doc["parameters"], self.doc["variables"])
        return any(text in names for names in known)

    def name(self, text: str) -> Any:
        """The value of an identifier or dotted name, or KeyError."""
        if text in self.facts:
            return self.facts[text]
        if text in self.params:
            return self.params[text]
        if "default" in self.doc["parameters"].get(text, {}):
            return self.eval(self.doc["parameters"][text]["default"])
        if text in self.doc["variables"]:
            return self.eval(self.doc["variables"][text]["value"])
        raise KeyError(f"no fact, parameter or variable {text!r}")

    def eval(self, node: Any) -> Any:
        if isinstance(node, str):
            if self.is_name(node):
                return self.name(node)
            return INTERPOLATION.sub(lambda m: str(self.name(m.group(1))), node)
        if isinstance(node, list):
            return [self.eval(item) for item in node]
        if not isinstance(node, dict):
            return node  # bool, int, None
        if "operator" in node:
            return self.operator(node["operator"])
        if "function" in node:
            return self.function(node["function"])
        return {key.strip("'"): self.eval(value) for key, value in node.items()}

    def operator(self, op: dict[str, Any]) -> Any:
        kind, args = op["type"], op["operands"]
        if kind == "conditional":
            branch = "true_value" if self.eval(args["condition"]) else "false_value"
            return self.eval(args[branch])
        if kind == "equals":
            return self.eval(args["operand_1"]) == self.eval(args["operand_2"])
        if kind == "not":
            return not self.eval(args["bool_value"])
        if kind in ("property_accessor", "function_accessor"):
            return self.name(dotted(op))
        raise KeyError(f"operator {kind!r}")

    def function(self, fn: dict[str, Any]) -> Any:
        if fn["type"] == "union":
            merged: dict[str, Any] = {}
            for arg in fn["parameters"].values():
                merged.update(self.eval(arg))
            return merged
        raise KeyError(f"function {fn['type']!r}")


def dotted(op: dict[str, Any]) -> str:
    """`a.b.c` or `a.f()` as written, from pycep's nested accessors."""
    args = op["operands"]
    if op["type"] == "function_accessor":
        return f"{args['operand_1']}.{args['func_name']}()"
    parts = []
    for key in ("operand_1", "operand_2"):
        part = args[key]
        parts.append(dotted(part["operator"]) if isinstance(part, dict) else part)
    return ".".join(parts)


# What Azure returns for the template's resources at deploy time (made-up values).
HOST = "wps-token.webpubsub.azure.com"
PRIMARY = f"Endpoint=https://{HOST};AccessKey=cHJpbWFyeQ==;Version=1.0;"
SECONDARY = f"Endpoint=https://{HOST};AccessKey=c2Vjb25kYXJ5;Version=1.0;"
FACTS = {
    "resourceToken": "token",
    # Not the app's default hub, so the tests see that the setting is read.
    "hubName": "Test_Hub",
    "storage.name": "sttoken",
    "storage.properties.primaryEndpoints.table": "https://sttoken.table.core.windows.net/",
    "identity.properties.clientId": "client-id-1",
    "appInsights.properties.ConnectionString": "InstrumentationKey=appi-key",
    "webPubSub.properties.hostName": HOST,
    "webPubSub.listKeys().primaryConnectionString": PRIMARY,
    "webPubSub.listKeys().secondaryConnectionString": SECONDARY,
}
KEY_VAULT_REFERENCE = re.compile(r"@Microsoft\.KeyVault\(VaultName=([^;]+);SecretName=([^)]+)\)")


def _of_type(doc: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in doc["resources"].items() if v["type"] == type_}


def _body(resource: dict[str, Any]) -> dict[str, Any]:
    config = resource["config"]
    return config["config"] if "condition" in config else config


def _deployed(scope: Scope, resource: dict[str, Any]) -> bool:
    """False for a resource whose `if (condition)` is false for these parameters."""
    condition = resource["config"].get("condition")
    return condition is None or scope.eval(condition) is True


def key_vault_secret(res: dict[str, Any], scope: Scope, reference: str) -> str:
    """What App Service reads for a Key Vault reference: the secret the template stored."""
    match = KEY_VAULT_REFERENCE.fullmatch(reference)
    assert match, reference
    vault_name, secret_name = match.groups()
    (vault,) = (
        symbol
        for symbol, vault in _of_type(res, "Microsoft.KeyVault/vaults").items()
        if _deployed(scope, vault) and scope.eval(_body(vault)["name"]) == vault_name
    )
    (value,) = (
        scope.eval(_body(secret)["properties"]["value"])
        for secret in _of_type(res, "Microsoft.KeyVault/vaults/secrets").values()
        if _deployed(scope, secret)
        and _body(secret)["parent"] == vault
        and scope.eval(_body(secret)["name"]) == secret_name
    )
    return value


def app_settings(res: dict[str, Any], **params: str) -> dict[str, str]:
    """The Function App's settings as deployed: the appsettings resource evaluated for these
    parameters, with its Key Vault references resolved to the secrets' values."""
    scope = Scope(res, {"environmentName": "chat-test", "location": "westeurope", **params}, FACTS)
    (config,) = _of_type(res, "Microsoft.Web/sites/config").values()
    settings = scope.eval(_body(config)["properties"])
    return {
        name: key_vault_secret(res, scope, value)
        if value.startswith("@Microsoft.KeyVault(")
        else value
        for name, value in settings.items()
    }
