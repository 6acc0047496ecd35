"""``qg ingest …``: imports that do not come over a webhook.

``qg ingest wecom-archive FILE`` reads decrypted WeCom chat-archive records (JSON Lines), in batches,
through the same intake as the HTTP endpoint: each batch is on the log before the next is read, and
re-running the same file publishes nothing twice (the summary says how many were duplicates).
A batch with a bad line stops the import there, naming the lines; earlier batches stay imported,
so after fixing the file the same command finishes the job.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="接入 / Ingest: imports of platform exports.")

BATCH_LINES = 5000


@app.callback()
def main() -> None:
    """接入服务命令 / Ingest commands."""


def _batches(path: Path, size: int) -> Iterator[tuple[int, list[bytes]]]:
    """(first line number, lines) of at most ``size`` lines; line numbers start at 1."""
    batch: list[bytes] = []
    start = 1
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not batch:
                start = number
            batch.append(line)
            if len(batch) >= size:
                yield start, batch
                batch = []
    if batch:
        yield start, batch


@app.command("wecom-archive")
def wecom_archive(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="解密后的会话存档 JSON Lines 文件 / decrypted archive, JSON Lines")],
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="每批行数 / lines per batch")] = BATCH_LINES,
) -> None:
    """导入企业微信会话内容存档 / Import WeCom chat-archive records (idempotent)."""
    from services.common.db import create_tables, make_engine
    from services.common.eventlog import open_log
    from services.common.settings import get_settings
    from services.ingest.adapters import wecom
    from services.ingest.adapters.base import PayloadError
    from services.ingest.intake import Intake, Receipt
    from services.ingest.models import TABLES

    settings = get_settings()
    engine = make_engine(settings.database_url("ingest"))
    create_tables(engine, TABLES)
    log = open_log(settings)
    producer = log.producer()
    intake = Intake(producer, engine)
    accepted = duplicates = skipped = 0
    try:
        for first, lines in _batches(file, batch):
            try:
                parsed = wecom.parse_archive_lines(lines, first_line=first)
            except PayloadError as exc:
                for err in exc.errors[:20]:
                    typer.echo(f"  {err.field}: {err.message}", err=True)
                typer.echo(f"第 {first} 行起的一批有误，已停止；此前 {accepted} 条已导入。"
                           f" / Batch from line {first} is invalid; stopped after {accepted} imported.", err=True)
                raise typer.Exit(1) from exc
            receipt = Receipt(adapter="wecom-archive", platform="wecom", received_at=datetime.now(timezone.utc),
                              body=b"".join(lines), signature="verified", headers={"file": file.name})
            outcome = intake.accept(receipt, parsed)
            accepted, duplicates, skipped = (accepted + outcome.accepted, duplicates + outcome.duplicates,
                                             skipped + outcome.ignored)
    finally:
        intake.close()
        producer.close()
        log.close()
        engine.dispose()
    typer.echo(f"导入完成：新增 {accepted} 条，重复 {duplicates} 条，跳过 {skipped} 条（单聊或切换记录）。\n"
               f"Imported {accepted} new, {duplicates} duplicates, {skipped} skipped (one-to-one or switch records).")
