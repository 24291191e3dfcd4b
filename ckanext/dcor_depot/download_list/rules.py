"""Pure rules of the download list: the limits of a batch, its refusal
line, and the figures the page shows. No I/O here."""
from __future__ import annotations

DEFAULT_NAME = "download"
# download speeds (Mbit/s) the page offers for its time estimate
SPEEDS_MBIT = (10, 50, 100, 1000)
DEFAULT_SPEED_MBIT = 100


def human_bytes(size: int) -> str:
    """Decimal units, as the limits are given (2 GB = 2,000,000,000 bytes)."""
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} bytes" if unit == "bytes" \
                else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def limit_refusal(count: int, total_bytes: int, add_count: int,
                  add_bytes: int, max_files: int, max_bytes: int
                  ) -> str | None:
    """The one line that refuses a batch which would take the list over a
    limit (max_bytes 0: no byte limit), or None when it fits."""
    over_files = count + add_count > max_files
    over_bytes = bool(max_bytes) and total_bytes + add_bytes > max_bytes
    if not (over_files or over_bytes):
        return None
    limit = f"{max_files} files" + (
        f" and {human_bytes(max_bytes)}" if max_bytes else "")
    return (f"not added: the download list holds {count} files "
            f"({human_bytes(total_bytes)}) and this would add {add_count} "
            f"files ({human_bytes(add_bytes)}), over the limit of {limit}")


def new_ids(on_list: set[str], wanted: list[str]) -> list[str]:
    """The wanted ids not yet on the list, each once, in order (duplicates
    are ignored, not refused)."""
    seen = set(on_list)
    fresh = []
    for rid in wanted:
        if rid not in seen:
            seen.add(rid)
            fresh.append(rid)
    return fresh


def download_seconds(total_bytes: int, mbit_per_s: float) -> float:
    return total_bytes * 8 / (mbit_per_s * 1_000_000)


def human_duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def speed_choice(value: object) -> int:
    """The speed picked on the page, or the default for anything else."""
    try:
        speed = int(str(value))
    except ValueError:
        return DEFAULT_SPEED_MBIT
    return speed if speed in SPEEDS_MBIT else DEFAULT_SPEED_MBIT


def is_local_path(value: str) -> bool:
    """Whether a form's `came_from` is a path on this site, safe to
    redirect to: it starts with one "/", and holds no backslash, no
    whitespace and no control character (browsers drop tabs and newlines
    from URLs, so "/<tab>/host" would become "//host", another site)."""
    return value.startswith("/") and not value.startswith("//") and \
        not any(ch == "\\" or ch.isspace() or ord(ch) < 32 or ord(ch) == 127
                for ch in value)
