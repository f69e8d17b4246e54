"""Write a local .env from .env.example, with a freshly generated SECRET_KEY (and database password).

Used by `make run` on first start, so that a newcomer runs with DEBUG off and a real secret
without having to edit anything; the same file serves `docker compose up`, which also needs a
POSTGRES_PASSWORD. An existing .env is never overwritten. The file is readable by its owner only
(mode 0600): it holds the secrets.
"""

import os
import secrets
import sys
from pathlib import Path

# Secrets that the example leaves empty and that a fresh .env gets random values for.
GENERATED = {"SECRET_KEY": 50, "POSTGRES_PASSWORD": 24}


def main(example: str, target: str) -> None:
    target_path = Path(target)
    if target_path.exists():
        return
    lines = []
    for line in Path(example).read_text().splitlines():
        name, _, value = line.partition("=")
        if name in GENERATED and not value:
            line = f"{name}={secrets.token_urlsafe(GENERATED[name])}"
        lines.append(line)
    # Created with its final mode in one step (never world-readable, not even for a moment), and
    # O_EXCL so that a file appearing meanwhile is not overwritten.
    fd = os.open(target_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)  # exact whatever the umask took away: the owner must still be able to edit it
    with os.fdopen(fd, "w") as file:
        file.write("\n".join(lines) + "\n")
    print(f"wrote {target} with a new SECRET_KEY and POSTGRES_PASSWORD")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
