"""A stand-in for the `az` CLI (and `curl`) that keeps Azure's state in a JSON file.

The deployment scripts are bash around `az`. Without a subscription, the next best check is to run
them for real against a fake that answers the way `az` does: resources appear when created, `show`
fails with exit code 3 when they do not exist, `--query` is evaluated with JMESPath (the library
`az` itself uses) and `--output tsv|json|none` is formatted as `az` formats it. Every call is
logged, so a test can assert which commands ran and with which arguments.

Only the commands the scripts use are understood; anything else fails loudly (exit 2), so a new
command in a script cannot pass unnoticed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import jmespath

NOT_FOUND = 3  # az's exit code for ResourceNotFound
BAD_COMMAND = 2


class Fail(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def parse(argv: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Split argv into command words and options; repeated or multi-value options become lists."""
    words: list[str] = []
    i = 0
    while i < len(argv) and not argv[i].startswith("-"):
        words.append(argv[i])
        i += 1
    opts: dict[str, Any] = {}
    aliases = {"-g": "--resource-group", "-n": "--name", "-l": "--location", "-o": "--output"}
    while i < len(argv):
        name = aliases.get(argv[i], argv[i])
        if not name.startswith("--"):
            raise Fail(f"fake az: unexpected argument {argv[i]!r}", BAD_COMMAND)
        i += 1
        values: list[str] = []
        while i < len(argv) and not (argv[i].startswith("--") or argv[i] in aliases):
            values.append(argv[i])
            i += 1
        value: Any = True if not values else values[0] if len(values) == 1 else values
        if name in opts:  # repeated option: keep every occurrence
            previous = opts[name] if isinstance(opts[name], list) else [opts[name]]
            value = previous + (value if isinstance(value, list) else [value])
        opts[name] = value
    return words, opts


def token(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:10]


