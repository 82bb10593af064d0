"""The `az` commands the scripts take from extensions, as their documentation defines them.

`az webpubsub ...` (extension `webpubsub`) and `az monitor app-insights ...` (extension
`application-insights`) are not part of the azure-cli package: `az extension add` downloads them
from Azure's extension index, not from PyPI, so they cannot be installed offline. Their command
lines are checked against this table instead, written from the extensions' sources in
Azure/azure-cli-extensions (`src/webpubsub/azext_webpubsub/_params.py`, `commands.py`, `custom.py`;
`src/application-insights/azext_applicationinsights/_params.py`) and the az reference pages.
Only the commands the scripts use are listed; a new one fails until it is added here.
"""

from __future__ import annotations

from dataclasses import dataclass

# Accepted by every az command (azure-cli's global arguments).
GLOBAL_FLAGS = frozenset(
    {"--output", "-o", "--query", "--only-show-errors", "--subscription", "--debug", "--verbose"}
)
# Commands whose resource is named by -g/-n also accept --ids instead of them.
_RESOURCE = frozenset({"--resource-group", "-g", "--name", "-n", "--ids"})
# `generic_update_command`s accept these on top of their own arguments.
_GENERIC_UPDATE = frozenset({"--set", "--add", "--remove", "--force-string"})
_HUB_SETTINGS = frozenset(
    {"--hub-name", "--event-handler", "--allow-anonymous", "--websocket-keepalive"}
)


@dataclass(frozen=True)
class Command:
    flags: frozenset[str]
    # Each entry is one required argument, by its accepted spellings.
    required: tuple[frozenset[str], ...]
    # Flags whose value must be one of these (three-state flags and enums).
    choices: tuple[tuple[str, frozenset[str]], ...] = ()


_RG = frozenset({"--resource-group", "-g"})
_NAME = frozenset({"--name", "-n"})
_BOOL = frozenset({"true", "false"})

EXTENSION_COMMANDS: dict[str, Command] = {
    # webpubsub_create(client, resource_group_name, webpubsub_name, sku, unit_count=1, location,
    # tags, kind, service_mode): sku has no default, so --sku is required.
    "webpubsub create": Command(
        _RESOURCE
        | {"--sku", "--unit-count", "--location", "-l", "--tags", "--kind", "--service-mode"},
        (_RG, _NAME, frozenset({"--sku"})),
    ),
    "webpubsub show": Command(_RESOURCE, (_RG, _NAME)),
    "webpubsub key show": Command(_RESOURCE, (_RG, _NAME)),
    "webpubsub hub show": Command(
        _RESOURCE | {"--hub-name"}, (_RG, _NAME, frozenset({"--hub-name"}))
    ),
    "webpubsub hub create": Command(
        _RESOURCE | _HUB_SETTINGS,
        (_RG, _NAME, frozenset({"--hub-name"})),
        (("--allow-anonymous", _BOOL),),
    ),
    "webpubsub hub update": Command(
        _RESOURCE | _HUB_SETTINGS | _GENERIC_UPDATE,
        (_RG, _NAME, frozenset({"--hub-name"})),
        (("--allow-anonymous", _BOOL),),
    ),
    "monitor app-insights component show": Command(
        frozenset({"--app", "-a", "--resource-group", "-g", "--ids"}),
        (frozenset({"--app", "-a"}), _RG),
    ),
    "monitor app-insights component create": Command(
        frozenset(
            {
                "--app",
                "-a",
                "--resource-group",
                "-g",
                "--location",
                "-l",
                "--application-type",
                "--type",
                "-t",
                "--kind",
                "-k",
                "--tags",
                "--workspace",
                "--retention-time",
                "--ingestion-access",
                "--query-access",
            }
        ),
        (frozenset({"--app", "-a"}), _RG, frozenset({"--location", "-l"})),
        (("--application-type", frozenset({"web", "other"})),),
    ),
}

EXTENSION_GROUPS = ("webpubsub", "monitor app-insights")


def is_extension_command(argv: tuple[str, ...] | list[str]) -> bool:
    words = " ".join(w for w in argv if not w.startswith("-"))
    return any(words == g or words.startswith(g + " ") for g in EXTENSION_GROUPS)


def check(argv: tuple[str, ...] | list[str]) -> str | None:
    """None when `az <argv>` is valid for the table above, else the reason."""
    words: list[str] = []
    i = 0
    while i < len(argv) and not argv[i].startswith("-"):
        words.append(argv[i])
        i += 1
    command = " ".join(words)
    spec = EXTENSION_COMMANDS.get(command)
    if spec is None:
        return f"'{command}' is not in the table of extension commands the scripts may use"
    given: dict[str, list[str]] = {}
    flag = ""
    for token in argv[i:]:
        if token.startswith("-"):
            flag = token
            given.setdefault(flag, [])
        else:
            given[flag].append(token)
    unknown = sorted(set(given) - spec.flags - GLOBAL_FLAGS)
    if unknown:
        return f"az {command}: unrecognized arguments: {' '.join(unknown)}"
    if "--ids" not in given:
        missing = [sorted(r)[0] for r in spec.required if not r & set(given)]
        if missing:
            return f"az {command}: the following arguments are required: {', '.join(missing)}"
    for name, allowed in spec.choices:
        for value in given.get(name, []):
            if value.lower() not in allowed:
                return f"az {command}: {value!r} is not a valid value for {name}"
    return None
