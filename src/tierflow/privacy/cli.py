"""``tierflow privacy``: run a party's node, start jobs on it, run a relay, create a party's key.

Design: ``serve`` runs one party's node (``node.Node``) under uvicorn; with ``--input PROTOCOL=FILE`` it joins
invitations to that protocol with that file as its input. ``start`` asks the local node (authenticated with the
party's own key) to start a job with the named participants, waits for it and prints the job as JSON. ``relay``
runs the store-and-forward relay for parties that only make outbound connections.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from tierflow.privacy import node as privacy_node
from tierflow.privacy import protocols as _protocols  # noqa: F401  (registers secure-sum, verify-claim, scope3-sum)

privacy_app = typer.Typer(help="Privacy computing between institutions: nodes, jobs, relay.", no_args_is_help=True)

ConfigOpt = Annotated[Path, typer.Option("--config", help="Directory file: parties, URLs, public keys (JSON).")]
PartyOpt = Annotated[str, typer.Option("--party", help="This party's name in the directory.")]
DataDirOpt = Annotated[Path, typer.Option("--data-dir", help="Where the party's key file lives (created 0600).")]
DEFAULT_DATA_DIR = Path(".tierflow-privacy")


@privacy_app.command()
def keygen(party: PartyOpt, data_dir: DataDirOpt = DEFAULT_DATA_DIR) -> None:
    """Create (or read) the party's Ed25519 key and print its public key for the directory."""
    key = privacy_node.load_or_create_key(data_dir, party)
    typer.echo(json.dumps({"party": party, "public_key": privacy_node.public_key_b64(key)}))


def _inputs(values: list[str]) -> dict[str, Path]:
    inputs: dict[str, Path] = {}
    for value in values:
        protocol, sep, path = value.partition("=")
        if not sep or protocol not in privacy_node.PROTOCOLS:
            known = ", ".join(sorted(privacy_node.PROTOCOLS))
            raise typer.BadParameter(f"expected PROTOCOL=FILE with PROTOCOL one of {known}", param_hint="--input")
        inputs[protocol] = Path(path).resolve()
    return inputs


@privacy_app.command()
def serve(
    party: PartyOpt,
    config: ConfigOpt,
    port: Annotated[int, typer.Option(help="Port of the node's HTTP interface.")],
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    relay: Annotated[str | None, typer.Option(help="Relay URL: send to relay-only peers and poll for us.")] = None,
    input_: Annotated[
        list[str] | None, typer.Option("--input", help="PROTOCOL=FILE: join invitations to PROTOCOL with FILE.")
    ] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    job_timeout: Annotated[float, typer.Option(help="Seconds a job may take.")] = privacy_node.DEFAULT_JOB_TIMEOUT_S,
) -> None:
    """Run one party's node."""
    import uvicorn

    directory = privacy_node.Directory.load(config)
    key = privacy_node.load_or_create_key(data_dir, party)
    node = privacy_node.Node(party, key, directory, relay=relay, inputs=_inputs(input_ or []), job_timeout=job_timeout)
    if node.relay is not None:
        node.start_relay_polling()
    try:
        uvicorn.run(node.app(), host=host, port=port, log_level="warning")
    finally:
        node.stop()


def _params(values: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for value in values:
        key, sep, raw = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter("expected KEY=VALUE", param_hint="--param")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


@privacy_app.command()
def start(
    protocol: Annotated[str, typer.Argument(help="Protocol, e.g. psi-one, psi-payload, shared-suppliers.")],
    config: ConfigOpt,
    party: PartyOpt,
    with_: Annotated[list[str], typer.Option("--with", help="Another participant (repeatable).")],
    input_: Annotated[Path, typer.Option("--input", help="This party's input file.")],
    node_url: Annotated[
        str | None, typer.Option("--node", help="This party's node, if not its directory URL (e.g. relay-only).")
    ] = None,
    max_items: Annotated[int, typer.Option(help="Declared maximum set size of each side (public).")] = 1000,
    max_payload_bytes: Annotated[int | None, typer.Option(help="psi-payload: maximum payload size.")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="KEY=VALUE protocol parameter (VALUE read as JSON, else text).")
    ] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the result.")] = 150.0,
) -> None:
    """Start a job on this party's node with the given participants; print the finished job as JSON."""
    directory = privacy_node.Directory.load(config)
    key = privacy_node.load_or_create_key(data_dir, party)
    base = node_url or directory.peer(party).url
    if base is None:
        raise typer.BadParameter("this party is relay-only in the directory: give its node's URL", param_hint="--node")
    params: dict[str, Any] = {"max_items": max_items}
    if max_payload_bytes is not None:
        params["max_payload_bytes"] = max_payload_bytes
    params.update(_params(param or []))
    request = {"protocol": protocol, "participants": [party, *with_], "params": params, "input": str(input_.resolve())}
    body = json.dumps(request).encode("utf-8")
    target = f"{privacy_node.API}/jobs"
    with httpx.Client(base_url=base.rstrip("/"), timeout=30) as client:
        headers = {privacy_node.AUTH_HEADER: privacy_node.sign_request(key, party, "POST", target, body)}
        response = client.post(target, content=body, headers={**headers, "content-type": "application/json"})
        if response.status_code != 201:
            typer.echo(f"could not start the job: HTTP {response.status_code} {response.text}", err=True)
            raise typer.Exit(2)
        job: dict[str, Any] = response.json()
        deadline = time.monotonic() + timeout
        while job["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
            job_target = f"{target}/{job['job_id']}"
            headers = {privacy_node.AUTH_HEADER: privacy_node.sign_request(key, party, "GET", job_target)}
            job = client.get(job_target, headers=headers).raise_for_status().json()
    typer.echo(json.dumps(job, ensure_ascii=False))
    if job["status"] != "done":
        raise typer.Exit(1)


@privacy_app.command()
def relay(
    config: ConfigOpt,
    port: Annotated[int, typer.Option(help="Port of the relay.")],
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
) -> None:
    """Run a relay: parties push envelopes for others and poll for their own, each request signed."""
    import uvicorn

    app = privacy_node.create_relay_app(privacy_node.Directory.load(config))
    uvicorn.run(app, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    privacy_app()
