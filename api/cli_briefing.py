"""``pingan briefing``: a briefing (周报/月报) of a district or subdistrict as an A4 PDF or HTML.

The command line runs as admin (:func:`api.cli_metrics.context_and_admin`) through the same
service and renderer as ``/api/v1/briefings`` (:mod:`api.services.briefing`, :mod:`api.briefing`).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from api.cli_metrics import context_and_admin

__all__ = ["register"]


class BriefingFormat(str, Enum):
    """What the briefing is written as."""

    pdf = "pdf"
    html = "html"


class BriefingLang(str, Enum):
    """Languages of a briefing."""

    zh = "zh"
    en = "en"


def _say(message_zh: str, message_en: str, lang: str) -> None:
    typer.echo(message_zh if lang == "zh" else message_en, err=True)


def briefing_cmd(
    ctx: typer.Context,
    period: Annotated[str, typer.Option(
        help="时段：周 2025-W49、月 2025-11、季 2025-Q4 或年 2025 (a week, month, quarter or "
             "year).")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="输出文件 (the file to write), e.g. briefing.pdf.")],
    district: Annotated[str | None, typer.Option(
        help="区（代码或名称）；不给则为全市 (district code or name; default: the whole "
             "city).")] = None,
    subdistrict: Annotated[str | None, typer.Option(
        help="街道（代码或名称） (subdistrict code or name).")] = None,
    fmt: Annotated[BriefingFormat | None, typer.Option(
        "--format", help="pdf 或 html；默认按输出文件的扩展名 (default: by the file's "
                         "suffix, else pdf).")] = None,
    lang: Annotated[BriefingLang | None, typer.Option(
        "--lang", help="语言 zh 或 en；默认为 pingan --lang (default: the command line's "
                       "language).")] = None,
) -> None:
    """生成周报/月报（A4 PDF 或 HTML）：发案概况、发案率和热点地图、预警、创建率 (a briefing)."""
    from api.briefing import briefing_html, briefing_pdf
    from api.services.briefing import briefing

    language = lang.value if lang is not None else ctx.find_root().obj.lang
    chosen = fmt or (BriefingFormat.html if out.suffix.lower() in (".html", ".htm")
                     else BriefingFormat.pdf)
    sc, vis = context_and_admin(ctx)
    where = district or subdistrict or ("全市" if language == "zh" else "the whole city")
    _say(f"正在汇总 {where} {period} 的数据…", f"gathering {where}, {period}…", language)
    b = briefing(sc, vis, period=period, district=district, subdistrict=subdistrict)
    page = briefing_html(b, "en" if language == "en" else "zh")
    if chosen is BriefingFormat.html:
        out.write_text(page, encoding="utf-8")
    else:
        _say("正在用无头 Chromium 打印 PDF…", "printing the PDF with headless Chromium…",
             language)
        try:
            out.write_bytes(briefing_pdf(page, browser=sc.settings.maps.browser))
        except RuntimeError as exc:
            from api.cli import UserError

            raise UserError(str(exc)) from None
    size_kb = out.stat().st_size / 1024
    _say(f"已写入 {out}（{size_kb:,.0f} KB）", f"wrote {out} ({size_kb:,.0f} KB)", language)


def register(app: typer.Typer) -> None:
    """Add ``briefing`` to the ``pingan`` command line."""
    app.command("briefing")(briefing_cmd)