class FakeAzure:
    def __init__(self, state_path: Path) -> None:
        self.path = state_path
        self.state: dict[str, Any] = json.loads(state_path.read_text())
        self.state.setdefault("resources", {})
        self.state.setdefault("extensions", [])

    def save(self) -> None:
        self.path.write_text(json.dumps(self.state, indent=1, sort_keys=True))

    # ------------------------------------------------------------------ helpers
    def rid(self, rg: str, provider: str, name: str) -> str:
        sub = self.state["account"]["id"]
        return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider}/{name}"

    def get(self, key: str) -> dict[str, Any]:
        if key not in self.state["resources"]:
            raise Fail(f"(ResourceNotFound) {key} was not found", NOT_FOUND)
        return self.state["resources"][key]

    def put(self, key: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.state["resources"][key] = obj
        self.state.setdefault("created", []).append(key)
        return obj

    def by_id(self, resource_id: str) -> dict[str, Any]:
        for obj in self.state["resources"].values():
            if obj.get("id", "").lower() == resource_id.lower():
                return obj
        raise Fail(f"(ResourceNotFound) {resource_id}", NOT_FOUND)

    def need_group(self, rg: str) -> None:
        self.get(f"group/{rg}")

    # ------------------------------------------------------------------ dispatch
    def run(self, words: list[str], o: dict[str, Any]) -> Any:
        cmd = " ".join(words)
        rg = o.get("--resource-group", "")
        name = o.get("--name", "")
        res = self.state["resources"]

        if cmd == "account show":
            return self.state["account"]
        if cmd == "ad signed-in-user show":
            return self.state["user"]
        if cmd == "extension show":
            if name not in self.state["extensions"]:
                raise Fail(f"The extension {name} is not installed.")
            return {"name": name}
        if cmd == "extension add":
            self.state["extensions"].append(name)
            return {"name": name}

        if cmd == "group show":
            return self.get(f"group/{name}")
        if cmd == "group create":
            return res.get(f"group/{name}") or self.put(
                f"group/{name}",
                {
                    "name": name,
                    "location": o["--location"],
                    "id": f"/subscriptions/x/resourceGroups/{name}",
                },
            )
        if cmd == "group delete":
            self.get(f"group/{name}")
            for key in [k for k, v in res.items() if v.get("resourceGroup") == name]:
                if key.startswith("keyvault/"):
                    self.state.setdefault("deleted_vaults", []).append(res[key]["name"])
                if key.startswith("secret/"):  # soft-deleted with their vault
                    self.state.setdefault("deleted_secrets", {})[key] = res[key]
                del res[key]
            del res[f"group/{name}"]
            return None

        if cmd == "identity show":
            return self.get(f"identity/{name}")
        if cmd == "identity create":
            self.need_group(rg)
            return res.get(f"identity/{name}") or self.put(
                f"identity/{name}",
                {
                    "name": name,
                    "resourceGroup": rg,
                    "id": self.rid(rg, "Microsoft.ManagedIdentity/userAssignedIdentities", name),
                    "principalId": "p-" + token(name),
                    "clientId": "c-" + token(name, "client"),
                },
            )

        if cmd == "monitor log-analytics workspace show":
            return self.get(f"law/{o['--workspace-name']}")
        if cmd == "monitor log-analytics workspace create":
            ws = o["--workspace-name"]
            self.need_group(rg)
            return self.put(
                f"law/{ws}",
                {
                    "name": ws,
                    "resourceGroup": rg,
                    "id": self.rid(rg, "Microsoft.OperationalInsights/workspaces", ws),
                },
            )
        if cmd == "monitor app-insights component show":
            return self.get(f"appi/{o['--app']}")
        if cmd == "monitor app-insights component create":
            app = o["--app"]
            self.need_group(rg)
            return self.put(
                f"appi/{app}",
                {
                    "name": app,
                    "resourceGroup": rg,
                    "id": self.rid(rg, "Microsoft.Insights/components", app),
                    "connectionString": f"InstrumentationKey={token(app)};IngestionEndpoint=https://x/",
                    "properties": {"DisableLocalAuth": False},
                },
            )

        if cmd == "storage account show":
            return self.get(f"storage/{name}")
        if cmd == "storage account create":
            self.need_group(rg)
            return self.put(
                f"storage/{name}",
                {
                    "name": name,
                    "resourceGroup": rg,
                    "id": self.rid(rg, "Microsoft.Storage/storageAccounts", name),
                    "allowSharedKeyAccess": o.get("--allow-shared-key-access") == "true",
                    "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"},
                },
            )
        if cmd == "storage account update":
            obj = self.get(f"storage/{name}")
            obj["allowSharedKeyAccess"] = o.get("--allow-shared-key-access") == "true"
            return obj
        if cmd == "storage container-rm show":
            return self.get(f"container/{o['--storage-account']}/{name}")
        if cmd == "storage container-rm create":
            self.get(f"storage/{o['--storage-account']}")
            return self.put(
                f"container/{o['--storage-account']}/{name}", {"name": name, "resourceGroup": rg}
            )

        if cmd == "role assignment list":
            if "--assignee" in o and o["--assignee"] != self.state["user"]["id"]:
                # az resolves --assignee through Microsoft Graph first. A managed identity created
                # seconds earlier is not there yet (replication), and az fails (azure-cli #32943);
                # this fake's Graph knows only the signed-in user.
                raise Fail(
                    "Cannot find user or service principal in graph database for "
                    f"'{o['--assignee']}'. If the assignee is an appId, make sure the "
                    "corresponding service principal is created with 'az ad sp create --id "
                    f"{o['--assignee']}'."
                )
            return [
                v
                for k, v in res.items()
                if k.startswith("role/")
                and v["principalId"] == o.get("--assignee-object-id", o.get("--assignee"))
                and v["roleDefinitionName"] == o["--role"]
                and v["scope"] == o["--scope"]
            ]
        if cmd == "role assignment create":
            key = f"role/{o['--assignee-object-id']}/{o['--role']}/{o['--scope']}"
            if key in res:
                raise Fail("The role assignment already exists.")
            self.by_id(o["--scope"])
            return self.put(
                key,
                {
                    "principalId": o["--assignee-object-id"],
                    "principalType": o["--assignee-principal-type"],
                    "roleDefinitionName": o["--role"],
                    "scope": o["--scope"],
                    "resourceGroup": o["--scope"].split("/")[4],
                },
            )

        if cmd == "webpubsub show":
            return self.get(f"webpubsub/{name}")
        if cmd == "webpubsub create":
            self.need_group(rg)
            return self.put(
                f"webpubsub/{name}",
                {
                    "name": name,
                    "resourceGroup": rg,
                    "id": self.rid(rg, "Microsoft.SignalRService/webPubSub", name),
                    "hostName": f"{name}.webpubsub.azure.com",
                    "sku": {"name": o["--sku"]},
                    "disableLocalAuth": False,
                },
            )
        if cmd == "webpubsub key show":
            wps = self.get(f"webpubsub/{name}")
            if wps["disableLocalAuth"]:
                raise Fail("local auth is disabled")
            prefix = f"Endpoint=https://{wps['hostName']};AccessKey="
            return {
                "primaryConnectionString": f"{prefix}PRIMARY{token(name)};Version=1.0;",
                "secondaryConnectionString": f"{prefix}SECONDARY{token(name)};Version=1.0;",
            }
        if cmd == "webpubsub hub show":
            return self.get(f"hub/{name}/{o['--hub-name']}")
        if cmd in ("webpubsub hub create", "webpubsub hub update"):
            self.get(f"webpubsub/{name}")
            key = f"hub/{name}/{o['--hub-name']}"
            if cmd.endswith("update"):
                hub = self.get(key)
            elif key in res:
                raise Fail(f"hub {o['--hub-name']} already exists")
            else:
                hub = self.put(
                    key, {"name": o["--hub-name"], "resourceGroup": rg, "properties": {}}
                )
            if "--event-handler" in o:
                fields = o["--event-handler"]
                fields = fields if isinstance(fields, list) else [fields]
                handler: dict[str, Any] = {"systemEvents": []}
                for field in fields:
                    k, _, v = field.partition("=")
                    if k == "url-template":
                        handler["urlTemplate"] = v
                    elif k == "user-event-pattern":
                        handler["userEventPattern"] = v
                    elif k == "system-event":
                        handler["systemEvents"].append(v)
                    else:
                        raise Fail(f"fake az: unknown event handler field {k!r}", BAD_COMMAND)
                hub["properties"]["eventHandlers"] = [handler]
            if "--allow-anonymous" in o:
                allow = o["--allow-anonymous"] == "true"
                hub["properties"]["anonymousConnectPolicy"] = "allow" if allow else "deny"
            return hub

        if cmd == "keyvault show":
            return self.get(f"keyvault/{name}")
        if cmd == "keyvault list-deleted":
            return [{"name": n} for n in self.state.get("deleted_vaults", [])]
        if cmd == "keyvault recover":
            self.state["deleted_vaults"].remove(name)
            for key in list(self.state.get("deleted_secrets", {})):
                if key.startswith(f"secret/{name}/"):
                    res[key] = self.state["deleted_secrets"].pop(key)
            return self.put(f"keyvault/{name}", self.state["vault_backup"][name])
        if cmd == "keyvault purge":
            self.state["deleted_vaults"].remove(name)
            for key in [
                k for k in self.state.get("deleted_secrets", {}) if k.startswith(f"secret/{name}/")
            ]:
                del self.state["deleted_secrets"][key]
            return None
        if cmd == "keyvault create":
            self.need_group(rg)
            if name in self.state.get("deleted_vaults", []):
                raise Fail(f"vault {name} exists in a soft-deleted state")
            vault = {
                "name": name,
                "resourceGroup": rg,
                "id": self.rid(rg, "Microsoft.KeyVault/vaults", name),
                "properties": {
                    "enableRbacAuthorization": o.get("--enable-rbac-authorization") == "true"
                },
            }
            self.state.setdefault("vault_backup", {})[name] = vault
            return self.put(f"keyvault/{name}", vault)
        if cmd == "keyvault secret show":
            return self.get(f"secret/{o['--vault-name']}/{name}")
        if cmd == "keyvault secret set":
            vault = self.get(f"keyvault/{o['--vault-name']}")
            rg = vault["resourceGroup"]
            value = Path(o["--file"]).read_text() if "--file" in o else o["--value"]
            key = f"secret/{o['--vault-name']}/{name}"
            versions = res.get(key, {}).get("versions", 0) + 1
            return self.put(
                key, {"name": name, "value": value, "versions": versions, "resourceGroup": rg}
            )

        if cmd == "functionapp show":
            return self.get(f"functionapp/{name}")
        if cmd == "functionapp create":
            self.need_group(rg)
            self.get(f"storage/{o['--storage-account']}")
            host = f"{name}-{token(name)}.{o['--flexconsumption-location']}-01.azurewebsites.net"
            return self.put(
                f"functionapp/{name}",
                {
                    "name": name,
                    "resourceGroup": rg,
                    "id": self.rid(rg, "Microsoft.Web/sites", name),
                    "defaultHostName": host,
                    "create_args": o,
                    "appSettings": {
                        "AzureWebJobsStorage": "DefaultEndpointsProtocol=https;AccountKey=x"
                    },
                    "identity": {"userAssignedIdentities": {}},
                    "functions": [],
                    "keys": {},
                },
            )
        if cmd == "functionapp identity assign":
            app = self.get(f"functionapp/{name}")
            app["identity"]["userAssignedIdentities"][o["--identities"]] = {}
            return app["identity"]
        if cmd == "functionapp config appsettings list":
            app = self.get(f"functionapp/{name}")
            return [{"name": k, "value": v} for k, v in app["appSettings"].items()]
        if cmd == "functionapp config appsettings set":
            app = self.get(f"functionapp/{name}")
            settings = o["--settings"]
            for item in settings if isinstance(settings, list) else [settings]:
                k, _, v = item.partition("=")
                app["appSettings"][k] = v
            return [{"name": k, "value": v} for k, v in app["appSettings"].items()]
        if cmd == "functionapp config appsettings delete":
            app = self.get(f"functionapp/{name}")
            names = o["--setting-names"]
            for k in names if isinstance(names, list) else [names]:
                app["appSettings"].pop(k, None)
            return None
        if cmd == "functionapp deployment source config-zip":
            app = self.get(f"functionapp/{name}")
            with zipfile.ZipFile(o["--src"]) as zf:
                app["deployed_files"] = sorted(zf.namelist())
            app["deploy_args"] = o
            host = app["defaultHostName"]
            app["functions"] = [
                # A timer-triggered function has no URL: the list reports null for it (first,
                # so wire-hub's query must step over it).
                {"name": f"{name}/presence_sweep", "invokeUrlTemplate": None}
            ] + [
                {"name": f"{name}/{fn}", "invokeUrlTemplate": f"https://{host}/api/{route}"}
                for fn, route in (
                    ("negotiate", "negotiate"),
                    ("event_handler", "eventhandler"),
                    ("index", "index"),
                )
            ]
            return None
        if cmd == "functionapp function list":
            return self.get(f"functionapp/{name}")["functions"]
        if cmd == "functionapp function keys list":
            app = self.get(f"functionapp/{name}")
            fn = o["--function-name"]
            if f"{name}/{fn}" not in [f["name"] for f in app["functions"]]:
                raise Fail(f"function {fn} not found", NOT_FOUND)
            return {"default": app["keys"].setdefault(fn, "KEY" + token(name, fn))}

        if cmd == "resource show":
            return self.by_id(o["--ids"])
        if cmd == "resource create":
            # Only what deploy.sh creates this way: a table under a storage account (ARM).
            resource_id = o["--id"]
            account_id, sep, table = resource_id.partition("/tableServices/default/tables/")
            if not sep or "/" in table:
                raise Fail(f"fake az: unsupported resource id {resource_id}")
            account = self.by_id(account_id)
            return self.put(
                f"table/{account['name']}/{table}",
                {"name": table, "id": resource_id, "resourceGroup": account["resourceGroup"]},
            )

        if cmd == "resource update":
            obj = self.by_id(o["--ids"])
            assignment = o["--set"]
            path, _, value = assignment.partition("=")
            parts = path.split(".")
            target = obj
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            target[parts[-1]] = {"true": True, "false": False}.get(value, value)
            if parts == ["properties", "disableLocalAuth"]:
                obj["disableLocalAuth"] = target[parts[-1]]
            return obj

        if cmd.startswith(("ad app", "ad sp")) or cmd == "rest":
            return self.entra_and_rest(cmd, o)

        raise Fail(f"fake az: unsupported command {cmd!r}", BAD_COMMAND)

    # ------------------------------------------------------------------ Entra ID and az rest
    def entra_and_rest(self, cmd: str, o: dict[str, Any]) -> Any:
        """App registrations live in the tenant, not in a resource group (teardown leaves them)."""
        apps = self.state.setdefault("applications", {})
        principals = self.state.setdefault("servicePrincipals", {})

        def as_list(value: Any) -> list[str]:
            return value if isinstance(value, list) else [value]

        def application(app_id: str) -> dict[str, Any]:
            if app_id not in apps:
                raise Fail(f"Resource '{app_id}' does not exist", NOT_FOUND)
            return apps[app_id]

        if cmd == "ad app list":
            return [a for a in apps.values() if a["displayName"] == o["--display-name"]]
        if cmd == "ad app create":
            app_id = "app-" + token(o["--display-name"])
            apps[app_id] = {
                "appId": app_id,
                "displayName": o["--display-name"],
                "signInAudience": o["--sign-in-audience"],
                "web": {
                    "redirectUris": as_list(o.get("--web-redirect-uris", [])),
                    "enableIdTokenIssuance": o.get("--enable-id-token-issuance") == "true",
                },
                "passwordCredentials": [],
                "federatedCredentials": [],
            }
            return apps[app_id]
        if cmd == "ad app delete":
            application(o["--id"])
            del apps[o["--id"]]
            principals.pop(o["--id"], None)
            return None
        if cmd == "ad app update":
            app = application(o["--id"])
            app["web"]["redirectUris"] = as_list(o["--web-redirect-uris"])
            return None
        if cmd == "ad app federated-credential list":
            return application(o["--id"])["federatedCredentials"]
        if cmd == "ad app federated-credential create":
            credential = json.loads(o["--parameters"])
            app = application(o["--id"])
            if any(c["name"] == credential["name"] for c in app["federatedCredentials"]):
                raise Fail("FederatedIdentityCredential with this name already exists")
            app["federatedCredentials"].append(credential)
            return credential
        if cmd == "ad sp show":
            if o["--id"] not in principals:
                raise Fail(f"Service principal '{o['--id']}' doesn't exist", NOT_FOUND)
            return principals[o["--id"]]
        if cmd == "ad sp create":
            application(o["--id"])
            principals[o["--id"]] = {"appId": o["--id"], "id": "sp-" + token(o["--id"])}
            return principals[o["--id"]]
        if cmd == "rest":
            base, _, query = o["--url"].partition("?")
            prefix, _, path = base.partition("https://management.azure.com")
            site_id, _, config = path.rpartition("/config/")
            if prefix or config != "authsettingsV2" or not query.startswith("api-version="):
                raise Fail(f"fake az: unsupported az rest URL {o['--url']!r}", BAD_COMMAND)
            site = self.by_id(site_id)
            if o["--method"] != "put":
                raise Fail("fake az: only az rest --method put is supported", BAD_COMMAND)
            site["authsettingsV2"] = json.loads(o["--body"])
            return site["authsettingsV2"]
        raise Fail(f"fake az: unsupported command {cmd!r}", BAD_COMMAND)


