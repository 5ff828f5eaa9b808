"""How a derivation shows itself in Jupyter: its write-up as Markdown, LaTeX or the interactive page."""

from __future__ import annotations


class NotebookDisplay:
    """Mixin for derivations: ``_document()`` builds the write-up; Jupyter picks the richest of the three reprs."""

    def _document(self):  # pragma: no cover - each derivation says which document it is
        raise NotImplementedError

    def _repr_markdown_(self) -> str:
        from convprop.explain.render import render

        return render(self._document(), "md")

    def _repr_html_(self) -> str:
        from convprop.explain.render import notebook_html

        return notebook_html(self._document())

    def _repr_latex_(self) -> str:
        from convprop.explain.render import notebook_latex

        return notebook_latex(self._document())
