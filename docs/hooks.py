"""MkDocs hooks of the documentation site.

The Markdown sources link to files of the repository the way GitHub resolves them: relative to
the file, e.g. ``../benchmarks/README.md`` from ``docs/index.md``. The site holds ``docs/``
and, as one more page, ``benchmarks/README.md`` (at ``benchmarks.md``). This hook rewrites
every relative link so that it works on the site too:

* a link to a page or picture of the site points to it from where the page is on the site;
* a link to another file of the repository (a script, a result file) becomes its path in the
  repository, in code, since the site does not hold it;
* a link to a file that does not exist is a warning, which fails ``mkdocs build --strict``.
"""
from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.repository_links")

#: repository files published as extra pages: repository path -> path on the site
EXTRA_PAGES = {"benchmarks/README.md": "benchmarks.md"}
LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)", re.M)


def _root(config) -> Path:
    return Path(config.config_file_path).resolve().parent


def on_files(files, config):
    root = _root(config)
    for repo_path, site_path in EXTRA_PAGES.items():
        files.append(File.generated(config, site_path, abs_src_path=str(root / repo_path)))
    return files


def _rewrite(match: re.Match, source: Path, site_dir: str, root: Path, docs: Path) -> str:
    target = match.group("target")
    if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
        return match.group(0)
    path, _, anchor = target.partition("#")
    real = (source.parent / path).resolve()
    if not real.exists():
        log.warning("%s: the link %r points to no file (%s)", source.relative_to(root), target,
                    real)
        return match.group(0)
    repo_path = real.relative_to(root).as_posix() if real.is_relative_to(root) else None
    if real.is_relative_to(docs):
        on_site = real.relative_to(docs).as_posix()
    elif repo_path in EXTRA_PAGES:
        on_site = EXTRA_PAGES[repo_path]
    else:
        text = match.group("text")
        shown = f"`{repo_path}`"
        return shown if text.strip("`") in (repo_path, path) else f"{text} ({shown})"
    new = posixpath.relpath(on_site, site_dir or ".")
    return f"{match.group('bang')}[{match.group('text')}]({new}{'#' + anchor if anchor else ''})"


def on_page_markdown(markdown, page, config, files):
    root = _root(config)
    docs = Path(config.docs_dir).resolve()
    source = Path(page.file.abs_src_path).resolve()
    site_dir = posixpath.dirname(page.file.src_uri)
    pieces = FENCE.split(markdown)
    # FENCE.split keeps the fence markers: text, marker, code, marker, text, ...
    out, inside = [], False
    for piece in pieces:
        if piece in ("```", "~~~"):
            inside = not inside
            out.append(piece)
        elif inside:
            out.append(piece)
        else:
            out.append(LINK.sub(lambda m: _rewrite(m, source, site_dir, root, docs), piece))
    return "".join(out)

