"""The ``tierflow`` command: a thin layer over the services.

``serve`` runs the API; ``demo`` fills the database with a realistic multi-tier supply chain; ``export``
writes the journal and the latest checkpoint to files; ``verify`` checks an export offline. Every command
reads the database named by ``TIERFLOW_DATABASE_URL``; ``--json`` prints one JSON object for scripts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tierflow.bootstrap import ConfigurationError, Platform, open_platform
from tierflow.config import Settings
from tierflow.privacy.cli import privacy_app

DEMO_LOGINS = "demo-logins.json"

app = typer.Typer(
    help="tierflow: multi-tier supply-chain finance on a signed, provable journal.",
    no_args_is_help=True,
    add_completion=False,
)
admin = typer.Typer(help="Administration: API tokens, portal users, custodial keys.", no_args_is_help=True)
app.add_typer(admin, name="admin")
app.add_typer(privacy_app, name="privacy")
console = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object (for scripts).")]


def _fail(message: str, hint: str = "") -> None:
    console.print(f"[bold red]error:[/] {message}")
    if hint:
        console.print(f"[dim]hint:[/] {hint}")
    raise typer.Exit(2)


def _open(settings: Settings | None = None, **kwargs: Any) -> Platform:
    settings = settings or Settings()
    try:
        return open_platform(settings, **kwargs)
    except ConfigurationError as error:
        _fail(str(error))
    except Exception as error:  # database unreachable, bad URL ...
        _fail(
            f"cannot open the database {settings.database_url!r}: {error}",
            "check TIERFLOW_DATABASE_URL (a SQLAlchemy URL such as sqlite:///var/tierflow.db)",
        )
    raise AssertionError("unreachable")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@app.command()
def demo(
    cores: Annotated[int, typer.Option(min=1, max=50, help="Core enterprises.")] = 3,
    suppliers: Annotated[int, typer.Option(min=22, max=5000, help="Suppliers, spread over the tiers.")] = 300,
    banks: Annotated[int, typer.Option(min=1, max=20, help="Financial institutions.")] = 3,
    tiers: Annotated[int, typer.Option(min=2, max=11, help="Supplier tiers.")] = 11,
    vouchers: Annotated[int, typer.Option(min=1, max=2000, help="Vouchers in the first wave.")] = 24,
    steps: Annotated[int, typer.Option(min=10, max=200000, help="Random splits, transfers, financings.")] = 1500,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed builds the same chain.")] = 7,
    json_out: JsonFlag = False,
) -> None:
    """Build a realistic multi-tier supply chain, circulate vouchers, settle at maturity, print a summary."""
    from tierflow.demo import SimulatedClock, create_demo_logins, demo_start, run_demo

    settings = Settings()
    clock = SimulatedClock(demo_start())
    platform = _open(settings, clock=clock)
    with platform.uow() as uow:
        if uow.repo.count_vouchers() > 0:
            _fail(
                "this database already holds vouchers; the demo needs a fresh one",
                "point TIERFLOW_DATABASE_URL at a new database, or delete the SQLite file",
            )
    with _progress() as progress:
        task = progress.add_task("registering parties", total=steps)

        def advance(n: int) -> None:
            progress.update(task, advance=n, description="circulating vouchers")

        summary, members = run_demo(
            platform,
            clock,
            cores=cores,
            suppliers=suppliers,
            banks=banks,
            tiers=tiers,
            vouchers=vouchers,
            steps=steps,
            seed=seed,
            progress=advance,
        )
    credentials = _write_credentials(platform, members)
    logins = create_demo_logins(platform, members)
    logins_file = Path(settings.data_dir) / DEMO_LOGINS
    logins_file.write_text(json.dumps(logins, indent=2) + "\n")
    logins_file.chmod(0o600)
    result = {
        **summary.as_json(),
        "database": settings.database_url,
        "credentials_file": str(credentials),
        "portal_logins_file": str(logins_file),
    }
    if json_out:
        print(json.dumps(result, indent=2))
    else:
        table = Table(title="tierflow demo", show_header=False)
        for key, value in result.items():
            table.add_row(key.replace("_", " "), json.dumps(value) if isinstance(value, dict) else str(value))
        Console().print(table)
    platform.close()


def _write_credentials(platform: Platform, members: list[Any]) -> Path:
    """Demo credentials: each party's id, token and signing seed, so a newcomer can call the API."""
    out = []
    for member in members:
        out.append(
            {
                "party_id": member.id,
                "name": member.name,
                "role": member.role,
                "token": platform.access.issue_token(member.id),
                "signing_seed": member.key.seed_b64,
            }
        )
    path = Path(platform.settings.data_dir) / "demo-credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    path.chmod(0o600)
    return path


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    with_demo: Annotated[bool, typer.Option("--demo", help="Fill an empty database with the demo first.")] = False,
) -> None:
    """Serve the web portal (/portal) and the REST API (/v1; OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn

    from tierflow.portal import create_app

    settings = Settings()
    platform = _open(settings)
    with platform.uow() as uow:
        empty = uow.repo.count_vouchers() == 0
    if with_demo and empty:
        platform.close()
        demo(cores=3, suppliers=300, banks=3, tiers=11, vouchers=24, steps=1500, seed=7, json_out=False)
        platform = _open(settings)
    token_file = Path(settings.data_dir) / "operator.token"
    console.print(f"[bold]tierflow[/] on http://{host}:{port}  database: {settings.database_url}")
    if token_file.exists():
        console.print(f"operator token: {token_file}")
    demo_logins: list[dict[str, Any]] = []
    if with_demo:
        console.print(f"demo credentials: {Path(settings.data_dir) / 'demo-credentials.json'}")
        logins_file = Path(settings.data_dir) / DEMO_LOGINS
        if logins_file.exists():
            demo_logins = json.loads(logins_file.read_text())
        console.print(f"portal: http://{host}:{port}/portal/  (demo sign-ins are listed there)")
    # The event loop does many short system calls; with Python's default 5 ms switch interval it waits that long
    # for the GIL each time the group-commit thread is busy (measured: every batch held a single request).
    sys.setswitchinterval(0.0005)
    uvicorn.run(create_app(platform, demo_logins=demo_logins), host=host, port=port, log_level="info")


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write.")] = Path("export"),
    json_out: JsonFlag = False,
) -> None:
    """Write the journal (journal.jsonl), the latest checkpoint and the verifier keys to a folder."""
    from tierflow.exporting import export_journal

    platform = _open()
    platform.journal.integrate_all()
    with _progress() as progress:
        task = progress.add_task("exporting entries", total=None)
        result = export_journal(platform, out, on_progress=lambda n: progress.update(task, advance=n))
    platform.close()
    if json_out:
        print(json.dumps(result, indent=2))
    else:
        console.print(f"exported {result['tree_size']} entries and the checkpoint to {out}/")


@app.command()
def verify(
    folder: Annotated[Path, typer.Argument(help="A folder written by 'tierflow export'.")],
    receipt: Annotated[Path | None, typer.Option(help="Also check one inclusion receipt (JSON).")] = None,
    since: Annotated[
        Path | None, typer.Option(help="An older checkpoint you kept: prove the export's log extends it.")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Verify an export offline: the tree, the checkpoint signature and cosignatures, every event signature;
    optionally a receipt, and consistency with an older checkpoint."""
    from tierflow.ledger.verify import verify_consistency_from_leaves, verify_export, verify_receipt

    if not (folder / "journal.jsonl").exists():
        _fail(f"{folder} holds no journal.jsonl", "run 'tierflow export --out FOLDER' first")
    total = sum(1 for _ in (folder / "journal.jsonl").open())
    with _progress() as progress:
        task = progress.add_task("verifying entries", total=total)
        report = verify_export(folder, on_progress=lambda n: progress.update(task, completed=n))
    problems = list(report.problems)
    if receipt is not None:
        try:
            verify_receipt(
                json.loads(receipt.read_text()),
                (folder / "checkpoint.txt").read_text(),
                (folder / "platform.vkey").read_text().strip(),
            )
        except Exception as error:
            problems.append(f"receipt {receipt}: {error}")
    if since is not None:
        try:
            verify_consistency_from_leaves(folder, since.read_text())
        except Exception as error:
            problems.append(f"consistency with {since}: {error}")
    ok = report.ok and not problems
    result = {
        "ok": ok,
        "tree_size": report.tree_size,
        "root": report.root_b64,
        "entries_checked": report.entries_checked,
        "cosignatures": [c.__dict__ for c in report.cosignatures],
        "problems": problems,
    }
    if json_out:
        print(json.dumps(result, indent=2, default=str))
    else:
        colour = "green" if ok else "red"
        Console().print(
            f"[{colour}]{'OK' if ok else 'FAILED'}[/]: {report.entries_checked} entries, tree size "
            f"{report.tree_size}, root {report.root_b64}"
        )
        for cos in report.cosignatures:
            Console().print(f"  cosignature {cos.name}: {cos.status}")
        for problem in problems:
            Console().print(f"  [red]problem:[/] {problem}")
    if not ok:
        raise typer.Exit(1)


