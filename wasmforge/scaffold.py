"""``wasmforge new``: render a project template (``templates/<name>/``) into a new directory.

A template is a folder with ``template.toml`` (its description, and the style, language and main
source that the shared files speak of) and files; names ending in ``.j2`` are rendered with jinja2
(the suffix dropped), others are copied as they are. Every project also gets the files of
``templates/_shared/`` (a README, the GitHub Actions workflow) unless the template has its own of
the same name, a ``.gitignore``, and the JSON schema of ``wasmforge.toml`` in
``.wasmforge/wasmforge.schema.json``, which the ``#:schema`` line of its ``wasmforge.toml`` names:
a path in the project resolves in every clone and editor, with no network, and the file matches
the wasmforge that made the project (``wasmforge schema -o`` refreshes it).

The project is written to a temporary directory and renamed into place, so a failure leaves
nothing behind, and an existing non-empty directory is never written into.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from wasmforge.errors import UserError
from wasmforge.fsutil import atomic_dir
from wasmforge.resources import templates_dir

# Stricter than wasmforge.toml's own rule: the name also becomes a Cargo package name, which may not
# start with a digit.
PROJECT_NAME = re.compile(r"^[a-z][a-z0-9._-]*$")
GITIGNORE = "dist/\ntarget/\n"
# Files every template gets (a folder without template.toml, so not a template itself).
SHARED = "_shared"
SCHEMA_FILE = ".wasmforge/wasmforge.schema.json"


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    path: Path
    style: str = "command"  # command, reactor, component, http or web: how it is run and shipped
    language: str = ""
    source: str = ""  # the file a user edits first


def list_templates() -> list[Template]:
    found = []
    for folder in sorted(templates_dir().iterdir()):
        meta = folder / "template.toml"
        if meta.is_file():
            data = tomllib.loads(meta.read_text(encoding="utf-8"))
            found.append(Template(folder.name, str(data.get("description", "")), folder,
                                  style=str(data.get("style", "command")),
                                  language=str(data.get("language", "")),
                                  source=str(data.get("source", ""))))
    return found


def find_template(name: str) -> Template:
    templates = list_templates()
    for template in templates:
        if template.name == name:
            return template
    known = ", ".join(t.name for t in templates)
    msg = f"unknown template {name!r} (templates: {known})"
    raise UserError(msg, hint="wasmforge new --list shows them with descriptions")


def create_project(template: Template, destination: Path, name: str | None = None) -> list[Path]:
    """Render ``template`` into ``destination`` (which must not exist or be empty)."""
    project_name = name or destination.resolve().name.lower()
    if not PROJECT_NAME.match(project_name):
        msg = (f"{project_name!r} is not a valid project name "
               "(lower-case letters, digits, '.', '_' and '-', starting with a letter)")
        raise UserError(msg, hint="pass --name NAME")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        msg = f"{destination}: already exists and is not empty; not writing into it"
        raise UserError(msg)

    import jinja2

    from wasmforge import __version__
    from wasmforge.config.schema import config_schema_text

    shared = template.path.parent / SHARED
    environment = jinja2.Environment(
        # The template's own files first: a file of the same name replaces the shared one.
        loader=jinja2.FileSystemLoader([template.path, shared]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # renders source code, TOML, YAML and Markdown, not HTML
    )
    variables = {
        "name": project_name,
        "crate_name": project_name.replace("-", "_").replace(".", "_"),
        "greeting": f"Hello from {project_name}!",
        "template": template.name,
        "description": template.description,
        "style": template.style,
        "language": template.language,
        "source": template.source,
        "wasmforge_version": __version__,
        "schema_file": SCHEMA_FILE,
    }
    written: list[Path] = []
    # An existing (empty) directory is filled in place, so a shell standing in it stays valid;
    # a new one is created whole. Either way the files are rendered into a staging dir first.
    with _staging(destination) as staging:
        for relative, source in _template_files(template.path, shared).items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.suffix == ".j2":
                target = target.with_suffix("")
                text = environment.get_template(relative.as_posix()).render(variables)
                target.write_text(text, encoding="utf-8")
            else:
                shutil.copyfile(source, target)
            written.append(destination / target.relative_to(staging))
        (staging / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
        written.append(destination / ".gitignore")
        schema = staging / SCHEMA_FILE
        schema.parent.mkdir(parents=True, exist_ok=True)
        schema.write_text(config_schema_text(), encoding="utf-8")
        written.append(destination / SCHEMA_FILE)
    return written


def _template_files(folder: Path, shared: Path) -> dict[Path, Path]:
    """Each file to render, by its path in the template: the shared files, then the template's own
    (which replace shared ones of the same path)."""
    files: dict[Path, Path] = {}
    for root in (shared, folder):
        if not root.is_dir():
            continue
        for source in sorted(root.rglob("*")):
            relative = source.relative_to(root)
            if source.is_file() and relative.name != "template.toml":
                files[relative] = source
    return dict(sorted(files.items()))


@contextmanager
def _staging(destination: Path) -> Iterator[Path]:
    if not destination.exists():
        with atomic_dir(destination) as staging:
            yield staging
        return
    target = destination.resolve()
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield staging
        for entry in sorted(staging.iterdir()):
            entry.rename(target / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
