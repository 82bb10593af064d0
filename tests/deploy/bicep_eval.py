"""Evaluate the few Bicep expressions our templates use, on pycep's parse tree.

What Azure computes at deploy time (a resource's client id, a host name, listKeys()) comes from
`facts`, keyed by the expression as written ("identity.properties.clientId",
"webPubSub.listKeys().primaryConnectionString", "tenant().tenantId"). Everything else is
computed from the template: parameters (given, or their defaults), variables, `a ? b : c`, `==`,
`!`, union() and '${...}' interpolation.

pycep returns identifiers and string literals alike as plain strings: a string is read as a name
when it is a fact, a parameter or a variable, and as a literal otherwise. An unknown expression
raises KeyError, so a template change this does not cover fails loudly instead of passing.
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
            try:
                return self.name(node)
            except KeyError:
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
