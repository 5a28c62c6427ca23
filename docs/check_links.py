"""Check the internal links and images of the built HTML documentation.

    python docs/check_links.py docs/_build/html

Every ``href`` and ``src`` of every page that points inside the site must name an
existing file, and a ``#fragment`` must name an ``id`` (or ``name``) on the target
page. Links to other sites are listed, not fetched (the build machines have no
network access); ``file:`` links and absolute paths are errors (they break once the
site is published). Exit status 1 when anything is broken.
"""

import sys
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []  # (attribute, value)
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            value = attrs.get(key)
            if value is not None and not (tag == "link" and attrs.get("rel") in
                                          ("preconnect", "dns-prefetch")):
                self.links.append((f"<{tag} {key}>", value))


def _parse(path, cache):
    if path not in cache:
        page = _Page()
        page.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = page
    return cache[path]


def check(root):
    root = Path(root).resolve()
    # _static/ holds the theme's assets (its *.html are Jinja templates, not pages)
    pages = sorted(p for p in root.rglob("*.html")
                   if "_static" not in p.relative_to(root).parts)
    cache, broken, external = {}, [], defaultdict(int)
    n_links = 0
    for page_path in pages:
        page = _parse(page_path, cache)
        for what, value in page.links:
            n_links += 1
            parts = urlsplit(value)
            if parts.scheme in ("http", "https", "mailto", "data", "javascript"):
                if parts.scheme in ("http", "https"):
                    external[parts.netloc] += 1
                continue
            if parts.scheme or value.startswith("/"):
                broken.append((page_path, what, value, "absolute or file: link"))
                continue
            target = (page_path.parent / unquote(parts.path)).resolve() if parts.path \
                else page_path
            if target.is_dir():
                target = target / "index.html"
            if root not in target.parents and target != root:
                broken.append((page_path, what, value, "points outside the site"))
                continue
            if not target.exists():
                broken.append((page_path, what, value, "missing file"))
                continue
            if parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in _parse(target, cache).ids:
                    broken.append((page_path, what, value, "missing anchor"))
    return pages, n_links, broken, external


def main(argv):
    root = argv[1] if len(argv) > 1 else "docs/_build/html"
    pages, n_links, broken, external = check(root)
    if not pages:
        print(f"no HTML pages under {root}: build the docs first")
        return 1
    print(f"{len(pages)} pages, {n_links} links and images checked")
    print(f"external links (not fetched, no network here): {sum(external.values())} to "
          f"{len(external)} hosts")
    for page, what, value, why in broken:
        print(f"BROKEN {Path(page).relative_to(Path(root).resolve())}: {what} {value!r}: "
              f"{why}")
    print(f"{len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
