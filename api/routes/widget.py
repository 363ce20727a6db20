"""The embeddable widget (``GET /widget.js``) and the demo page that embeds it (``GET /``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["widget"])


@router.get(
    "/widget.js",
    response_class=FileResponse,
    summary="The chat widget (one <script> tag)",
    responses={200: {"content": {"text/javascript": {}}, "description": "Plain JavaScript, no build step."}},
)
async def widget_js() -> FileResponse:
    return FileResponse(
        STATIC / "widget.js",
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get(
    "/",
    response_class=FileResponse,
    summary="A demo page that embeds the widget",
    responses={200: {"content": {"text/html": {}}, "description": "The demo page."}},
)
async def demo() -> FileResponse:
    return FileResponse(STATIC / "demo.html", media_type="text/html; charset=utf-8")