def render(result: Any, query: str | None, output: str) -> str:
    if query:
        result = jmespath.search(query, result)
    if output == "none":
        return ""
    if output == "tsv":
        if result is None:
            return ""
        rows = result if isinstance(result, list) else [result]
        lines = []
        for row in rows:
            cells = list(row.values()) if isinstance(row, dict) else [row]
            lines.append("\t".join("" if c is None else str(c) for c in cells))
        return "\n".join(lines) + "\n"
    return json.dumps(result, indent=2) + "\n"


def main_az(argv: list[str]) -> int:
    state_path = Path(os.environ["FAKE_AZ_STATE"])
    with open(os.environ["FAKE_AZ_LOG"], "a") as log:
        log.write(json.dumps(["az", *argv]) + "\n")
    try:
        words, opts = parse(argv)
        fake = FakeAzure(state_path)
        result = fake.run(words, opts)
        fake.save()
    except Fail as exc:
        sys.stderr.write(f"ERROR: {exc}\n")
        return exc.code
    sys.stdout.write(render(result, opts.get("--query"), opts.get("--output", "json")))
    return 0


def main_curl(argv: list[str]) -> int:
    """`curl -X OPTIONS ... URL` against the fake app: 200 only for the right host, path and key."""
    with open(os.environ["FAKE_AZ_LOG"], "a") as log:
        log.write(json.dumps(["curl", *argv]) + "\n")
    state = json.loads(Path(os.environ["FAKE_AZ_STATE"]).read_text())
    url = argv[-1]
    headers = [argv[i + 1] for i, a in enumerate(argv) if a == "--header"]
    status = 404
    for app in (v for k, v in state["resources"].items() if k.startswith("functionapp/")):
        host = app["defaultHostName"]
        base, _, query = url.partition("?")
        if base == f"https://{host}/api/eventhandler":
            keys = set(app["keys"].values())
            given = {
                h.split(":", 1)[1].strip()
                for h in headers
                if h.lower().startswith("x-functions-key:")
            }
            given |= {query.removeprefix("code=")} if query.startswith("code=") else set()
            status = 200 if keys & given else 401
    if "--dump-header" in argv:
        sys.stdout.write(f"HTTP/1.1 {status} X\r\n")
        if status == 200:
            origin = next(
                h.split(":", 1)[1].strip()
                for h in headers
                if h.startswith("WebHook-Request-Origin:")
            )
            sys.stdout.write(f"WebHook-Allowed-Origin: {origin}\r\n")
        sys.stdout.write("\r\n")
    return 0


if __name__ == "__main__":
    tool = Path(sys.argv[1]).name
    sys.exit(main_curl(sys.argv[2:]) if tool == "curl" else main_az(sys.argv[2:]))
