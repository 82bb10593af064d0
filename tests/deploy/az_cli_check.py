"""Parse `az` command lines with the real azure-cli's own parser, without running them.

Runs under the interpreter of the azure-cli venv (`.venv/tools/azure-cli`, see the Makefile), not
the test venv: azure-cli pins ~150 packages of its own. Reads a JSON list of argv lists (without
the leading `az`) on stdin and writes one JSON object per argv: the command azure-cli resolved and
the parser's error, if any. Each line goes through what `az` itself does before it runs a command
(load the command table, the command's arguments, build the parser, parse), so an unknown command,
an unknown flag, a missing required argument or a value outside a flag's choices is reported with
az's own message. Nothing is executed and nothing is sent anywhere: telemetry, error
recommendations and the dynamic install of extensions are switched off by the caller's
environment (see tests/deploy/azcli.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys


def load_parser(cli, argv: list[str]):
    """azure-cli's parser for the command named at the start of argv, as `az` builds it."""
    invocation = cli.invocation_cls(
        cli_ctx=cli,
        parser_cls=cli.parser_cls,
        commands_loader_cls=cli.commands_loader_cls,
        help_cls=cli.help_cls,
    )
    cli.invocation = invocation
    loader = invocation.commands_loader
    loader.load_command_table(argv)
    # The steps of AzCliCommandInvoker.execute() up to parse_args, including its private
    # _rudimentary_get_command: azure-cli is pinned in the Makefile, and a change there fails
    # this check loudly rather than passing it.
    command = invocation._rudimentary_get_command(argv)
    invocation.data["command_string"] = command
    if command not in loader.command_table:
        return command, None
    loader.command_table = {command: loader.command_table[command]}
    loader.command_name = command
    loader.load_arguments(command)
    invocation.parser.cli_ctx = cli
    invocation.parser.load_command_table(loader)
    return command, invocation.parser


def check(cli, argv: list[str], parsers: dict) -> dict[str, object]:
    # Loading the command table is most of the cost: one parser per command, reused.
    words = tuple(
        w for w in argv[: next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))]
    )
    if words not in parsers:
        parsers[words] = load_parser(cli, argv)
    command, parser = parsers[words]
    if parser is None:
        return {
            "argv": argv,
            "command": command,
            "error": f"'{' '.join(words)}' is not an az command",
        }
    cli.invocation.data["command_string"] = command
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
    except SystemExit as exc:
        return {"argv": argv, "command": command, "error": err.getvalue().strip() or str(exc)}
    return {"argv": argv, "command": command, "error": None}


def main() -> int:
    from azure.cli.core import get_default_cli

    cli = get_default_cli()
    parsers: dict = {}
    results = [check(cli, argv, parsers) for argv in json.load(sys.stdin)]
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
