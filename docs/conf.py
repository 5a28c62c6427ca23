"""Sphinx configuration for the skrank documentation.

Build (from the repository root; the gallery runs every example, a few minutes,
about 5 on 2 cores)::

    pip install -e ".[docs]"
    OMP_NUM_THREADS=1 python -m sphinx -W -b html docs docs/_build/html

``SKRANK_DOCS_NO_GALLERY=1`` skips executing the examples (their pages then
show the code without output) for a quick check of the prose and API pages.
"""

import os
import re
import sys
from pathlib import Path

import skrank

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

project = "skrank"
author = "the skrank developers"
copyright = "2026, the skrank developers"
version = release = skrank.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md", "**/README.rst", "sg_execution_times.rst",
                    "api_template.rst"]
templates_path = ["_templates"]
myst_heading_anchors = 3
# `name` in reStructuredText is code, as in scikit-learn: shapes such as
# ``ndarray of shape (`n_iter_`,)`` (a bare ``n_iter_`` would be a link target)
default_role = "literal"
# no MathJax: it would be fetched from another site, and the pages must render
# offline; formulas are written as code (``(alpha / L) ||theta||^2``)
myst_enable_extensions = []
suppress_warnings = ["myst.header"]

# -- API reference ----------------------------------------------------------
autosummary_generate = True
# The class pages list and document their public methods through the template
# _templates/autosummary/class.rst (an autosummary table and one ``automethod``
# each, as scikit-learn's pages), so autodoc itself adds no members.
autodoc_default_options = {"members": False, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Docstring validation: a failure is a warning, an error under -W. The checks are
# the structural ones (sections known and in order, every parameter documented,
# a Returns section, a one-line imperative summary). Left out: RT02 (it forbids
# the named returns scikit-learn uses), the description-only checks (PR07, RT03,
# SA03, ES01: short parameters such as ``random_state`` are clear without one)
# and SA01/EX01 (not every helper class needs See Also or Examples).
# SKRANK_DOCS_ALLCHECKS=1 runs every check, to see what is left.
numpydoc_validate = True
numpydoc_validation_checks = {"all"} if os.environ.get("SKRANK_DOCS_ALLCHECKS") else {
    "GL02", "GL03", "GL05", "GL06", "GL07", "GL09", "GL10",
    "PR01", "PR02", "PR03", "PR05", "PR06", "PR08", "PR09", "PR10",
    "RT01", "RT04", "RT05",
    "SS01", "SS02", "SS03", "SS05", "SS06",
    "SA02", "SA04", "YD01",
}
# Patterns of objects left out of validation while their docstrings are rewritten
# with their code (each with its fix listed in docs/contributing.md). None now.
_PENDING = []
numpydoc_validation_exclude = {r"\.__init__$", r"\._[a-z]", r"\.__.*__$", *(
    [] if os.environ.get("SKRANK_DOCS_ALLCHECKS") else _PENDING)}

# -- gallery ----------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "plot_gallery": "False" if os.environ.get("SKRANK_DOCS_NO_GALLERY") else "True",
    "abort_on_example_error": True,
    "min_reported_time": 0,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "download_all_examples": False,
    "backreferences_dir": None,
}

# -- HTML -------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skrank {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 6,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
    # no outside assets or version lookups: the site must render offline
    "icon_links": [],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False


# -- a Sphinx bug ------------------------------------------------------------
def _unparse_dict_with_unpacking():
    """Let Sphinx's source analyzer unparse ``{**a, "k": v}`` (a decorator in theory.py).

    Sphinx 9's ``_UnparseVisitor.visit_Dict`` zips keys (``None`` for ``**a``) with
    values and fails, so viewcode drops the module's source page and its index
    links to a missing file. Unparse ``**`` entries as Python does.
    """
    from sphinx.pycode import ast as sphinx_ast

    def visit_Dict(self, node):
        items = ("**" + self.visit(v) if k is None else self.visit(k) + ": " + self.visit(v)
                 for k, v in zip(node.keys, node.values))
        return "{" + ", ".join(items) + "}"

    sphinx_ast._UnparseVisitor.visit_Dict = visit_Dict


_unparse_dict_with_unpacking()


# -- API page: one autosummary entry per exported name ----------------------
def _public(module):
    return [n for n in module.__all__ if not n.startswith("_")]


