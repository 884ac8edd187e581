"""Math on offline pages: is LaTeX in markdown turned into MathML a browser renders, and can a
student's formula inject markup?"""

from __future__ import annotations

import re

import nbformat
import pytest

from autograder.mathml import latex_to_mathml, markdown_to_html
from tests.notebooks.harness import solution_path
from autograder.release import assignments


def test_display_and_inline_math_become_mathml() -> None:
    """Do ``$$...$$`` and ``$...$`` become block and inline MathML, with no raw LaTeX left?"""
    page = markdown_to_html(r"Descent: $$\theta^{new} = \theta^{old} - \alpha \nabla_{\theta} J(\theta)$$"
                            "\n\nwith step $\\alpha_1$ and $x_i^2$.")
    assert page.count("<math ") == 3
    assert 'display="block"' in page and 'display="inline"' in page
    assert "$" not in page and "\\theta" not in page
    assert "<mi>&#952;</mi>" in page or "<mi>θ</mi>" in page
    assert "<em>" not in page  # the underscores of subscripts are not markdown emphasis


def test_bracket_delimiters_and_code_are_respected() -> None:
    """Are ``\\(...\\)``/``\\[...\\]`` math, while dollars in code and prices are left alone?"""
    page = markdown_to_html("\\(a+b\\) and \\[c^2\\]; `cost = $x$` costs $5 and $10.\n\n"
                            "```\nprint('$y$')\n```")
    assert page.count("<math ") == 2
    assert "<code>cost = $x$</code>" in page and "$y$" in page
    assert "$5 and $10" in page


@pytest.mark.parametrize("latex", [r"\text{<script>alert(1)</script>}",
                                   r"\text{<img src=x onerror=alert(1)>} x < y",
                                   r"\href{javascript:alert(1)}{x}"])
def test_hostile_formula_cannot_inject_markup(latex: str) -> None:
    """Does a formula whose MathML would carry markup or links come out as escaped text?"""
    html = markdown_to_html(f"answer: ${latex}$ and $${latex}$$")
    assert "<script" not in html and "<img" not in html
    assert not re.search(r"<[^>]*\bhref=", html)
    assert not re.search(r"<[^>]*\bon\w+=", html)


def test_markup_outside_math_is_escaped() -> None:
    """Is raw HTML in a student's markdown shown as text?"""
    page = markdown_to_html("<b>bold</b> <script>x()</script> $y$")
    assert "<script>" not in page and "&lt;script&gt;" in page and "<math " in page


def test_unconvertible_formula_falls_back_to_its_source() -> None:
    """Does a formula the converter rejects show as escaped LaTeX, not vanish?"""
    out = latex_to_mathml(r"\frac{a}{", display=False)
    assert out.startswith('<code class="latex">') and "\\frac{a}{" in out


def test_every_formula_of_the_course_converts() -> None:
    """Does every formula in the five notebooks convert to MathML (no source fallback)?"""
    for assignment in assignments():
        nb = nbformat.read(solution_path(assignment), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                page = markdown_to_html(cell.source)
                assert 'class="latex"' not in page, (assignment, cell.source[:200])
                assert "$$" not in page, (assignment, cell.source[:200])
