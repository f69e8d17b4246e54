"""Write a local .env from .env.example, with a freshly generated SECRET_KEY.

Used by `make run` on first start, so that a newcomer runs with DEBUG off and a real secret
without having to edit anything. An existing .env is never overwritten.
"""

import secrets
import sys
from pathlib import Path


def main(example: str, target: str) -> None:
    target_path = Path(target)
    if target_path.exists():
        return
    lines = []
    for line in Path(example).read_text().splitlines():
        if line.startswith("SECRET_KEY="):
            line = f"SECRET_KEY={secrets.token_urlsafe(50)}"
        lines.append(line)
    target_path.write_text("\n".join(lines) + "\n")
    print(f"wrote {target} with a new SECRET_KEY")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
