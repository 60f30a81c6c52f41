"""Exit 0 if the PostgreSQL URL given answers, else 1 (used by `make test-postgres`)."""

import asyncio
import sys

from sqlalchemy import text

from services.common.db import make_engine


async def main(url: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=5)
        return 0
    except Exception:
        return 1
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