def _api_lists():
    """Render the autosummary blocks of ``api.rst`` from the packages' ``__all__``."""
    import inspect

    from skrank import datasets, diagnostics, persistence, plotting, theory

    top = [n for n in _public(skrank) if not inspect.ismodule(getattr(skrank, n))]
    classes = [n for n in top if inspect.isclass(getattr(skrank, n))
               and not issubclass(getattr(skrank, n), Warning)]
    warns = [n for n in top if inspect.isclass(getattr(skrank, n))
             and issubclass(getattr(skrank, n), Warning)]
    funcs = [n for n in top if n not in classes and n not in warns]

    def block(prefix, names, template=None):
        lines = [f".. currentmodule:: {prefix.rstrip('.')}", "", ".. autosummary::",
                 "   :toctree: generated/"]
        if template:
            lines.append(f"   :template: {template}")
        lines.append("")
        lines += [f"   {n}" for n in names]
        return "\n".join(lines) + "\n"

    def module_block(mod):
        # names also exported at the top level are documented there, once
        names = [n for n in _public(mod) if getattr(skrank, n, None) is not getattr(mod, n)]
        classes = [n for n in names if inspect.isclass(getattr(mod, n))]
        funcs = [n for n in names if callable(getattr(mod, n)) and n not in classes]
        consts = [n for n in names if n not in classes and n not in funcs]
        out = ""
        if classes:
            out += block(f"{mod.__name__}.", classes, "autosummary/class.rst") + "\n"
        if funcs:
            out += block(f"{mod.__name__}.", funcs) + "\n"
        if consts:
            out += "Constants:\n\n" + "\n".join(
                f"- ``{mod.__name__}.{n} = {getattr(mod, n)!r}``" for n in consts) + "\n"
        return out

    return {
        "ESTIMATORS": block("skrank.", classes, "autosummary/class.rst"),
        "WARNINGS": block("skrank.", warns, "autosummary/class.rst"),
        "TOPFUNCS": block("skrank.", funcs),
        "DIAGNOSTICS": module_block(diagnostics),
        "THEORY": module_block(theory),
        "DATASETS": module_block(datasets),
        "PLOTTING": module_block(plotting),
        "PERSISTENCE": (module_block(persistence)
                        + "\nSaving and loading: :func:`skrank.save`, :func:`skrank.load`.\n"),
        "EXPORTED": ", ".join(f"``{n}``" for n in _public(skrank)),
    }


def _write_api_page():
    """Write ``api.rst`` (a build output) from ``api_template.rst`` and ``__all__``.

    autosummary reads the page before any Sphinx event could fill it in, so the
    lists are rendered into the file when this configuration is loaded.
    """
    lists = _api_lists()
    text = (HERE / "api_template.rst").read_text()
    text = re.sub(r"@@([A-Z]+)@@", lambda m: lists[m.group(1)], text)
    target = HERE / "api.rst"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


_write_api_page()


def _check_api_complete(app, env):
    """Fail the build (under -W) when a name of ``skrank.__all__`` has no API page."""
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    generated = HERE / "generated"
    for name in _public(skrank):
        obj = getattr(skrank, name)
        if name == "__version__" or getattr(obj, "__name__", "").startswith("skrank."):
            continue  # modules are documented by sections of their own
        if not (generated / f"skrank.{name}.rst").exists():
            logger.warning(f"skrank.{name} is exported but has no API page")


# -- methods inherited from scikit-learn --------------------------------------
# The class pages list the inherited methods too (``get_params``, ``set_output``,
# ``score``...), as scikit-learn's pages do; their docstrings pass the validation
# above but cite labels of scikit-learn's site (``:ref:`User Guide
# <metadata_routing>```), undefined here (errors under -W). Those references
# become links to scikit-learn's pages (plain text when the page is not known).
_SKLEARN = "https://scikit-learn.org/stable/"
_SKLEARN_LABELS = {
    "r2_score": ("coefficient of determination", "modules/model_evaluation.html#r2-score"),
    "metadata_routing": ("User Guide", "metadata_routing.html"),
    "sphx_glr_auto_examples_miscellaneous_plot_set_output.py": (
        "Introducing the set_output API", "auto_examples/miscellaneous/plot_set_output.html"),
}
_REF = re.compile(r":ref:`(?:([^`<]*?)\s*<([^`>]+)>|([^`<]+))`")


def _sklearn_refs(app, what, name, obj, options, lines):
    """Rewrite ``:ref:`` roles of docstrings written by scikit-learn (see above)."""
    func = getattr(obj, "__func__", obj)
    if not (getattr(func, "__module__", None) or "").startswith("sklearn."):
        return

    def repl(m):
        text, label = (m.group(1), m.group(2)) if m.group(2) else (None, m.group(3))
        default, page = _SKLEARN_LABELS.get(label, (label, None))
        text = text or default
        return f"`{text} <{_SKLEARN}{page}>`__" if page else text

    lines[:] = [_REF.sub(repl, line) for line in lines]


def setup(app):
    app.connect("env-updated", _check_api_complete)
    app.connect("autodoc-process-docstring", _sklearn_refs)
