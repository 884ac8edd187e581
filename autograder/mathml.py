"""Markdown with LaTeX math as HTML with MathML, for pages read offline (feedback).

Math (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``; not inside code) is converted by
``latex2mathml`` and the rest rendered by mistune with raw HTML escaped. MathML needs no script
or network: browsers render it natively. The converter passes ``\\text{...}`` and ``\\href``
through unescaped, so its output is parsed and rebuilt from an allow-list of MathML elements and
attributes; a formula that does not convert, or whose MathML falls outside the list, is shown as
its escaped LaTeX source.
"""

from __future__ import annotations

import functools
import html
import re
import secrets
import xml.etree.ElementTree as ElementTree

_MATH = re.compile(
    r"(?P<code>```.*?```|`[^`\n]*`)"
    r"|\$\$(?P<display>.+?)\$\$|\\\[(?P<bracket>.+?)\\\]"
    r"|(?<![\\$])\$(?!\s)(?P<inline>[^$\n]+?)(?<![\s\\])\$(?!\d)|\\\((?P<paren>.+?)\\\)",
    re.S)
_NAMESPACE = "{http://www.w3.org/1998/Math/MathML}"
_ELEMENTS = frozenset(
    "math semantics annotation mrow mi mn mo ms mtext mspace mstyle mpadded mphantom menclose "
    "merror msub msup msubsup munder mover munderover mmultiscripts mprescripts none mfrac msqrt "
    "mroot mtable mtr mtd mlabeledtr mfenced".split())
_ATTRIBUTES = frozenset(
    "display mathvariant stretchy fence separator lspace rspace accent accentunder movablelimits "
    "largeop symmetric form minsize maxsize width height depth linethickness displaystyle "
    "scriptlevel columnalign rowalign columnspacing rowspacing columnlines rowlines frame notation "
    "open close separators columnspan rowspan align encoding voffset".split())
_MAX_FORMULA_CHARS = 2000


class _Rejected(ValueError):
    """MathML outside the allow-list."""


def _element(node: ElementTree.Element) -> str:
    tag = node.tag.removeprefix(_NAMESPACE)
    if tag not in _ELEMENTS:
        raise _Rejected(tag)
    attributes = []
    for name, value in node.attrib.items():
        if name not in _ATTRIBUTES:
            raise _Rejected(name)
        attributes.append(f' {name}="{html.escape(value, quote=True)}"')
    if tag == "math":
        attributes.insert(0, ' xmlns="http://www.w3.org/1998/Math/MathML"')
    inner = html.escape(node.text or "", quote=False)
    inner += "".join(_element(child) + html.escape(child.tail or "", quote=False) for child in node)
    return f"<{tag}{''.join(attributes)}>{inner}</{tag}>"


@functools.lru_cache(maxsize=4096)   # a course's formulas repeat on every student's page
def latex_to_mathml(latex: str, *, display: bool = False) -> str:
    """``latex`` as safe MathML (``display`` for a block formula), or its escaped source in a
    ``<code>`` element when it cannot be converted."""
    fallback = f'<code class="latex">{html.escape(latex)}</code>'
    if len(latex) > _MAX_FORMULA_CHARS:
        return fallback
    try:
        from latex2mathml.converter import convert

        mathml = convert(latex, display="block" if display else "inline")
        return _element(ElementTree.fromstring(mathml))
    except Exception:  # noqa: BLE001 - ImportError, the converter's errors, bad XML, _Rejected
        return fallback


def _replace_math(source: str) -> tuple[str, dict[str, str]]:
    """``source`` with each formula replaced by a placeholder, and the MathML of each."""
    nonce = secrets.token_hex(6)
    rendered: dict[str, str] = {}

    def substitute(match: re.Match) -> str:
        if match.group("code"):
            return match.group(0)
        display = match.group("display") is not None or match.group("bracket") is not None
        latex = next(g for g in (match.group("display"), match.group("bracket"),
                                 match.group("inline"), match.group("paren")) if g is not None)
        key = f"mathml{nonce}x{len(rendered)}x"
        rendered[key] = latex_to_mathml(latex.strip(), display=display)
        return key

    return _MATH.sub(substitute, source), rendered


def markdown_to_html(source: str) -> str:
    """A markdown cell as HTML: raw HTML escaped, math as MathML."""
    text, rendered = _replace_math(source)
    render = _markdown_renderer()
    page = render(text) if render else f"<pre>{html.escape(text)}</pre>"
    for key, mathml in rendered.items():
        page = page.replace(key, mathml)
    return page


@functools.cache
def _markdown_renderer():
    """mistune's renderer (raw HTML escaped), built once; None without mistune."""
    try:
        import mistune
    except ImportError:  # pragma: no cover - mistune comes with nbconvert
        return None
    return mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])
