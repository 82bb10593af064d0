"""The chat page and its assets on disk: found safely under the static root, read (and gzipped)
once per version. What a file becomes (content type, ETag, the rendered page, whether gzip
pays) is chat.static_files'."""

from __future__ import annotations

from pathlib import Path

from chat import static_files


class Assets:
    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self._cache: dict[tuple[str, int], static_files.Asset] = {}

    def find(self, requested: str) -> Path | None:
        """The file under the root that `requested` names, or None (suspicious or missing)."""
        parts = static_files.path_parts(requested)
        if parts is None:
            return None
        try:
            resolved = self.root.joinpath(*parts).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        # A symlink may point out of the root: what counts is where the file really is.
        if not resolved.is_relative_to(self.root.resolve()) or not resolved.is_file():
            return None
        return resolved

    def get(
        self,
        requested: str,
        lazy_url: str | None = None,
        sign_in: tuple[str, ...] = (),
        max_length: int | None = None,
    ) -> static_files.Asset | None:
        """The asset `requested` names, read once per version of it on disk (the mtime tells
        a new deploy apart); None when there is no such file."""
        path = self.find(requested)
        if path is None:
            return None
        try:
            stat = path.stat()
            key = (f"{path}|{lazy_url or ''}|{' '.join(sign_in)}|{max_length}", stat.st_mtime_ns)
            asset = self._cache.get(key)
            if asset is None:
                body = path.read_bytes()
                asset = static_files.asset(
                    path.name, body, stat.st_mtime, lazy_url, sign_in, max_length
                )
                if static_files.worth_compressing(asset):
                    asset = static_files.with_gzip(asset, gzip_bytes(asset.body))
                self._cache[key] = asset
        except OSError:
            return None  # gone (or unreadable) since it was found: as if it never was
        return asset


def gzip_bytes(body: bytes) -> bytes:
    """`body` gzipped, the same bytes every time: a fixed mtime (0, "none" to RFC 1952) and no
    file name in the header, so every instance and every restart serves one ETag per version.
    Level 9: done once per version, so the smallest output is worth the milliseconds."""
    import gzip  # the first asset pays for it, not the cold start (indexing never serves one)

    return gzip.compress(body, compresslevel=9, mtime=0)
