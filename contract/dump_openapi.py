"""Write the gateway's merged OpenAPI document (the public contract) to a file, in-process.

The services' own documents need no database, so this runs anywhere the package is installed:
``python -m contract.dump_openapi build/contract/openapi.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gateway.openapi import merge_documents
from gateway.settings import DEFAULT_ROUTES
from services.assessment.app import create_app as create_assessment
from services.reporting.app import create_app as create_reporting
from services.training.app import create_app as create_training


def merged_document() -> dict[str, Any]:
    """What ``GET /openapi.json`` at the gateway answers when every service is up."""
    documents = {
        "assessment": create_assessment().openapi(),
        "training": create_training().openapi(),
        "reporting": create_reporting().openapi(),
    }
    return merge_documents(documents, dict(DEFAULT_ROUTES))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m contract.dump_openapi OUT.json", file=sys.stderr)
        return 2
    out = Path(argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(merged_document(), indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
