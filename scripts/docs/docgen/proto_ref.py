"""gRPC API reference: the services, RPCs and messages of a proto file, and the file itself."""

from __future__ import annotations

import re
from dataclasses import dataclass

from docgen import ROOT, DocGenError
from docgen.text import cell, table

_SERVICE = re.compile(r"^service\s+(\w+)\s*\{?", re.M)
_RPC = re.compile(
    r"rpc\s+(\w+)\s*\(\s*(stream\s+)?(\w+)\s*\)\s*returns\s*\(\s*(stream\s+)?(\w+)\s*\)"
)
_MESSAGE = re.compile(r"^message\s+(\w+)", re.M)
_PACKAGE = re.compile(r"^package\s+([\w.]+)\s*;", re.M)


@dataclass(frozen=True)
class Rpc:
    """One RPC: its name, request and response messages, and its leading comment."""

    service: str
    name: str
    request: str
    response: str
    comment: str


def _leading_comment(lines: list[str], index: int) -> str:
    comment: list[str] = []
    i = index - 1
    while i >= 0 and lines[i].strip().startswith("//"):
        comment.insert(0, lines[i].strip().lstrip("/").strip())
        i -= 1
    return " ".join(comment)


def parse_rpcs(text: str) -> list[Rpc]:
    """Every RPC of every service in a proto file's text, with its leading comment."""
    lines = text.splitlines()
    rpcs, service = [], ""
    for index, line in enumerate(lines):
        if match := _SERVICE.match(line):
            service = match.group(1)
        elif match := _RPC.search(line):
            request = ("stream " if match.group(2) else "") + match.group(3)
            response = ("stream " if match.group(4) else "") + match.group(5)
            comment = _leading_comment(lines, index)
            rpcs.append(Rpc(service, match.group(1), request, response, comment))
    return rpcs


def proto_markdown(relative_path: str) -> str:
    """The RPC table and message list of a proto file, then the file in a code block."""
    path = ROOT / relative_path
    if not path.is_file():
        raise DocGenError(f"proto file {relative_path} does not exist")
    text = path.read_text()
    rpcs = parse_rpcs(text)
    if not rpcs:
        raise DocGenError(f"{relative_path} declares no rpc: nothing to document")
    package = _PACKAGE.search(text)
    prefix = f"{package.group(1)}." if package else ""
    out = [
        f"Generated from `{relative_path}`.\n",
        table(
            ["Service", "RPC", "Request", "Response", "What it does"],
            [
                [
                    f"`{prefix}{r.service}`",
                    f"`{r.name}`",
                    f"`{r.request}`",
                    f"`{r.response}`",
                    cell(r.comment),
                ]
                for r in rpcs
            ],
        ),
        "Messages: " + ", ".join(f"`{name}`" for name in _MESSAGE.findall(text)) + ".\n",
        f'??? abstract "The full proto: {relative_path}"\n',
        "    ```protobuf",
        *(f"    {line}" if line else "" for line in text.splitlines()),
        "    ```\n",
    ]
    return "\n".join(out)