@app.command()
def receipt(
    event_id: Annotated[str, typer.Argument(help="The journal entry's id (evt_...).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the receipt here instead of stdout.")] = None,
) -> None:
    """Print an inclusion receipt for one entry (check it with 'tierflow verify FOLDER --receipt FILE')."""
    from tierflow.domain.errors import DomainError

    platform = _open()
    platform.journal.integrate_all()
    try:
        data = platform.journal.receipt(event_id)
    except DomainError as error:
        _fail(error.message)
    text = json.dumps(data, indent=2) + "\n"
    if out is None:
        print(text, end="")
    else:
        out.write_text(text)
        console.print(f"receipt for {event_id} written to {out}")


@app.command("review-assets")
def review_assets(
    vouchers: Annotated[
        list[str] | None,
        typer.Argument(help="Voucher ids of the package (vch_...); all vouchers when none is given."),
    ] = None,
    package_file: Annotated[
        Path | None, typer.Option("--file", "-f", help="A file with one voucher id per line (the asset package).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the full JSON report here.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Re-check the trade background of every hop of an asset package (issues, transfers, financings) against
    the platform's current documents and invoice usage, as a bank or a securitisation pool would before buying it.
    Read-only: nothing is recorded."""
    from tierflow.services.asset_review import review_package
    from tierflow.store.asset_reads import asset_reads

    ids = list(vouchers or [])
    if package_file is not None:
        try:
            ids += [line.strip() for line in package_file.read_text().splitlines() if line.strip()]
        except OSError as error:
            _fail(f"cannot read {package_file}: {error.strerror}")
    platform = _open()
    with _progress() as progress:
        task = progress.add_task("reviewing vouchers", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        with asset_reads(platform.engine) as reads:
            report = review_package(reads, ids or None, today=platform.clock().date(), progress=advance)
    result = report.as_json()
    if out is not None:
        out.write_text(json.dumps(result, indent=2) + "\n")
    if json_out:
        print(json.dumps(result, indent=2))
        return
    table = Table(title="asset package review", show_header=False)
    table.add_row("vouchers", str(report.vouchers))
    table.add_row("hops", ", ".join(f"{k} {v}" for k, v in sorted(report.hops.items())) or "none")
    table.add_row("outcomes", ", ".join(f"{k} {v}" for k, v in result["outcomes"].items()))
    table.add_row("failing rules", ", ".join(f"{k} {v}" for k, v in sorted(report.rule_fails.items())) or "none")
    table.add_row("warning rules", ", ".join(f"{k} {v}" for k, v in sorted(report.rule_warns.items())) or "none")
    table.add_row("seconds", f"{report.seconds:.2f}")
    if report.missing_vouchers:
        table.add_row("unknown vouchers", ", ".join(report.missing_vouchers[:10]))
    console.print(table)
    for hop in report.failed[:20]:
        console.print(f"[red]fail[/red] {hop.kind} {hop.id} (voucher {hop.voucher_id})")
        for failure in hop.failures:
            console.print(f"  {failure.version}: " + "; ".join(failure.reasons))
    if len(report.failed) > 20:
        console.print(f"... and {len(report.failed) - 20} more failing hops (see --json or --out)")


esg = typer.Typer(help="ESG figures (HKEX ESG Reporting Guide KPIs) from activity and HR data.", no_args_is_help=True)
app.add_typer(esg, name="esg")


@esg.command("report")
def esg_report(
    input_file: Annotated[
        Path | None,
        typer.Option("--input", "-i", help="The inputs (JSON: year, employees, activities with pinned factors...)."),
    ] = None,
    example: Annotated[bool, typer.Option("--example", help="Use the bundled 2021 example inputs.")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv, json or html.")] = "table",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the report here instead of stdout.")] = None,
) -> None:
    """Compute the ESG KPI table: GHG by scope with every factor pinned by id, intensities, energy, water,
    waste, workforce, turnover and training; as a table, CSV, JSON, or an HTML report with charts."""
    from importlib import resources

    from tierflow.domain.errors import DomainError
    from tierflow.green.esg import build_table
    from tierflow.green.esg_inputs import EsgInputError, parse_inputs
    from tierflow.green.report import render_csv, render_html, render_json

    if fmt not in ("table", "csv", "json", "html"):
        _fail(f"unknown format {fmt!r}", "use table, csv, json or html")
    if (input_file is None) == (not example):
        _fail("give the inputs with --input FILE, or --example for the bundled 2021 inputs")
    try:
        if input_file is not None:
            text = input_file.read_text()
        else:
            text = resources.files("tierflow.green").joinpath("data/examples/esg-2021.json").read_text()
        data = json.loads(text, parse_float=lambda raw: _reject_float(raw))
        table = build_table(parse_inputs(data))
    except OSError as error:
        _fail(f"cannot read {input_file}: {error.strerror}")
    except json.JSONDecodeError as error:
        _fail(f"the inputs are not JSON: {error}")
    except (EsgInputError, DomainError, ValueError) as error:
        _fail(f"the inputs do not hold: {error}")
    if fmt == "table":
        grid = Table(title=f"ESG KPIs {table.year}")
        for column in ("KPI", "item", "value", "unit"):
            grid.add_column(column)
        for row in table.rows:
            grid.add_row(row.code, row.item, "" if row.value is None else str(row.value), row.unit)
        Console(width=160).print(grid)  # the report itself goes to standard output
        return
    rendered = {"csv": render_csv, "json": render_json}.get(fmt)
    text_out = rendered(table) if rendered else render_html(table, "ESG KPIs")
    if out is None:
        print(text_out, end="" if text_out.endswith("\n") else "\n")
    else:
        out.write_text(text_out)
        console.print(f"report written to {out}")


def _reject_float(raw: str) -> Any:
    raise ValueError(f"write the number {raw} as a string (\"{raw}\"): binary floats would change the figures")


footprint = typer.Typer(
    help="Product carbon footprints (PACT v3): import, export, and the clients that read them.", no_args_is_help=True
)
app.add_typer(footprint, name="footprint")


@footprint.command("import")
def footprint_import(
    file: Annotated[Path, typer.Argument(help="JSON: one footprint, a list, or {\"data\": [...]}, PACT v2 or v3.")],
    party: Annotated[str, typer.Option("--party", help="The data owner's party id (pty_...).")],
    json_out: JsonFlag = False,
) -> None:
    """Publish footprints as the data owner (a v2 document is converted to v3)."""
    from tierflow.domain.errors import DomainError
    from tierflow.services.footprints import import_footprints

    platform = _open()
    try:
        ids = import_footprints(platform.footprints, party, file)
    except OSError as error:
        _fail(f"cannot read {file}: {error.strerror}")
    except (DomainError, ValueError) as error:
        _fail(f"the footprints do not hold: {error}")
    if json_out:
        print(json.dumps({"published": ids}))
    else:
        console.print(f"published {len(ids)} footprint(s) for {party}")


@footprint.command("export")
def footprint_export(
    party: Annotated[str, typer.Option("--party", help="The data owner's party id (pty_...).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the footprints here.")],
    version: Annotated[int, typer.Option("--version", help="PACT data model version: 3 (default) or 2.")] = 3,
) -> None:
    """Write the owner's footprints as {"data": [...]} in PACT v3 (or v2) JSON."""
    from tierflow.services.footprints import export_footprints

    if version not in (2, 3):
        _fail("--version is 2 or 3")
    platform = _open()
    count = export_footprints(platform.footprints, party, out, version=version)
    console.print(f"{count} footprint(s) written to {out}")


@footprint.command("client")
def footprint_client(
    owner: Annotated[str, typer.Option("--owner", help="The data owner's party id.")],
    reader: Annotated[str, typer.Option("--for", help="The party that will read the footprints.")],
    events_url: Annotated[str | None, typer.Option("--events-url", help="Where its PACT events go.")] = None,
) -> None:
    """Register a PACT client (OAuth client credentials) for a party to read an owner's footprints; the secret is
    shown once."""
    from tierflow.domain.errors import DomainError

    platform = _open()
    try:
        client, secret = platform.footprints.register_client(owner, reader, events_url=events_url)
    except DomainError as error:
        _fail(error.message)
    answer = {"client_id": client.client_id, "client_secret": secret, "token_url": "/pact/auth/token"}
    print(json.dumps(answer, indent=2))


@admin.command("token")
def token(party_id: Annotated[str, typer.Argument(help="The party's id (pty_...).")]) -> None:
    """Issue a new API token for a party (the old one stops working)."""
    platform = _open()
    with platform.uow() as uow:
        if uow.repo.get_party(party_id) is None:
            _fail(f"no party {party_id!r}", "list parties with GET /v1/parties")
    print(platform.access.issue_token(party_id))


@admin.command("user")
def add_user(
    username: Annotated[str, typer.Argument(help="Sign-in name: 3-64 of a-z 0-9 . _ -")],
    party_id: Annotated[str, typer.Option("--party", help="The party the user signs in for (pty_...).")],
    name: Annotated[str, typer.Option("--name", help="The person's name, shown in the portal.")],
    auditor: Annotated[bool, typer.Option("--auditor", help="Read-only: may look, never act.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Create a portal user. The password is read from standard input (never from the command line), so it
    stays out of shell history: printf '%s' "$PASSWORD" | tierflow admin user ...
    """
    from tierflow.domain.errors import DomainError
    from tierflow.services.accounts import PortalRole

    password = sys.stdin.read().rstrip("\n")
    platform = _open()
    try:
        user = platform.accounts.create_user(
            username=username,
            password=password,
            party_id=party_id,
            display_name=name,
            role=PortalRole.AUDITOR if auditor else PortalRole.MEMBER,
        )
    except DomainError as error:
        _fail(error.message, "the password comes from standard input and needs at least 10 characters")
        return
    finally:
        platform.close()
    result = {"user_id": user.id, "username": user.username, "party_id": user.party.id, "role": user.role.value}
    if json_out:
        print(json.dumps(result))
    else:
        console.print(f"portal user {user.username} created for {user.party.name} ({user.role.value})")


@admin.command("custody")
def custody(
    party_id: Annotated[str, typer.Argument(help="The party whose signing key the platform will keep (pty_...).")],
    seed_file: Annotated[Path, typer.Option("--seed-file", help="File with the base64 Ed25519 seed (32 bytes).")],
) -> None:
    """Hand a party's signing key to the platform so its portal users can act (custody: the platform then
    signs for the party; see docs/THREAT_MODEL.md). The key must be the party's registered key."""
    import base64
    import binascii

    from nacl.signing import SigningKey

    from tierflow.domain.errors import DomainError

    try:
        seed = base64.b64decode(seed_file.read_text().strip(), validate=True)
    except (OSError, binascii.Error) as error:
        _fail(f"cannot read a base64 seed from {seed_file}: {error}")
        return
    if len(seed) != 32:
        _fail(f"the seed in {seed_file} is {len(seed)} bytes; an Ed25519 seed is 32")
    platform = _open()
    try:
        platform.accounts.keep_signing_key(party_id, SigningKey(seed))
    except DomainError as error:
        _fail(error.message)
    finally:
        platform.close()
    console.print(f"the platform now keeps the signing key of {party_id}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
